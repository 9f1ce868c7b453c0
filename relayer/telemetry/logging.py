"""Structured logging with structlog: readable on a terminal, JSON otherwise.

A last processor redacts any registered secret (the config's keys) from every
value, so even a careless log call cannot print a key.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["auto", "console", "json"]
_SECRETS: set[str] = set()
REDACTED = "[redacted]"


def register_secrets(secrets: Iterable[bytes]) -> None:
    """Remember key material that must never reach a log line."""
    for secret in secrets:
        hexed = secret.hex()
        _SECRETS.add(hexed)
        _SECRETS.add(hexed.upper())


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _SECRETS:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, bytes | bytearray):
        return REDACTED if value.hex() in _SECRETS else value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace registered secrets by a marker."""
    if not _SECRETS:
        return event
    return {k: _scrub(v) for k, v in event.items()}


def configure_logging(
    fmt: LogFormat = "auto", level: str = "info", *, file: Path | None = None
) -> None:
    """Set up structlog (and the stdlib loggers of our libraries) once per process.

    With ``file``, log lines go there (appended) instead of stderr.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    stream: TextIO = sys.stderr
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", buffering=1, encoding="utf-8")
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else _noop,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream, force=True)
    for noisy in ("web3", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _noop(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """A structlog logger, optionally with bound context."""
    logger = structlog.get_logger(name)
    return logger.bind(**bound) if bound else logger
