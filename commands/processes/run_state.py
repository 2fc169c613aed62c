"""A trading run's state between two candles, as bytes: what a restart resumes from.

The run's strategies are folds over the candles and over their own orders' fills, so what they
know cannot be read back from the candles alone: after each candle the loop writes this state
with the candle's events, in one transaction (`commands/run_progress.py`), and a restarted run
takes it up instead of re-walking its candles. It holds the engine's strategies, books and
working orders, the risk monitor's watch, the market's session bars, the candle feed's place
in the log and the last outside risk change applied. Not in it: what the log itself holds
(aggregates are read from the log), and the exchange's view of the orders (asked again).

The encoding is pickle of our own plain objects, tagged with `RUN_STATE_VERSION`: a state
written by code with another version is refused by name, not misread.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from commands.errors import RunStateVersionError
from commands.processes.candle_feed import EPOCH, ONE_MINUTE, LogCandleFeed
from commands.risk.outside_changes import OutsideRiskChanges
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import StrategyTrack
from domain.candles.candle import Candle
from domain.market_point import MarketPointBuilder

RUN_STATE_VERSION = 1
"""Changed whenever what the state holds changes; a state of another version is refused."""

_ENGINE_FIELDS = (
    "pending",
    "candles",
    "first_time",
    "last_candle",
    "index",
    "strategy_wake",
)
_RISK_FIELDS = ("limits", "is_watching", "watch", "state", "marked_index")
_FEED_FIELDS = ("next_minute", "_available", "newest_close")


@dataclass
class RunParts:
    """The parts of a running run whose state is written after each candle."""

    engine: RunEngine
    points: MarketPointBuilder
    feed: LogCandleFeed
    risk_changes: OutsideRiskChanges
    candles: int
    last_candle: Candle | None


def encode(parts: RunParts) -> bytes:
    """Return the run's state as bytes."""
    engine = parts.engine.state
    tracks = {
        # The report history (every book change, every fill) is a backtest's: a live run
        # keeps the book as it stands.
        name: StrategyTrack(t.strategy, t.book, t.changes[-1:], [], dict(t.denials))
        for name, t in engine.tracks.items()
    }
    hour = EPOCH + (parts.feed.next_minute // 60) * 60 * ONE_MINUTE
    feed = {k: getattr(parts.feed, k) for k in _FEED_FIELDS}
    feed["_hours"] = {  # an hour before the one the run waits in is never read again
        hour_id: start for hour_id, start in parts.feed._hours.items() if start >= hour
    }
    feed["position"] = parts.feed.resume_position()  # the candles waiting are read again
    state: dict[str, Any] = {
        "version": RUN_STATE_VERSION,
        "engine": {k: getattr(engine, k) for k in _ENGINE_FIELDS},
        "tracks": tracks,
        "risk": {k: getattr(engine.risk, k) for k in _RISK_FIELDS},
        "points": parts.points,
        "feed": feed,
        "risk_changes": parts.risk_changes.position,
        "candles": parts.candles,
        "last_candle": parts.last_candle,
    }
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes, parts: RunParts, run_id: str) -> RunParts:
    """Put the state `data` into the run's parts (built afresh); return them."""
    state = pickle.loads(data)  # noqa: S301 - written by this code into the run's own log
    version = state.get("version") if isinstance(state, dict) else None
    if version != RUN_STATE_VERSION:
        raise RunStateVersionError(
            f"run {run_id!r}: its saved state is version {version!r}, this code reads version "
            f"{RUN_STATE_VERSION}; finish the run with the version that started it, or open a "
            "new run"
        )
    engine = parts.engine.state
    for key, value in state["engine"].items():
        setattr(engine, key, value)
    engine.tracks = state["tracks"]
    for key, value in state["risk"].items():
        setattr(engine.risk, key, value)
    for key, value in state["feed"].items():
        setattr(parts.feed, key, value)
    parts.feed._waiting = {}
    parts.risk_changes.position = state["risk_changes"]
    parts.points = state["points"]
    parts.candles = state["candles"]
    parts.last_candle = state["last_candle"]
    return parts
