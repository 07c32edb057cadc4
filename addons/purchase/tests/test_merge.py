"""Merging two vendors in contacts moves purchase's orders, terms and prices to the master."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from addons.contacts import services as contacts
from addons.purchase import services
from core.audit import audit_entries


def order_to(w: Any, account: Any) -> Any:
    return services.create_order(
        {
            "account_id": str(account.id),
            "warehouse_id": str(w.main.id),
            "lines": [{"product_id": str(w.widget.id), "quantity": "10", "unit_cost": "2"}],
        }
    )


def price(account: Any, product: Any, amount: str, min_quantity: str = "1") -> Any:
    return services.set_supplier_price(
        {
            "account_id": str(account.id),
            "product_id": str(product.id),
            "price": amount,
            "min_quantity": min_quantity,
        }
    )


def terms(account: Any, payment_terms: str, currency: str = "EUR") -> Any:
    return services.set_supplier_terms(
        {"account_id": str(account.id), "payment_terms": payment_terms, "currency": currency}
    )


def test_orders_terms_and_prices_follow_the_duplicate_to_the_master(world):
    master, duplicate = world.vendor, world.vendor2
    draft = order_to(world, duplicate)
    sent = services.send_order(order_to(world, duplicate).id)
    mine = order_to(world, master)
    terms(duplicate, "60 days net", "USD")
    price(duplicate, world.gadget, "9.50")
    price(duplicate, world.gadget, "8.75", "100")

    contacts.merge_accounts(master.id, duplicate.id)

    orders = services.list_orders(account_id=master.id, limit=50).items
    assert {o.id for o in orders} == {draft.id, sent.id, mine.id}
    assert services.list_orders(account_id=duplicate.id, limit=50).items == []
    assert sent.number is not None and sent.state == "sent"  # the order is otherwise unchanged
    moved = services.get_supplier(master.id)
    assert (moved.payment_terms, moved.currency) == ("60 days net", "USD")
    assert services.get_supplier(duplicate.id) is None
    assert [(p.price, p.min_quantity) for p in services.supplier_prices(account_id=master.id)] == [
        (Decimal("9.50"), Decimal("1")),
        (Decimal("8.75"), Decimal("100")),
    ]
    assert services.supplier_prices(account_id=duplicate.id) == []
    # The vendor list shows one supplier with every open order.
    listed = {s.account_id: s for s in services.list_suppliers()}
    assert duplicate.id not in listed and listed[master.id].open_orders == 1
    assert listed[master.id].prices == 2


def test_where_both_have_terms_or_prices_for_a_product_the_masters_are_kept(world):
    master, duplicate = world.vendor, world.vendor2
    terms(master, "30 days net")
    terms(duplicate, "on delivery")
    price(master, world.widget, "2.20")
    theirs = price(duplicate, world.widget, "1.90", "100")  # another tier: dropped too
    price(duplicate, world.gadget, "9.50")  # no conflict: moves

    result = services.merge_supplier(master.id, duplicate.id)

    assert result.terms_dropped and not result.terms_moved
    assert result.prices_dropped_for == (world.widget.id,) and result.prices_moved == 1
    assert services.get_supplier(master.id).payment_terms == "30 days net"
    prices = {(p.product_id, p.price) for p in services.supplier_prices(account_id=master.id)}
    assert prices == {(world.widget.id, Decimal("2.20")), (world.gadget.id, Decimal("9.50"))}
    # The audit log keeps what was dropped.
    deleted = audit_entries("purchase_supplier_price", record=theirs.id)
    assert [e.action for e in deleted][:1] == ["delete"]
    assert deleted[0].changes["price"]["old"] == "1.9000"
    assert deleted[0].changes["account_id"]["old"] == str(duplicate.id)


def test_a_merge_of_vendors_without_purchase_data_moves_nothing(world):
    result = services.merge_supplier(world.vendor.id, world.customer.id)
    assert result.moved == 0 and not result.terms_dropped and result.prices_dropped_for == ()
