"""A trading run's progress: the last candle it processed, and its state after that candle.

Written in the same transaction as the candle's events (`Trading.save(..., run_progress=...)`),
so the log never holds a candle's events without the run knowing it processed that candle, nor
the other way round. `state` is the run's own encoding of what it needs to go on
(`commands/processes/run_state.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

RUN_PROGRESS_KWARG = "run_progress"
"""The keyword of `Trading.save` (and of the log recorder's `insert_events`) that carries it."""


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands: after the candle that became available at log `position`."""

    run_id: str
    position: int
    """The log position at which the run's last processed candle became available."""
    candles: int
    """How many candles the run has processed."""
    state: bytes
    """The run's state after that candle."""
