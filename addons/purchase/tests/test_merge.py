"""Merging two vendors in contacts moves purchase's orders, terms and prices to the master."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addons.contacts import services as contacts
from addons.purchase import services
from core.audit import audit_entries
from core.db import session
from core.errors import Conflict
from core.event_models import OutboxEvent


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
    terms(duplicate, "60 days net", "EUR")
    price(duplicate, world.gadget, "9.50")
    price(duplicate, world.gadget, "8.75", "100")

    contacts.merge_accounts(master.id, duplicate.id)

    orders = services.list_orders(account_id=master.id, limit=50).items
    assert {o.id for o in orders} == {draft.id, sent.id, mine.id}
    assert services.list_orders(account_id=duplicate.id, limit=50).items == []
    assert sent.number is not None and sent.state == "sent"  # the order is otherwise unchanged
    moved = services.get_supplier(master.id)
    assert (moved.payment_terms, moved.currency) == ("60 days net", "EUR")
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

    assert result.terms_dropped == {"payment_terms": "on delivery"} and not result.terms_moved
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


def test_a_master_without_terms_or_prices_takes_the_duplicates_currency(world):
    terms(world.vendor2, "60 days net", "USD")

    contacts.merge_accounts(world.vendor.id, world.vendor2.id)

    assert services.get_supplier(world.vendor.id).currency == "USD"


def test_vendors_buying_in_other_currencies_are_not_merged_while_they_have_prices(
    client, world, api_headers
):
    """A supplier price is in its vendor's currency: moving it would turn JPY 1500 into
    EUR 1500. The merge is refused and nothing is written."""
    headers = api_headers(world.tenant)
    master, duplicate = world.vendor, world.vendor2
    terms(master, "30 days net", "EUR")
    terms(duplicate, "on delivery", "JPY")
    price(duplicate, world.widget, "1500")

    resp = client.post(
        "/api/v1/contacts/merge",
        json={"master_id": str(master.id), "duplicate_id": str(duplicate.id)},
        headers=headers,
    )

    assert resp.status_code == 409, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "CURRENCY_MISMATCH"
    assert "JPY" in error["message"] and "EUR" in error["message"]
    assert "Beta Parts" in error["message"]
    account = client.get(f"/api/v1/contacts/accounts/{duplicate.id}", headers=headers)
    assert account.status_code == 200  # not archived
    [kept] = services.supplier_prices(account_id=duplicate.id)
    assert kept.price == Decimal("1500")


def test_a_master_without_terms_keeps_its_prices_meaning(world):
    """The master's prices are in the tenant's default currency (EUR): taking the
    duplicate's USD terms would make them USD."""
    price(world.vendor, world.widget, "2.20")
    terms(world.vendor2, "60 days net", "USD")

    with pytest.raises(Conflict) as exc:
        services.merge_supplier(world.vendor.id, world.vendor2.id)

    assert exc.value.details == {"currency": ["EUR", "USD"]}


def test_the_masters_unset_terms_are_filled_from_the_duplicates_field_by_field(world):
    services.set_supplier_terms({"account_id": str(world.vendor.id), "payment_terms": ""})
    services.set_supplier_terms(
        {"account_id": str(world.vendor2.id), "payment_terms": "60 days net", "lead_time_days": 9}
    )

    result = services.merge_supplier(world.vendor.id, world.vendor2.id)

    kept = services.get_supplier(world.vendor.id)
    assert (kept.payment_terms, kept.lead_time_days) == ("60 days net", 9)
    assert result.terms_filled == ("payment_terms", "lead_time_days")
    assert result.terms_dropped == {} and result.dropped() == []


def test_what_a_merge_drops_is_in_its_answer_its_event_and_the_audit_log(
    client, world, api_headers
):
    headers = api_headers(world.tenant)
    master, duplicate = world.vendor, world.vendor2
    services.set_supplier_terms({"account_id": str(master.id), "payment_terms": "30 days net"})
    theirs = services.set_supplier_terms(
        {"account_id": str(duplicate.id), "payment_terms": "on delivery", "lead_time_days": 5}
    )
    price(master, world.widget, "2.20")
    price(duplicate, world.widget, "1.90")

    resp = client.post(
        "/api/v1/contacts/merge",
        json={"master_id": str(master.id), "duplicate_id": str(duplicate.id)},
        headers=headers,
    )

    assert resp.status_code == 200, resp.get_json()
    dropped = resp.get_json()["meta"]["dropped"]
    assert len(dropped) == 2
    assert "payment terms 'on delivery'" in dropped[0]
    assert "WIDGET Widget" in dropped[1]
    # The lead time the master had not set was taken, not dropped.
    assert services.get_supplier(master.id).lead_time_days == 5
    [event] = [
        e for e in session.scalars(select(OutboxEvent)) if e.type == "contacts.account.merged"
    ]
    assert event.payload["dropped"] == dropped
    deleted = audit_entries("purchase_supplier", record=theirs.id)
    assert deleted[0].action == "delete"
    assert deleted[0].changes["payment_terms"]["old"] == "on delivery"


def test_the_web_merge_says_what_was_not_kept(client, world, make_member, web_login):
    user = make_member(world.tenant, roles=["sales", "purchasing"])
    web_login(client, world.tenant, user)
    terms(world.vendor, "30 days net")
    terms(world.vendor2, "on delivery")

    resp = client.post(
        "/contacts/merge",
        data={"master_id": str(world.vendor.id), "duplicate_id": str(world.vendor2.id)},
        follow_redirects=True,
    )

    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Merged into Acme Supplies" in page
    assert "Not kept: the duplicate&#39;s purchase payment terms" in page
    assert "on delivery" in page
