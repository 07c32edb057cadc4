"""The stock services: the ledger, the golden rule, moving-average cost, reorder alerts, counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.inventory import services
from addons.inventory.models import LedgerImmutable, StockLevel, StockMovement
from core.db import session
from core.errors import ValidationError
from tests.fixtures import count_rows


def level(inv, warehouse=None):
    return session.scalar(
        select(StockLevel)
        .where(
            StockLevel.product_id == inv.widget.id,
            StockLevel.warehouse_id == (warehouse or inv.main).id,
        )
        .execution_options(populate_existing=True)
    )


def test_receive_then_issue_keeps_a_ledger_line_with_before_and_after(inv):
    services.receive(inv.widget, inv.main, 10, unit_cost="3", reference=("purchase_order", "PO-1"))
    m = services.issue(inv.widget, inv.main, "4", reference=("sales_order", "SO-1"))

    assert (m.kind, m.quantity, m.quantity_before, m.quantity_after) == (
        "issue",
        Decimal(-4),
        Decimal(10),
        Decimal(6),
    )
    assert (m.reference_type, m.reference_id) == ("sales_order", "SO-1")
    lv = level(inv)
    assert (lv.on_hand, lv.reserved, lv.available) == (Decimal(6), 0, Decimal(6))


def test_an_issue_beyond_available_fails_and_changes_nothing(inv):
    services.receive(inv.widget, inv.main, 5)
    before = count_rows("inventory_stock_movement")

    with pytest.raises(services.InsufficientStock) as err:
        services.issue(inv.widget, inv.main, "5.0001")

    assert err.value.code == "INSUFFICIENT_STOCK" and err.value.status == 409
    assert "5 available" in err.value.message
    assert count_rows("inventory_stock_movement") == before
    assert level(inv).on_hand == Decimal(5)


def test_issuing_from_a_warehouse_that_never_had_stock_is_insufficient(inv):
    with pytest.raises(services.InsufficientStock):
        services.issue(inv.widget, inv.east, 1)
    assert count_rows("inventory_stock_level") == 0


def test_reservations_lower_available_but_not_on_hand(inv):
    services.receive(inv.widget, inv.main, 10)
    services.reserve(inv.widget, inv.main, 7, reference=("sales_order", "SO-9"))

    lv = level(inv)
    assert (lv.on_hand, lv.reserved, lv.available) == (10, 7, 3)
    with pytest.raises(services.InsufficientStock):
        services.issue(inv.widget, inv.main, 4)
    with pytest.raises(services.InsufficientStock):
        services.reserve(inv.widget, inv.main, 4)

    services.consume_reservation(inv.widget, inv.main, 5)
    services.release(inv.widget, inv.main, 2)
    lv = level(inv)
    assert (lv.on_hand, lv.reserved, lv.available) == (5, 0, 5)
    with pytest.raises(ValidationError):
        services.release(inv.widget, inv.main, 1)


def test_availability_check_per_warehouse_and_overall(inv):
    services.receive(inv.widget, inv.main, 8)
    services.receive(inv.widget, inv.east, 2)
    services.reserve(inv.widget, inv.main, 3)

    assert services.check_availability(inv.widget, inv.main, 5) == services.Availability(
        Decimal(5), True
    )
    assert services.check_availability(inv.widget, inv.main, 6).is_available is False
    assert services.check_availability(inv.widget).quantity_available == Decimal(7)


def test_transfer_moves_both_sides_or_neither(inv):
    services.receive(inv.widget, inv.main, 10)
    out, into = services.transfer(inv.widget, inv.main, inv.east, 4)

    assert out.transfer_id == into.transfer_id
    assert (out.kind, out.quantity, into.kind, into.quantity) == (
        "transfer_out",
        -4,
        "transfer_in",
        4,
    )
    assert level(inv).on_hand == 6 and level(inv, inv.east).on_hand == 4

    before = count_rows("inventory_stock_movement")
    with pytest.raises(services.InsufficientStock):
        services.transfer(inv.widget, inv.east, inv.main, 5)
    assert count_rows("inventory_stock_movement") == before
    assert level(inv).on_hand == 6 and level(inv, inv.east).on_hand == 4


def test_moving_average_cost_follows_receipts_with_a_cost(inv):
    services.receive(inv.widget, inv.main, 10, unit_cost="2.00")
    services.receive(inv.widget, inv.east, 30, unit_cost="4.00")
    assert inv.widget.average_cost == Decimal("3.5000")

    services.issue(inv.widget, inv.main, 10)
    services.receive(inv.widget, inv.main, 10)  # no cost: the average stays
    services.receive(inv.widget, inv.main, 20, unit_cost="5")
    # 40 units at 3.5 + 20 at 5 = 60 units at 4.
    assert inv.widget.average_cost == Decimal("4.0000")


def test_adjust_needs_a_reason_and_stays_above_reserved(inv):
    services.receive(inv.widget, inv.main, 5)
    services.reserve(inv.widget, inv.main, 3)

    with pytest.raises(ValidationError) as err:
        services.adjust(inv.widget, inv.main, -1, reason="  ")
    assert err.value.details == {"reason": ["an adjustment needs a reason"]}
    with pytest.raises(services.InsufficientStock):
        services.adjust(inv.widget, inv.main, -3, reason="broken")

    m = services.adjust(inv.widget, inv.main, -2, reason="broken in transit")
    assert (m.kind, m.quantity, m.reason) == ("adjustment", -2, "broken in transit")
    assert level(inv).available == 0


def test_a_count_turns_differences_into_adjustments(inv):
    gadget = services.create_product({"sku": "GADGET", "name": "Gadget"})
    services.receive(inv.widget, inv.main, 10)
    services.receive(gadget, inv.main, 4)

    moves = services.count(
        inv.main,
        {
            "widget-1": 8,
            "GADGET": "4",
        },
    )

    assert [(m.product_id, m.quantity) for m in moves] == [(inv.widget.id, Decimal(-2))]
    assert moves[0].reference_type == "stock_count" and "counted 8" in moves[0].reason
    assert level(inv).on_hand == 8


def test_a_count_below_reservations_is_refused_whole(inv):
    gadget = services.create_product({"sku": "GADGET", "name": "Gadget"})
    services.receive(inv.widget, inv.main, 10)
    services.receive(gadget, inv.main, 10)
    services.reserve(gadget, inv.main, 6)
    before = count_rows("inventory_stock_movement")

    with pytest.raises(services.InsufficientStock):
        services.count(inv.main, {inv.widget.id: 3, gadget.id: 5})

    assert count_rows("inventory_stock_movement") == before
    assert level(inv).on_hand == 10


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        (-1, "must be greater than zero"),
        (0, "must be greater than zero"),
        ("ten", "must be a number"),
        (None, "must be a number"),
        ("NaN", "must be a number"),
        ("1.00001", "at most 4 decimal places"),
        (True, "must be a number"),
    ],
)
def test_bad_quantities_name_the_field_and_write_nothing(inv, qty, message):
    with pytest.raises(ValidationError) as err:
        services.receive(inv.widget, inv.main, qty)
    assert err.value.details == {"quantity": [message]}
    assert count_rows("inventory_stock_movement") == 0


def test_bad_references_are_validation_errors_naming_the_field(inv):
    svc = services.create_product({"sku": "SETUP", "name": "Set-up", "type": "service"})
    cases = [
        (lambda: services.receive("NOPE", inv.main, 1), "product"),
        (lambda: services.receive(inv.widget, "NOWHERE", 1), "warehouse"),
        (lambda: services.transfer(inv.widget, inv.main, inv.main, 1), "to_warehouse"),
        (lambda: services.transfer(inv.widget, inv.main, "nowhere", 1), "to_warehouse"),
        (lambda: services.receive(svc, inv.main, 1), "product"),
        (lambda: services.receive(inv.widget, inv.main, 1, unit_cost="-2"), "unit_cost"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationError) as err:
            call()
        assert field in err.value.details, err.value.details
    assert count_rows("inventory_stock_movement") == 0
    assert services.check_availability(svc) == services.Availability(None, True)


def test_movements_cannot_be_changed_or_deleted(inv):
    m = services.receive(inv.widget, inv.main, 1)
    m.quantity = Decimal(100)
    with pytest.raises(LedgerImmutable):
        session.flush()
    session.rollback()
    from sqlalchemy import delete, update

    with pytest.raises(LedgerImmutable):
        session.execute(update(StockMovement).values(reason="x"))
    with pytest.raises(LedgerImmutable):
        session.execute(delete(StockMovement))


def test_levels_equal_the_sums_of_their_movements(inv):
    services.receive(inv.widget, inv.main, "10.5", unit_cost=1)
    services.reserve(inv.widget, inv.main, 2)
    services.transfer(inv.widget, inv.main, inv.east, "3.25")
    services.consume_reservation(inv.widget, inv.main, 1)
    services.adjust(inv.widget, inv.east, "-0.25", reason="spilled")
    assert services.ledger_mismatches() == []
    assert level(inv).on_hand == Decimal("6.25") and level(inv).reserved == 1


def test_the_database_refuses_negative_stock_even_past_the_services(inv):
    from sqlalchemy.exc import IntegrityError

    services.receive(inv.widget, inv.main, 1)
    lv = level(inv)
    lv.on_hand = Decimal(-1)
    with pytest.raises(IntegrityError):
        session.flush()
