"""Reconciliation of a trading run with its exchange: what the exchange says against the log.

At a run's start and after every reconnect (architecture.md; issue 7): the exchange's open
orders, its view of every order the log holds as NEW, OPEN or PARTIAL (its trades are the
recent fills) and the balances are fetched and compared with the log; each difference is
recorded (`commands.handlers.reconciliations`). The classification:

- an order the log holds NEW that the exchange has: the answer was lost; explained (the run
  takes the acknowledgement when it next looks the order up);
- trades, or an end (done, cancel), the log lacks for an order it holds working: explained
  (the run records them at its next candle); a trade the log holds with other figures, or one
  the exchange does not list: unexplained;
- an order the log holds OPEN or PARTIAL that the exchange does not have: unexplained;
- an order working at the exchange that the log does not know as the run's, or holds as
  ended: unexplained (unless an operator acknowledged that same difference before);
- balances: see `domain.reconciliation.balances`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from commands.errors import ExchangeUnavailableError
from commands.handlers import reconciliations
from commands.messages import RecordReconciliation
from commands.ports import ExchangeBalance, ExchangeGateway, ExchangeOrder, ExchangeOrderState
from commands.trading import Trading
from domain.events import Cause
from domain.market import parse_market
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide
from domain.reconciliation.balances import BookFigures
from domain.reconciliation.difference import Difference, DifferenceKind
from domain.reconciliation.reconciliation import Reconciliation

ZERO = Decimal(0)
SNAPSHOT_ATTEMPTS = 3
"""Orders are read before and after the balances; they must agree, or all is read again."""


@dataclass(frozen=True)
class ExchangeSnapshot:
    """What the exchange said: its open orders, its view of the log's working orders, balances."""

    open_orders: dict[UUID, ExchangeOrder]
    found: dict[UUID, ExchangeOrder | None]
    balances: dict[str, ExchangeBalance]

    def fingerprint(self) -> object:
        """Return what must not change while the balances are read (states and trade ids)."""
        orders = {**self.found, **self.open_orders}
        return {
            i: None if o is None else (o.state, tuple(t.trade_id for t in o.trades))
            for i, o in orders.items()
        }


class Reconciler:
    """Compares one run's exchange with the log and records the reconciliation."""

    def __init__(self, log: Trading, gateway: ExchangeGateway) -> None:
        self.log = log
        self.gateway = gateway

    def reconcile(self, run_id: str, trigger: str, cause: Cause) -> Reconciliation:
        """Fetch, compare and record one reconciliation of the run; return it.

        Raises:
            UnknownRunError: no trading run has this id.
            ReconciliationNotApplicableError: a paper run.
            ExchangeUnavailableError: the exchange could not be asked (retry later).
        """
        opened = reconciliations.require_exchange_run(self.log, run_id)
        base_currency = parse_market(opened.market, self.log.markets).base
        working = {o.order_id: o for o in reconciliations.working_orders_of_run(self.log, opened)}
        snapshot = self._snapshot(opened.market, list(working))
        differences, unrecorded = classify(self.log, working, snapshot)
        accepted = reconciliations.accepted_differences(self.log, run_id)
        differences = [
            d.accepted(accepted[(d.kind.value, d.order_id)])
            if not d.is_explained and (d.kind.value, d.order_id) in accepted
            else d
            for d in differences
        ]
        krw = snapshot.balances.get("KRW")
        base = snapshot.balances.get(base_currency)
        return reconciliations.record_reconciliation(
            self.log,
            RecordReconciliation(
                run_id=run_id,
                trigger=trigger,
                differences=tuple(differences),
                krw=(krw.free, krw.locked) if krw else (ZERO, ZERO),
                base=(base.free, base.locked) if base else (ZERO, ZERO),
                unrecorded=unrecorded,
                cause=cause,
            ),
        )

    def _snapshot(self, market: str, working: Sequence[UUID]) -> ExchangeSnapshot:
        # A trade between reading the orders and reading the balances would show in one and not
        # the other: the orders are read again after the balances and must not have changed.
        before = self._orders(market, working)
        for _ in range(SNAPSHOT_ATTEMPTS):
            balances = {b.currency: b for b in self.gateway.balances()}
            after = self._orders(market, working)
            taken = ExchangeSnapshot(after[0], after[1], balances)
            if ExchangeSnapshot(before[0], before[1], balances).fingerprint() == (
                taken.fingerprint()
            ):
                return taken
            before = after
        raise ExchangeUnavailableError(
            f"the exchange's orders kept changing while its balances were read "
            f"({SNAPSHOT_ATTEMPTS} times); reconcile again when the market is calmer"
        )

    def _orders(
        self, market: str, working: Sequence[UUID]
    ) -> tuple[dict[UUID, ExchangeOrder], dict[UUID, ExchangeOrder | None]]:
        open_orders = {o.order_id: o for o in self.gateway.open_orders(market)}
        found = {i: open_orders.get(i) or self.gateway.find(i) for i in working}
        return open_orders, found


