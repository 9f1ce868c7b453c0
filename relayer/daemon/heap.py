"""The relayer's heap after start: what it built to run is kept out of later collections.

Python's full (oldest generation) collection walks every object that can hold a reference:
after start that is about 90,000 of the relayer's own (modules, ABIs, the config, the
contracts' codecs, its web and RPC clients) that stay for the process's life. Walking them
took 70-150 ms each time, every ~9 s at a steady 500 transfers/s on a busy machine (a pause
of the one event loop that also notices blocks and starts delivery rounds:
bench/relay_latency.py); frozen, a full collection takes a few milliseconds.
Frozen (``gc.freeze``) they are never walked again; a collection first clears what start
left over, so nothing is frozen that was already garbage.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then move every object that survived into the permanent generation (which
    collections skip); returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
