"""Receiving: partial receipts, the open quantity, tolerance, costs into stock, returns."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from addons.inventory import services as inventory
from addons.purchase import services
from core.errors import DomainError, ValidationError
from tests.fixtures import count_rows


def confirmed(w: Any, *lines: tuple[Any, str, str]) -> Any:
    """A confirmed order of (product, qty, unit cost) lines into MAIN."""
    order = services.create_order(
        {
            "account_id": str(w.vendor.id),
            "warehouse_id": str(w.main.id),
            "lines": [
                {"product_id": str(p.id), "quantity": q, "unit_cost": c}
                for p, q, c in lines or [(w.widget, "10", "2.00")]
            ],
        }
    )
    return services.confirm_order(order.id)


def take(order: Any, *qtys: str, note: str = "") -> Any:
    rows = [
        {"line_id": str(ln.id), "quantity": q}
        for ln, q in zip(order.lines, qtys, strict=False)
        if q
    ]
    return services.receive(order.id, {"lines": rows, "note": note})


def on_hand(w: Any, product: Any) -> Decimal:
    return sum((lv.on_hand for lv in inventory.stock_levels(product.id)), Decimal(0))


def test_partial_receipts_across_several_receipts(world):
    order = confirmed(world, (world.widget, "10", "2"), (world.gadget, "5", "7"))
    first = take(order, "4")
    assert first.number.startswith("GR-") and order.state == "partially_received"
    take(order, "3", "5")
    assert [ln.received_qty for ln in order.lines] == [Decimal(7), Decimal(5)]
    assert [ln.open_qty for ln in order.lines] == [Decimal(3), Decimal(0)]
    assert order.state == "partially_received"
    last = take(order, "3")
    assert order.state == "received"
    assert on_hand(world, world.widget) == 10 and on_hand(world, world.gadget) == 5
    receipts, total = services.list_receipts(order_id=order.id)
    assert total == 3 and {r.number for r in receipts} >= {first.number, last.number}


def test_receiving_more_than_open_is_refused_and_nothing_written(world, session):
    order = confirmed(world)
    take(order, "8")
    before = [
        count_rows(t)
        for t in ("purchase_receipt", "purchase_receipt_line", "inventory_stock_movement")
    ]
    with pytest.raises(ValidationError) as exc:
        take(order, "3")
    assert exc.value.details == {
        "lines.0.quantity": ["only 2 of Widget can still be received (2 open)"]
    }
    assert [
        count_rows(t)
        for t in ("purchase_receipt", "purchase_receipt_line", "inventory_stock_movement")
    ] == before
    session.refresh(order.lines[0])
    assert order.lines[0].received_qty == 8 and on_hand(world, world.widget) == 8


def test_the_same_line_twice_in_one_receipt_counts_together(world):
    order = confirmed(world)
    ln = str(order.lines[0].id)
    with pytest.raises(ValidationError, match="can still be received"):
        services.receive(
            order.id,
            {"lines": [{"line_id": ln, "quantity": "6"}, {"line_id": ln, "quantity": "6"}]},
        )


def test_a_configured_tolerance_allows_over_receipt_up_to_it(world):
    services.update_settings({"receipt_tolerance_pct": "10"})
    order = confirmed(world)
    take(order, "11")
    assert order.state == "received" and order.lines[0].received_qty == 11
    order2 = confirmed(world)
    with pytest.raises(ValidationError, match="10% tolerance"):
        take(order2, "11.5")


@pytest.mark.parametrize("step", ["draft", "sent", "cancelled"])
def test_draft_sent_and_cancelled_orders_refuse_receiving(world, step):
    order = services.create_order(
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "1"}],
        }
    )
    if step == "sent":
        services.send_order(order.id)
    if step == "cancelled":
        services.cancel_order(order.id)
    before = count_rows("purchase_receipt")
    with pytest.raises(services.IllegalTransition, match=f"it is {step}"):
        take(order, "1")
    assert count_rows("purchase_receipt") == before


def test_moving_average_cost_after_receipts_at_different_costs(world):
    first = confirmed(world, (world.widget, "10", "2.00"))
    take(first, "10")
    assert inventory.get_product(world.widget.id).average_cost == Decimal("2.00")
    # 10 at 2.00 held, 30 more at 3.00 less 10% discount (2.70): (20 + 81) / 40 = 2.525
    second = services.confirm_order(
        services.create_order(
            {
                "account_id": str(world.vendor.id),
                "warehouse_id": str(world.main.id),
                "lines": [
                    {
                        "product_id": str(world.widget.id),
                        "quantity": "30",
                        "unit_cost": "3.00",
                        "discount_pct": "10",
                    }
                ],
            }
        ).id
    )
    take(second, "30")
    assert inventory.get_product(world.widget.id).average_cost == Decimal("2.525")
    history = services.product_history(world.widget.id)
    assert history.last_cost == Decimal("2.70")
    assert history.average_cost == Decimal("2.525") and history.quantity == 40


def test_returns_issue_stock_out_and_reopen_the_line(world):
    order = confirmed(world)
    take(order, "10")
    ret = services.return_goods(
        order.id,
        {"lines": [{"line_id": str(order.lines[0].id), "quantity": "4"}], "note": "damaged"},
    )
    assert ret.kind == "return" and ret.number.startswith("RT-")
    assert order.lines[0].received_qty == 6 and order.lines[0].returned_qty == 4
    assert order.state == "partially_received" and on_hand(world, world.widget) == 6
    with pytest.raises(ValidationError, match="only 6 received"):
        services.return_goods(
            order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "7"}]}
        )


def test_a_return_that_inventory_refuses_leaves_nothing_behind(world, session):
    order = confirmed(world)
    take(order, "10")
    inventory.issue(world.widget.id, world.main.id, "8")  # sold meanwhile
    receipts = count_rows("purchase_receipt")
    with pytest.raises(DomainError, match="insufficient stock"):
        services.return_goods(
            order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "5"}]}
        )
    assert count_rows("purchase_receipt") == receipts
    session.refresh(order.lines[0])
    assert order.lines[0].received_qty == 10


def test_lines_of_another_order_are_refused(world):
    order, other = confirmed(world), confirmed(world)
    with pytest.raises(ValidationError) as exc:
        services.receive(
            order.id, {"lines": [{"line_id": str(other.lines[0].id), "quantity": "1"}]}
        )
    assert exc.value.details == {"lines.0.line_id": ["not a line of this order"]}


@pytest.mark.postgres
def test_two_concurrent_receipts_of_one_line_cannot_exceed_its_open_quantity(app, committed):
    """Two storekeepers post 6 of 10 open at the same moment: one wins, one is refused."""
    from core.tenancy import tenant_context

    tenant = committed.tenant()
    with app.app_context(), tenant_context(tenant.id):
        from addons.purchase.tests.conftest import build_world
        from core.db import session as s

        w = build_world()
        order = confirmed(w)
        order_id, line_id = order.id, str(order.lines[0].id)
        product_id = w.widget.id
        s.commit()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def receive_six() -> None:
        with app.app_context(), tenant_context(tenant.id):
            from core.db import session as s

            try:
                barrier.wait(timeout=10)
                services.receive(order_id, {"lines": [{"line_id": line_id, "quantity": "6"}]})
                s.commit()
                outcomes.append("received")
            except ValidationError as exc:
                s.rollback()
                outcomes.append(str(exc.details))

    threads = [threading.Thread(target=receive_six) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("received") == 1, outcomes
    assert "only 4 of Widget can still be received" in next(o for o in outcomes if o != "received")
    with app.app_context(), tenant_context(tenant.id):
        got = services.get_order(order_id)
        assert got.lines[0].received_qty == 6 and got.state == "partially_received"
        assert sum(lv.on_hand for lv in inventory.stock_levels(product_id)) == 6


def test_confirming_and_receiving_write_events_to_the_outbox(world, session):
    from sqlalchemy import select

    from core.event_models import OutboxEvent

    order = confirmed(world)
    take(order, "10")
    events = {e.type: e.payload for e in session.scalars(select(OutboxEvent))}
    assert events["purchase.order.confirmed"]["number"] == order.number
    received = events["purchase.goods.received"]
    assert received["order_id"] == str(order.id) and received["lines"][0]["quantity"] == "10.0000"


class _Veto:
    """A plugin that refuses confirmations and receipts, as another addon might."""

    from core.hookspecs import hookimpl

    @hookimpl
    def purchase_order_confirmed(self, order):
        raise DomainError(f"budget exceeded for {order.number}")

    @hookimpl
    def goods_received(self, receipt):
        raise DomainError("quality check pending")


def test_hooks_may_veto_confirmation_and_receipt_leaving_nothing_written(app, world, session):
    from core.registry import current_registry
    from core.sequences import current_number

    order = confirmed(world)
    draft = services.create_order(
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "1"}],
        }
    )
    drawn = current_number("purchase.order", period=str(order.confirmed_at.year))
    receipts = count_rows("purchase_receipt")
    pm = current_registry().pm
    veto = _Veto()
    pm.register(veto, name="purchase-test-veto")
    try:
        with pytest.raises(DomainError, match="budget exceeded"):
            services.confirm_order(draft.id)
        with pytest.raises(DomainError, match="quality check pending"):
            take(order, "4")
    finally:
        pm.unregister(veto)
    session.refresh(draft)
    session.refresh(order.lines[0])
    assert draft.state == "draft" and draft.number is None
    assert current_number("purchase.order", period=str(order.confirmed_at.year)) == drawn
    assert order.lines[0].received_qty == 0 and count_rows("purchase_receipt") == receipts
    assert on_hand(world, world.widget) == 0
