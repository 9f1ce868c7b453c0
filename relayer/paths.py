"""Where stbridge keeps its local state: $STBRIDGE_HOME, else ./.stbridge.

The devnet record and chain logs, deployment records, DvP trade files and the default
SQLite store all live under this directory. This is the one place that owns the rule:
the devnet manager in ``chains`` takes the directory as a parameter, which the command
line passes from here.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """Where the devnet record and logs live: $STBRIDGE_HOME or ./.stbridge."""
    return Path(os.environ.get("STBRIDGE_HOME", ".stbridge"))
