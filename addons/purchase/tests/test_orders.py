"""Purchase orders: drafting, totals, the state flow, and bad input refused with nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from addons.purchase import services
from core.errors import ValidationError
from tests.fixtures import count_rows


def draft(w: Any, *lines: dict[str, Any], account: Any = None) -> Any:
    """A draft order to `account` (default: the vendor) into MAIN."""
    return services.create_order(
        {
            "account_id": str((account or w.vendor).id),
            "warehouse_id": str(w.main.id),
            "lines": list(lines) or [{"product_id": str(w.widget.id), "quantity": "10"}],
        }
    )


def line(product: Any, qty: str = "10", **extra: str) -> dict[str, Any]:
    return {"product_id": str(product.id), "quantity": qty, **extra}


def test_draft_totals_round_half_up_per_line_and_add_up(world):
    order = draft(
        world,
        line(world.widget, "3", unit_cost="1.005", tax_rate="21"),  # net 3.015
        line(
            world.gadget,
            "7",
            unit_cost="9.99",
            discount_pct="12.5",  # net 61.18875
            tax_rate="7",
        ),
    )
    nets = [ln.amount_net for ln in order.lines]
    assert nets == [Decimal("3.02"), Decimal("61.19")]
    assert [ln.amount_tax for ln in order.lines] == [Decimal("0.63"), Decimal("4.28")]
    assert order.amount_untaxed == Decimal("64.21")
    assert order.amount_tax == Decimal("4.91")
    assert order.amount_total == Decimal("69.12")
    assert order.state == "draft" and order.number is None


def test_empty_costs_come_from_supplier_price_tiers_then_standard_cost(world):
    services.set_supplier_price(
        {"account_id": str(world.vendor.id), "product_id": str(world.widget.id), "price": "2.20"}
    )
    services.set_supplier_price(
        {
            "account_id": str(world.vendor.id),
            "product_id": str(world.widget.id),
            "price": "1.90",
            "min_quantity": "100",
        }
    )
    order = draft(
        world, line(world.widget, "10"), line(world.widget, "150"), line(world.gadget, "1")
    )
    assert [ln.unit_cost for ln in order.lines] == [Decimal("2.2"), Decimal("1.9"), Decimal("10")]
    assert order.lines[0].tax_rate == Decimal(21)  # the product's tax rate


def test_state_flow_draft_sent_confirmed_received_closed(world):
    order = draft(world)
    services.send_order(order.id)
    assert order.state == "sent" and order.number.startswith("PO-")
    number = order.number
    services.confirm_order(order.id)
    assert order.state == "confirmed" and order.number == number  # drawn once
    services.receive(order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "10"}]})
    assert order.state == "received"
    services.close_order(order.id)
    assert order.state == "closed"


def test_numbers_are_consecutive_and_only_for_orders_that_leave_the_house(world):
    first, second, kept_draft = draft(world), draft(world), draft(world)
    services.confirm_order(first.id)
    services.send_order(second.id)
    year = first.confirmed_at.year
    assert (first.number, second.number) == (f"PO-{year}-00001", f"PO-{year}-00002")
    assert kept_draft.number is None


@pytest.mark.parametrize("action", [services.send_order, services.confirm_order])
def test_confirmed_orders_cannot_be_sent_or_confirmed_again(world, action):
    order = draft(world)
    services.confirm_order(order.id)
    with pytest.raises(services.IllegalTransition, match="it is confirmed"):
        action(order.id)


def test_cancel_while_nothing_received_and_then_nothing_more(world):
    order = draft(world)
    services.confirm_order(order.id)
    services.cancel_order(order.id)
    assert order.state == "cancelled"
    with pytest.raises(services.IllegalTransition, match="cancelled"):
        services.confirm_order(order.id)
    with pytest.raises(services.IllegalTransition, match="cancelled"):
        services.receive(
            order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "1"}]}
        )


def test_cancelling_an_order_with_goods_received_is_refused(world, session):
    order = draft(world)
    services.confirm_order(order.id)
    services.receive(order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "2"}]})
    with pytest.raises(services.IllegalTransition, match="goods have been received"):
        services.cancel_order(order.id)
    session.refresh(order)
    assert order.state == "partially_received"


def test_closing_needs_something_received(world):
    order = draft(world)
    services.confirm_order(order.id)
    with pytest.raises(services.IllegalTransition, match="cannot close"):
        services.close_order(order.id)


def test_only_unnumbered_drafts_can_be_deleted(world):
    keep = draft(world)
    services.send_order(keep.id)
    with pytest.raises(services.IllegalTransition, match="cancel it instead"):
        services.delete_order(keep.id)
    gone = draft(world)
    services.delete_order(gone.id)
    assert services.list_orders().total == 1


def test_update_replaces_lines_and_recomputes_and_is_refused_once_confirmed(world):
    order = draft(world)
    services.update_order(
        order.id,
        {
            "lines": [
                {
                    "id": str(order.lines[0].id),
                    "product_id": str(world.widget.id),
                    "quantity": "4",
                    "unit_cost": "5",
                },
                line(world.gadget, "1", unit_cost="1"),
            ]
        },
    )
    assert [ln.quantity for ln in order.lines] == [Decimal(4), Decimal(1)]
    assert order.amount_untaxed == Decimal("21.00")
    services.confirm_order(order.id)
    with pytest.raises(services.IllegalTransition, match="cannot edit"):
        services.update_order(order.id, {"notes": "late change"})


def test_a_stale_version_is_refused(world):
    order = draft(world)
    with pytest.raises(services.Conflict, match="changed by someone else"):
        services.update_order(order.id, {"notes": "x", "version": order.version + 5})


# --- bad input: a clear error naming the field, nothing written --------------------------


def _refused(w: Any, data: dict[str, Any]) -> dict[str, list[str]]:
    before = count_rows("purchase_order"), count_rows("purchase_order_line")
    with pytest.raises(ValidationError) as exc:
        services.create_order(data)
    assert (count_rows("purchase_order"), count_rows("purchase_order_line")) == before
    return exc.value.details


def test_an_order_for_an_account_that_is_not_a_vendor_is_refused(world):
    details = _refused(
        world,
        {
            "account_id": str(world.customer.id),
            "warehouse_id": str(world.main.id),
            "lines": [line(world.widget)],
        },
    )
    assert "is not a vendor" in details["account_id"][0]


@pytest.mark.parametrize("qty", ["0", "-3"])
def test_zero_or_negative_quantities_are_refused_naming_the_line(world, qty):
    details = _refused(
        world,
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [line(world.widget, "1"), line(world.gadget, qty)],
        },
    )
    assert details == {"lines.1.quantity": ["must be greater than 0"]}


def test_inactive_and_service_products_are_refused_naming_each_line(world):
    details = _refused(
        world,
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [line(world.old), line(world.widget), line(world.service)],
        },
    )
    assert "discontinued, not active" in details["lines.0.product_id"][0]
    assert "is a service" in details["lines.2.product_id"][0]
    assert "lines.1.product_id" not in details


def test_unknown_warehouse_and_missing_fields_are_named(world):
    details = _refused(
        world,
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": "00000000-0000-0000-0000-000000000000",
            "lines": [line(world.widget)],
        },
    )
    assert details["warehouse_id"] == ["no such warehouse"]
    details = _refused(world, {"lines": [{"quantity": "1"}]})
    assert set(details) == {"account_id", "warehouse_id", "lines.0.product_id"}


def test_confirming_without_lines_is_refused(world):
    order = draft(world)
    services.update_order(order.id, {"lines": []})
    with pytest.raises(ValidationError, match="at least one line"):
        services.confirm_order(order.id)
    assert order.state == "draft" and order.number is None


def test_supplier_names_for_many_orders_cost_one_query(world, count_selects, session):

    from addons.contacts import services as contacts
    from addons.purchase import partners

    suppliers = [contacts.create_account({"name": f"Vendor {n:02d}"}) for n in range(20)]
    contacts.delete_account(suppliers[0].id)
    session.flush()
    session.expunge_all()
    with count_selects() as selects:
        few = partners.account_names({s.id for s in suppliers[:3]})
        after_few = len(selects)
        many = partners.account_names({s.id for s in suppliers})
    assert len(few) == 3 and len(many) == 20
    assert many[suppliers[0].id] == "Vendor 00"  # an archived supplier keeps its name
    assert after_few == len(selects) - after_few == 1  # 20 suppliers cost what 3 cost: one
