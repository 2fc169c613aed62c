"""A projection that fails on an event stops there, named; the events before it are kept;
after `retry` (the parked row cleared) and a fix, it resumes at that event."""

from __future__ import annotations

from typing import ClassVar

import pytest

from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionStoppedError, ProjectionWriter
from adapters.postgres.read_model_store import ReadModelStore
from commands.trading import Trading
from domain.events import LedgerEvent
from domain.orders.order import Order
from projections.orders_view import OrdersProjection
from projections.rows import RowOp
from tests.integration.nats.conftest import append_orders


class BrokenOrders(OrdersProjection):
    """The orders projection with a bug: it cannot handle one client order id."""

    broken_client_order_id: ClassVar[str] = "o-7"

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        if isinstance(event, Order.Placed) and event.client_order_id == self.broken_client_order_id:
            raise ValueError(f"cannot project {event.client_order_id}")
        return super().rows(event, position)


def test_a_failing_event_parks_the_projection_until_retried(
    ledger: Trading,
    pg_schema,  # type: ignore[no-untyped-def]
) -> None:
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    store = ReadModelStore(pg_schema.conninfo, pg_schema.schema)
    append_orders(ledger, 20)
    items = list(LogReader(ledger.recorder).items(0))
    broken = ProjectionWriter(
        store, BrokenOrders(), LogReader(ledger.recorder), ledger.mapper.to_domain_event
    )
    try:
        # When the batch holding the bad event is applied
        with pytest.raises(ProjectionStoppedError) as stopped:
            broken.apply_batch(items)
        # Then the projection stopped at that event, named, with its error
        failing = next(
            i for i in items if i.topic == "order.placed" and b'"client_order_id":"o-7"' in i.state
        )
        assert (stopped.value.position, stopped.value.bus_name) == (
            failing.position,
            "order.placed",
        )
        assert "cannot project o-7" in str(stopped.value)
        assert "ledger projections retry orders" in str(stopped.value)
        # And everything before it is applied, nothing after it
        assert broken.position() == failing.position - 1
        with store.connect() as connection:
            (placed,) = connection.execute("SELECT count(*) FROM rm_orders").fetchone()  # type: ignore[misc]
        assert placed == 7  # o-0 .. o-6
        # And it refuses to go on while parked, even past the bad event
        with pytest.raises(ProjectionStoppedError):
            broken.apply_batch([i for i in items if i.position > failing.position])
    finally:
        broken.close()

    # When an operator retries after the fix
    with store.connect() as connection:
        connection.execute("DELETE FROM projection_parked WHERE projection = 'orders'")
    fixed = ProjectionWriter(
        store, OrdersProjection(), LogReader(ledger.recorder), ledger.mapper.to_domain_event
    )
    try:
        fixed.apply_batch(items)
        with store.connect() as connection:
            (placed,) = connection.execute("SELECT count(*) FROM rm_orders").fetchone()  # type: ignore[misc]
        assert placed == 20 and fixed.position() == items[-1].position
    finally:
        fixed.close()