def classify(
    log: Trading, working: dict[UUID, Order], snapshot: ExchangeSnapshot
) -> tuple[list[Difference], BookFigures]:
    """Return the orders' differences and what the explained unrecorded trades change."""
    differences: list[Difference] = []
    krw = base = ZERO
    for order_id, order in working.items():
        found = snapshot.found.get(order_id)
        found_differences, trades_krw, trades_base = _order_differences(order, found)
        differences += found_differences
        krw += trades_krw
        base += trades_base
    for order_id, at_exchange in snapshot.open_orders.items():
        if order_id in working:
            continue
        known = log.find(order_id, Order)
        says = f"{at_exchange.state.value} with {len(at_exchange.trades)} trade(s)"
        if known is not None and known.status.is_terminal:
            differences.append(
                Difference.of(
                    DifferenceKind.ENDED_ORDER_OPEN,
                    order_id=str(order_id),
                    exchange_says=f"working ({says})",
                    log_says=f"{known.status.value} ({known.close_reason or 'filled'})",
                    explanation="the exchange works an order the log holds as ended",
                )
            )
        else:
            log_says = (
                "not an order of the log"
                if known is None
                else f"{known.status.value}, an order of strategy {known.strategy_id} that "
                "is not the run's (or placed before it opened)"
            )
            differences.append(
                Difference.of(
                    DifferenceKind.UNKNOWN_OPEN_ORDER,
                    order_id=str(order_id),
                    exchange_says=f"working ({says}), exchange id {at_exchange.exchange_order_id}",
                    log_says=log_says,
                    explanation="an order the run did not place works at the exchange",
                )
            )
    return differences, BookFigures(krw, base)


def _order_differences(
    order: Order, found: ExchangeOrder | None
) -> tuple[list[Difference], Decimal, Decimal]:
    oid = str(order.order_id)
    if found is None:
        if order.status is OrderStatus.NEW:
            return [], ZERO, ZERO  # never received: the run looks it up before sending it
        return (
            [
                Difference.of(
                    DifferenceKind.ORDER_MISSING_AT_EXCHANGE,
                    order_id=oid,
                    exchange_says="no order with this identifier",
                    log_says=f"{order.status.value} as exchange order {order.exchange_order_id}",
                    explanation="the exchange does not have an order the log holds as resting",
                )
            ],
            ZERO,
            ZERO,
        )
    differences = []
    if order.status is OrderStatus.NEW:
        differences.append(
            Difference.of(
                DifferenceKind.ACKNOWLEDGEMENT_MISSING,
                order_id=oid,
                exchange_says=f"{found.state.value} as exchange order {found.exchange_order_id}",
                log_says="NEW (no acknowledgement recorded)",
                explanation="the exchange's answer was lost; the run takes the acknowledgement "
                "when it next looks the order up",
            )
        )
    exchange_trades = {t.trade_id: t for t in found.trades}
    missing = [t for t in found.trades if order.fill_of(t.trade_id) is None]
    for trade_id in order.fills:
        recorded = order.fill_of(trade_id)
        trade = exchange_trades.get(trade_id)
        assert recorded is not None
        if trade is None or (trade.price_krw, trade.qty_btc, trade.fee_krw) != (
            recorded.price_krw,
            recorded.qty_btc,
            recorded.fee_krw,
        ):
            differences.append(
                Difference.of(
                    DifferenceKind.FILL_MISMATCH,
                    order_id=oid,
                    exchange_says="no such trade"
                    if trade is None
                    else f"trade {trade_id}: {trade.qty_btc} BTC at {trade.price_krw} KRW, "
                    f"fee {trade.fee_krw}",
                    log_says=f"trade {trade_id}: {recorded.qty_btc} BTC at "
                    f"{recorded.price_krw} KRW, fee {recorded.fee_krw}",
                    explanation="a fill the log recorded is not the exchange's",
                )
            )
    krw = base = ZERO
    if missing:
        qty = sum((t.qty_btc for t in missing), ZERO)
        for t in missing:
            funds = t.qty_btc * t.price_krw
            if order.side is OrderSide.BID:
                krw -= funds + t.fee_krw
                base += t.qty_btc
            else:
                krw += funds - t.fee_krw
                base -= t.qty_btc
        differences.append(
            Difference.of(
                DifferenceKind.FILLS_MISSING,
                order_id=oid,
                exchange_says=f"{len(found.trades)} trade(s); not recorded: "
                + ", ".join(t.trade_id for t in missing)
                + f" ({qty} BTC)",
                log_says=f"{order.status.value} with {len(order.fills)} fill(s)",
                explanation="the run records the exchange's trades at its next candle",
            )
        )
    if found.state is not ExchangeOrderState.WAIT:
        differences.append(
            Difference.of(
                DifferenceKind.END_MISSING,
                order_id=oid,
                exchange_says=f"ended ({found.state.value})",
                log_says=f"{order.status.value} (working)",
                explanation="the run records the end at its next candle",
            )
        )
    return differences, krw, base
