"""The result of a backtest: per strategy and for the portfolio, every figure and trade."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from commands.backtest.engine import BacktestEngine, StrategyTrack
from domain.metrics.performance import performance
from domain.metrics.round_trips import TradeFill, round_trips


def backtest_report(engine: BacktestEngine) -> dict[str, Any]:
    """Return the report of a finished run, in the shape `ledger backtest --json` writes."""
    capital = engine.config.capital_krw
    strategies = {name: _strategy(engine, track, capital) for name, track in engine.tracks.items()}
    return {
        "candles": engine.candles,
        "replay_hash": engine.replay_hash(),
        "strategies": strategies,
        "portfolio": _portfolio(engine, capital),
    }


def _fills(track: StrategyTrack) -> list[TradeFill]:
    return [TradeFill(f.time, f.side, f.price_krw, f.qty_btc, f.fee_krw) for f in track.fills]


def _strategy(engine: BacktestEngine, track: StrategyTrack, capital: Decimal) -> dict[str, Any]:
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


def _portfolio(engine: BacktestEngine, capital: Decimal) -> dict[str, Any]:
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
        "metrics": _metrics(engine, equity, qty, capital * len(names), final, fills, trips),
    }


def _metrics(
    engine: BacktestEngine,
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
