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
        "final_equity": str(track.equity[-1] if track.equity else capital),
        "fees_krw": str(fees),
        "metrics": performance(
            equity=track.equity,
            times=engine.times,
            session_end_indexes=engine.session_end_indexes,
            position_qty=track.qty,
            fills=fills,
            trips=trips,
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
    tracks = list(engine.tracks.values())
    if not tracks:
        return {}
    equity = [sum(values, Decimal(0)) for values in zip(*(t.equity for t in tracks), strict=True)]
    qty = [sum(values, Decimal(0)) for values in zip(*(t.qty for t in tracks), strict=True)]
    fills = sorted((f for t in tracks for f in _fills(t)), key=lambda f: f.time)
    trips = [trip for t in tracks for trip in round_trips(_fills(t), capital)]
    return {
        "final_equity": str(equity[-1]) if equity else str(capital * len(tracks)),
        "metrics": performance(
            equity=equity,
            times=engine.times,
            session_end_indexes=engine.session_end_indexes,
            position_qty=qty,
            fills=fills,
            trips=trips,
        ),
    }
