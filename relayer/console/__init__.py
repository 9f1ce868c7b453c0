"""The console: a JSON API and web pages for operators and issuers, served by the relayer.

``objects`` turns store rows and chain reads into the JSON objects both the API and the
CLI's ``--json`` print; ``api`` reads them from the store and the chains; ``server``
serves the API, the OpenAPI document and the static pages (``static/``).
"""
