"""A self-contained HTML report of a backtest: equity, drawdown and trades on the price.

One file, no scripts, no network: inline SVG charts per strategy and for the portfolio, and
the metrics table. Long series are reduced to per-pixel min/max so the shape stays true.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from adapters.reports.figures import format_figure, risk_figure

WIDTH, HEIGHT, PAD = 1100, 240, 84
Floats = npt.NDArray[np.float64]


def render_backtest_html(
    report: dict[str, Any],
    *,
    first_time: datetime,
    closes: Floats,
    equity: dict[str, Floats],
    title: str,
) -> str:
    """Return the report as one HTML document (UTF-8 text)."""
    sections = []
    names = [*report["strategies"], "portfolio"]
    for name in names:
        data = report["strategies"].get(name, report["portfolio"])
        trades = data.get("trades", [])
        curve = equity[name]
        peak = np.maximum.accumulate(curve)
        drawdown = curve / peak - 1
        sections.append(
            f"<section><h2>{html.escape(name)}</h2>"
            + _metrics_table(data)
            + "<h3>Price and trades</h3>"
            + _line_chart(closes, first_time, trades, "#555")
            + "<h3>Equity (KRW)</h3>"
            + _line_chart(curve, first_time, [], "#1f6feb")
            + "<h3>Drawdown</h3>"
            + _line_chart(drawdown, first_time, [], "#cf222e", area=True)
            + "</section>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{report['candles']:,} candles from "
        f"{first_time:%Y-%m-%d %H:%M} UTC. Replay hash <code>{report['replay_hash']}</code>.</p>"
        + _risk_section(report["risk"])
        + "".join(sections)
        + "</body></html>"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328}"
    "section{margin-bottom:40px}table{border-collapse:collapse}td{padding:2px 12px 2px 0}"
    "td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}"
    "svg{background:#fafbfc;border:1px solid #d0d7de}code{font-size:90%}"
)


def _risk_section(risk: dict[str, Any]) -> str:
    limits = {name: value for name, value in risk["limits"].items() if value is not None}
    if not limits:
        return "<section><h2>Risk</h2><p>No risk limits.</p></section>"
    given = ", ".join(
        f"{html.escape(k)} {html.escape(risk_figure(k, v))}" for k, v in limits.items()
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(cell)}</td>"
            for cell in (
                f"{fired['candle_open_utc'][:16].replace('T', ' ')} UTC",
                f"{fired['candle_open_kst'][:16].replace('T', ' ')} KST",
                fired["limit"] + (f" ({fired['strategy_id']})" if fired["strategy_id"] else ""),
                risk_figure(fired["limit"], fired["measured"]),
                risk_figure(fired["limit"], fired["threshold"]),
                fired["action"],
            )
        )
        + "</tr>"
        for fired in risk["fired"]
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("candle", "KST", "limit", "measured", "threshold", "action")
    )
    fired = f"<table><tr>{head}</tr>{rows}</table>" if rows else "<p>No limit fired.</p>"
    state = html.escape(f"{risk['final_state']} ({risk['final_state_reason']})")
    resume = f"<p>{html.escape(risk['resume'])}</p>" if risk["resume"] else ""
    return (
        f"<section><h2>Risk</h2><p>Limits: {given}.</p><h3>When each limit fired</h3>{fired}"
        f"<p>Trading state at the end: {state}.</p>{resume}</section>"
    )


def _metrics_table(data: dict[str, Any]) -> str:
    keys = ("fills", "round_trips", "final_equity", "fees_krw", "denials")
    rows = {k: data[k] for k in keys if k in data}
    rows.update(data.get("metrics", {}))
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(format_figure(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def _axis(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _line_chart(
    values: Floats,
    first_time: datetime,
    trades: list[dict[str, Any]],
    colour: str,
    *,
    area: bool = False,
) -> str:
    n = len(values)
    if n == 0:
        return "<p>no data</p>"
    columns = min(n, WIDTH - 2 * PAD)
    edges = np.linspace(0, n, columns + 1).astype(int)
    lows = np.array(
        [values[a : max(b, a + 1)].min() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )
    highs = np.array(
        [values[a : max(b, a + 1)].max() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )
    vmin, vmax = float(lows.min()), float(highs.max())
    span = vmax - vmin or 1.0

    def y(v: float) -> float:
        return HEIGHT - PAD / 2 - (v - vmin) / span * (HEIGHT - PAD)

    def x(index: float) -> float:
        return PAD + index / max(n - 1, 1) * (WIDTH - 2 * PAD)

    points = []
    for k in range(columns):
        xk = PAD + k * (WIDTH - 2 * PAD) / max(columns - 1, 1)
        points.append(f"{xk:.1f},{y(float(highs[k])):.1f}")
        points.append(f"{xk:.1f},{y(float(lows[k])):.1f}")
    shape = (
        f"<polyline fill='none' stroke='{colour}' stroke-width='1' points='{' '.join(points)}'/>"
    )
    if area:
        base = f"{PAD},{y(0.0):.1f} " + " ".join(points) + f" {WIDTH - PAD},{y(0.0):.1f}"
        shape = (
            f"<polygon fill='{colour}' fill-opacity='0.25' stroke='none' points='{base}'/>" + shape
        )
    marks = []
    for trade in trades:
        at = datetime.fromisoformat(trade["time"])
        index = (at - first_time) / timedelta(minutes=1) - 1
        px, py = x(index), y(float(trade["price"]))
        is_buy = trade["side"] == "bid"
        tip = f"{trade['side']} {trade['qty_btc']} BTC at {trade['price']} KRW, {trade['time']}"
        dy = 7 if is_buy else -7
        marks.append(
            f"<polygon fill='{'#1a7f37' if is_buy else '#cf222e'}' points='{px:.1f},{py:.1f} "
            f"{px - 4:.1f},{py + dy:.1f} {px + 4:.1f},{py + dy:.1f}'><title>{html.escape(tip)}"
            "</title></polygon>"
        )
    last = first_time + timedelta(minutes=n)
    labels = (
        f"<text x='{PAD}' y='{HEIGHT - 4}' font-size='11'>{first_time:%Y-%m-%d}</text>"
        f"<text x='{WIDTH - PAD}' y='{HEIGHT - 4}' font-size='11' text-anchor='end'>"
        f"{last:%Y-%m-%d}</text>"
        f"<text x='4' y='{y(vmax) + 4:.1f}' font-size='11'>{_axis(vmax)}</text>"
        f"<text x='4' y='{y(vmin):.1f}' font-size='11'>{_axis(vmin)}</text>"
    )
    return (
        f"<svg width='{WIDTH}' height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}' "
        f"role='img'>{shape}{''.join(marks)}{labels}</svg>"
    )
