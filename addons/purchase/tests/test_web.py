"""The purchase pages, and purchase's panels on contacts' and inventory's pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from addons.purchase import services


def _confirmed(w: Any) -> Any:
    order = services.create_order(
        {
            "account_id": str(w.vendor.id),
            "warehouse_id": str(w.main.id),
            "expected_date": "2026-12-24",
            "lines": [{"product_id": str(w.widget.id), "quantity": "10", "unit_cost": "2"}],
        }
    )
    return services.confirm_order(order.id)


def test_list_board_and_detail_show_the_order(client, world, buyer):
    order = _confirmed(world)
    page = client.get("/purchase/orders").get_data(as_text=True)
    assert order.number in page and "Acme Supplies" in page
    board = client.get("/purchase/board").get_data(as_text=True)
    assert 'data-column="confirmed"' in board and order.number in board
    detail = client.get(f"/purchase/orders/{order.id}").get_data(as_text=True)
    assert "Receive" in detail and "20.00" in detail


def test_the_order_form_creates_a_draft_and_reshows_errors(client, world, buyer):
    form = client.get("/purchase/orders/new")
    assert form.status_code == 200 and "Widget" in form.get_data(as_text=True)
    bad = client.post(
        "/purchase/orders/new",
        data={
            "account_id": str(world.customer.id),
            "warehouse_id": str(world.main.id),
            "line-product_id": [str(world.widget.id)],
            "line-quantity": ["0"],
        },
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "must be greater than 0" in text
    assert services.list_orders().total == 0
    ok = client.post(
        "/purchase/orders/new",
        data={
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "line-product_id": [str(world.widget.id), str(world.gadget.id), ""],
            "line-quantity": ["3", "1", ""],
            "line-unit_cost": ["2", "5", ""],
            "line-discount_pct": ["", "", ""],
            "line-tax_rate": ["0", "0", ""],
        },
    )
    assert ok.status_code == 302
    [order] = services.list_orders().items
    assert order.amount_total == Decimal("11.00") and len(order.lines) == 2


def test_htmx_adds_line_rows_and_updates_totals_live(client, world, buyer):
    row = client.post("/purchase/orders/form/line").get_data(as_text=True)
    assert 'name="line-product_id"' in row and "<tr" in row
    totals = client.post(
        "/purchase/orders/form/totals",
        data={
            "line-product_id": [str(world.widget.id), str(world.gadget.id)],
            "line-quantity": ["3", "2"],
            "line-unit_cost": ["1.005", "4"],
            "line-tax_rate": ["21", "abc"],
            "currency": "EUR",
        },
    ).get_data(as_text=True)
    assert 'data-total="untaxed">11.02<' in totals and 'data-total="total">11.65 EUR' in totals


def test_the_receive_screen_records_a_receipt_and_reshows_errors(client, world, buyer, session):
    order = _confirmed(world)
    line = order.lines[0]
    screen = client.get(f"/purchase/orders/{order.id}/receive").get_data(as_text=True)
    assert f'name="qty-{line.id}"' in screen
    too_much = client.post(f"/purchase/orders/{order.id}/receive", data={f"qty-{line.id}": "12"})
    assert "can still be received" in too_much.get_data(as_text=True)
    done = client.post(f"/purchase/orders/{order.id}/receive", data={f"qty-{line.id}": "4"})
    assert done.status_code == 302
    session.refresh(order)
    assert order.state == "partially_received"


def test_costs_page_has_the_chart_and_the_history(client, world, buyer):
    order = _confirmed(world)
    services.receive(order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": "10"}]})
    page = client.get(f"/purchase/costs?product_id={world.widget.id}").get_data(as_text=True)
    assert 'data-chart="purchase-spend"' in page and "Acme Supplies" in page
    assert 'data-cost="last">2.0000' in page


def test_pdf_of_an_order(client, world, buyer):
    order = _confirmed(world)
    resp = client.get(f"/purchase/orders/{order.id}/pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF")


def _enabled(tenant: Any, on: bool) -> None:
    from core.registry import current_registry

    registry = current_registry()
    if on:
        registry.enable(tenant.id, ["purchase"])
    else:
        registry.disable(tenant.id, ["purchase"])


def test_product_page_panel_only_when_purchase_is_enabled(client, world, make_member, web_login):
    _confirmed(world)
    user = make_member(world.tenant, roles=["admin"])
    web_login(client, world.tenant, user)
    page = client.get(f"/inventory/products/{world.widget.id}").get_data(as_text=True)
    assert 'data-panel="purchase-product"' in page and "data-incoming>10<" in page
    _enabled(world.tenant, False)
    page = client.get(f"/inventory/products/{world.widget.id}").get_data(as_text=True)
    assert 'data-panel="purchase-product"' not in page
    assert client.get("/purchase/orders").status_code == 404


def test_account_panel_only_when_purchase_is_enabled(app, client, world, make_member, web_login):
    from core.registry import hook

    _confirmed(world)
    with app.test_request_context():
        panels = [p for batch in hook.account_panels(account=world.vendor) for p in batch or []]
        assert [p.title for p in panels] == ["Purchase orders"]
        assert "PO-" in panels[0].html
        assert not [p for b in hook.account_panels(account=world.customer) for p in b or []]
    _enabled(world.tenant, False)
    with app.test_request_context():
        assert not [p for b in hook.account_panels(account=world.vendor) for p in b or []]
    from flask import url_for

    with app.test_request_context():
        url = url_for("contacts_web.account_detail", account_id=world.vendor.id)
    user = make_member(world.tenant, roles=["admin"])
    web_login(client, world.tenant, user)
    page = client.get(url).get_data(as_text=True)
    assert "Acme Supplies" in page and 'data-panel="purchase-orders"' not in page
    _enabled(world.tenant, True)
    page = client.get(url).get_data(as_text=True)
    assert 'data-panel="purchase-orders"' in page


def test_vendor_terms_travel_with_the_account_form_and_api(app, world):
    from addons.contacts import services as contacts
    from core.registry import hook

    with app.test_request_context():
        [[section]] = [b for b in hook.account_form_sections(account=world.vendor) if b]
        assert [f.name for f in section.fields] == [
            "purchase_payment_terms",
            "purchase_lead_time_days",
            "purchase_currency",
        ]
        assert not [b for b in hook.account_form_sections(account=world.customer) if b]
    contacts.update_account(
        world.vendor.id, {"purchase_payment_terms": "30 days net", "purchase_lead_time_days": "6"}
    )
    terms = services.get_supplier(world.vendor.id)
    assert (terms.payment_terms, terms.lead_time_days) == ("30 days net", 6)
    assert contacts.extra_fields(world.vendor)["purchase_lead_time_days"] == 6
    with pytest.raises(services.ValidationError) as exc:
        contacts.update_account(world.customer.id, {"purchase_payment_terms": "now"})
    assert "is not a vendor" in exc.value.details["purchase_payment_terms"][0]


def test_supplier_page_sets_terms_and_prices_and_names_bad_fields(client, world, buyer):
    listing = client.get("/purchase/suppliers").get_data(as_text=True)
    assert "Acme Supplies" in listing and "Carol" not in listing
    url = f"/purchase/suppliers/{world.vendor.id}"
    assert (
        client.post(
            url,
            data={
                "what": "terms",
                "payment_terms": "30 days",
                "lead_time_days": "4",
                "currency": "EUR",
            },
        ).status_code
        == 302
    )
    bad = client.post(
        url,
        data={
            "what": "price",
            "product_id": str(world.widget.id),
            "min_quantity": "1",
            "price": "-1",
        },
    )
    assert "must not be negative" in bad.get_data(as_text=True)
    client.post(
        url,
        data={
            "what": "price",
            "product_id": str(world.widget.id),
            "supplier_code": "AC-1",
            "min_quantity": "10",
            "price": "1.95",
        },
    )
    page = client.get(url).get_data(as_text=True)
    assert "AC-1" in page and "1.9500" in page and 'value="30 days"' in page
    assert client.get(f"/purchase/suppliers/{world.customer.id}").status_code == 422


def test_editing_keeps_existing_lines_and_adds_new_ones(client, world, buyer, session):
    order = services.create_order(
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "2", "unit_cost": "1"}],
        }
    )
    kept = order.lines[0].id
    form = client.get(f"/purchase/orders/{order.id}/edit").get_data(as_text=True)
    assert f'name="line-id" value="{kept}"' in form
    new_row = client.post("/purchase/orders/form/line").get_data(as_text=True)
    assert 'name="line-id" value=""' in new_row
    resp = client.post(
        f"/purchase/orders/{order.id}/edit",
        data={
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "line-id": ["", str(kept)],
            "line-product_id": [str(world.gadget.id), str(world.widget.id)],
            "line-quantity": ["1", "5"],
            "line-unit_cost": ["3", "1"],
            "line-discount_pct": ["", ""],
            "line-tax_rate": ["0", "0"],
        },
    )
    assert resp.status_code == 302
    session.expire_all()
    lines = services.get_order(order.id).lines
    assert [(ln.product_id, ln.quantity) for ln in lines] == [
        (world.gadget.id, 1),
        (world.widget.id, 5),
    ]
    assert lines[1].id == kept


def _order(w: Any, quantity: str, then: Any = None) -> Any:
    order = services.create_order(
        {
            "account_id": str(w.vendor.id),
            "warehouse_id": str(w.main.id),
            "lines": [{"product_id": str(w.widget.id), "quantity": quantity, "unit_cost": "1"}],
        }
    )
    return then(order.id) if then else order


@pytest.fixture()
def four_orders(world):
    """A draft, a sent order and two confirmed ones, totals 1, 2, 3 and 4."""
    return [
        _order(world, "1"),
        _order(world, "2", services.send_order),
        _order(world, "3", services.confirm_order),
        _order(world, "4", services.confirm_order),
    ]


def _numbers(html: str) -> list[str]:
    import re

    return re.findall(r'<a href="/purchase/orders/[0-9a-f-]{36}">([^<]+)</a>', html)


def test_orders_list_sorts_filters_searches_and_pages(client, world, buyer, four_orders):
    _draft, sent, first, second = four_orders
    page = client.get("/purchase/orders").get_data(as_text=True)
    assert sorted(_numbers(page)) == sorted([second.number, first.number, sent.number, "Draft"])
    assert "4 records" in page and 'data-state="confirmed"' in page
    by_total = client.get("/purchase/orders?sort=amount_total").get_data(as_text=True)
    assert _numbers(by_total) == ["Draft", sent.number, first.number, second.number]
    confirmed = client.get("/purchase/orders?state=confirmed&sort=-amount_total")
    # The old ?state= links (suppliers page, reorder) still filter.
    assert _numbers(confirmed.get_data(as_text=True)) == [second.number, first.number]
    assert _numbers(client.get(f"/purchase/orders?q={sent.number}").get_data(as_text=True)) == [
        sent.number
    ]
    last = client.get("/purchase/orders?per_page=3&page=2&sort=-amount_total").get_data(
        as_text=True
    )
    assert _numbers(last) == ["Draft"]


def test_orders_export_is_the_filtered_list(client, world, buyer, four_orders):
    _draft, _sent, first, second = four_orders
    resp = client.get("/purchase/orders/export.csv?state=confirmed&sort=amount_total")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    lines = resp.get_data(as_text=True).splitlines()
    assert lines[0] == "Number,Supplier,State,Ordered,Expected,Total,Currency"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        [first.number, "Acme Supplies", "confirmed"],
        [second.number, "Acme Supplies", "confirmed"],
    ]


def test_orders_list_needs_the_read_permission(client, world, make_member, four_orders, web_login):
    web_login(client, world.tenant, make_member(world.tenant, roles=["employee"]))
    assert client.get("/purchase/orders").status_code == 403
    assert client.get("/purchase/orders/export.csv").status_code == 403
