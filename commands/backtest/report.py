"""The result of a backtest: per strategy and for the portfolio, every figure and trade.

With risk limits, also when each limit fired (read from the run's own `risk.limit.breached`
events), the trading state changes, the state at the end and the orders risk denied.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from commands.run_engine.engine import RunEngine, StrategyTrack
from domain.clock import to_kst
from domain.metrics.performance import performance
from domain.metrics.round_trips import TradeFill, round_trips
from domain.risk.limits import RiskLimits
from domain.risk.trading_state import TradingState

RESUME_NOTE = (
    "a backtest never resumes trading: resuming needs an operator, with an actor and a reason "
    "(`ledger risk resume --reason ...`)"
)
STATE_CHANGES = (RiskLimits.TradingHalted, RiskLimits.TradingReduced, RiskLimits.TradingResumed)
STATE_TOPICS = [
    RiskLimits.LimitBreached.TOPIC,
    RiskLimits.TradingHalted.TOPIC,
    RiskLimits.TradingReduced.TOPIC,
    RiskLimits.TradingResumed.TOPIC,
]


def backtest_report(engine: RunEngine) -> dict[str, Any]:
    """Return the report of a finished run, in the shape `ledger backtest --json` writes."""
    capital = engine.config.capital_krw
    strategies = {name: _strategy(engine, track, capital) for name, track in engine.tracks.items()}
    return {
        "candles": engine.candles,
        "replay_hash": engine.replay_hash(),
        "strategies": strategies,
        "portfolio": _portfolio(engine, capital),
        "risk": _risk(engine),
    }


def _risk(engine: RunEngine) -> dict[str, Any]:
    fired: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for _, event in engine.trading.read_events(STATE_TOPICS):
        if isinstance(event, RiskLimits.LimitBreached):
            fired.append(
                {
                    "candle_open_utc": event.candle_open_time.isoformat(),
                    "candle_open_kst": to_kst(event.candle_open_time).isoformat(),
                    "limit": event.limit,
                    "strategy_id": event.strategy_id or None,
                    "measured": str(event.measured),
                    "threshold": str(event.threshold),
                    "action": event.action,
                }
            )
        else:
            assert isinstance(event, STATE_CHANGES)
            changes.append(
                {
                    "at_utc": event.occurred_at.isoformat(),
                    "at_kst": event.occurred_at_kst.isoformat(),
                    "from_state": event.from_state,
                    "to_state": event.to_state.value,
                    "reason": event.reason,
                }
            )
    risk = engine.trading.get_risk_limits()
    state = risk.state if risk is not None else TradingState.ACTIVE
    limits = engine.config.limits.as_fields()
    return {
        "limits": {name: None if value is None else str(value) for name, value in limits.items()},
        "fired": fired,
        "state_changes": changes,
        "final_state": state.value,
        "final_state_reason": risk.state_reason if risk is not None else None,
        "resume": None if state is TradingState.ACTIVE else RESUME_NOTE,
    }


def _fills(track: StrategyTrack) -> list[TradeFill]:
    return [TradeFill(f.time, f.side, f.price_krw, f.qty_btc, f.fee_krw) for f in track.fills]


def _strategy(engine: RunEngine, track: StrategyTrack, capital: Decimal) -> dict[str, Any]:
    fills = _fills(track)
    trips = round_trips(fills, capital)
    fees = sum((f.fee_krw for f in fills), Decimal(0))
    return {
        "fills": len(fills),
        "round_trips": len(trips),
        "final_cash": str(track.book.cash_krw),
        "final_qty_btc": str(track.book.qty_btc),
        "final_equity": str(engine.final_equity(track.strategy.name)),
        "fees_krw": str(fees),
        "denials": sum(track.denials.values()),
        "denials_by_code": dict(sorted(track.denials.items())),
        "metrics": _metrics(
            engine,
            engine.equity_curve(track.strategy.name),
            engine.position_curve(track.strategy.name),
            capital,
            engine.final_equity(track.strategy.name),
            fills,
            trips,
        ),
        "trades": [
            {
                "time": f.time.isoformat(),
                "side": f.side,
                "price": str(f.price_krw),
                "qty_btc": str(f.qty_btc),
                "fee_krw": str(f.fee_krw),
                "order_id": str(f.order_id),
            }
            for f in track.fills
        ],
    }


def _portfolio(engine: RunEngine, capital: Decimal) -> dict[str, Any]:
    names = list(engine.tracks)
    if not names:
        return {}
    equity = sum(engine.equity_curve(n) for n in names)
    qty = sum(engine.position_curve(n) for n in names)
    final = sum((engine.final_equity(n) for n in names), Decimal(0))
    tracks = list(engine.tracks.values())
    fills = sorted((f for t in tracks for f in _fills(t)), key=lambda f: f.time)
    trips = [trip for t in tracks for trip in round_trips(_fills(t), capital)]
    return {
        "final_equity": str(final),
        "denials": sum(sum(t.denials.values()) for t in tracks),
        "metrics": _metrics(engine, equity, qty, capital * len(names), final, fills, trips),
    }


def _metrics(
    engine: RunEngine,
    equity: Any,
    qty: Any,
    start: Decimal,
    end: Decimal,
    fills: list[TradeFill],
    trips: list[Any],
) -> dict[str, Any]:
    if engine.first_time is None or engine.last_time is None:
        return {}
    return performance(
        equity=equity,
        start_equity=start,
        end_equity=end,
        first_time=engine.first_time,
        last_time=engine.last_time,
        session_end_indexes=engine.session_end_indexes,
        position_qty=qty,
        fills=fills,
        trips=trips,
    )
