"""purchase's pages on the kernel's web shell: the order form's optimistic lock, the order's
activity feed, breadcrumbs, labelled line inputs, and purchase's dashboard widgets."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from addons.purchase import services
from core.mixins import utcnow
from tests.fixtures import dashboard_cards


def _draft(w: Any, quantity: str = "2") -> Any:
    return services.create_order(
        {
            "account_id": str(w.vendor.id),
            "warehouse_id": str(w.main.id),
            "lines": [
                {
                    "product_id": str(w.widget.id),
                    "quantity": quantity,
                    "unit_cost": "1",
                    "tax_rate": "0",
                }
            ],
        }
    )


def _edit_form(w: Any, order: Any, version: str, notes: str, quantity: str) -> dict[str, Any]:
    return {
        "version": version,
        "account_id": str(w.vendor.id),
        "warehouse_id": str(w.main.id),
        "notes": notes,
        "line-id": [str(order.lines[0].id)],
        "line-product_id": [str(w.widget.id)],
        "line-quantity": [quantity],
        "line-unit_cost": ["1"],
        "line-discount_pct": [""],
        "line-tax_rate": ["0"],
    }


def _version_on(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "the order form carries no version"
    return match.group(1)


def test_a_stale_order_form_is_refused_and_keeps_what_was_typed(
    app, client, world, buyer, make_member, session, web_login
):
    order = _draft(world)
    other = app.test_client()
    web_login(other, world.tenant, make_member(world.tenant, roles=["purchasing"]))
    url = f"/purchase/orders/{order.id}/edit"
    # Both people open the form of the same draft.
    mine = _version_on(client.get(url).get_data(as_text=True))
    theirs = _version_on(other.get(url).get_data(as_text=True))
    assert mine == theirs

    saved = other.post(url, data=_edit_form(world, order, theirs, "call before delivery", "3"))
    assert saved.status_code == 302

    stale = client.post(url, data=_edit_form(world, order, mine, "leave at the gate", "7"))
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "changed by someone else" in page and "Nothing was saved" in page
    assert "Reload the order" in page
    # What I typed is still on the form, with the version I started from.
    assert "leave at the gate</textarea>" in page and 'name="line-quantity" value="7"' in page
    assert _version_on(page) == mine
    session.expire_all()
    kept = services.get_order(order.id)
    assert kept.notes == "call before delivery" and kept.lines[0].quantity == 3

    # After reloading, the change goes through on top of theirs.
    fresh = _version_on(client.get(url).get_data(as_text=True))
    assert fresh != mine
    again = client.post(url, data=_edit_form(world, order, fresh, "leave at the gate", "7"))
    assert again.status_code == 302
    session.expire_all()
    assert services.get_order(order.id).notes == "leave at the gate"


def test_an_order_confirmed_meanwhile_is_not_edited(client, world, buyer, session):
    order = _draft(world)
    url = f"/purchase/orders/{order.id}/edit"
    version = _version_on(client.get(url).get_data(as_text=True))
    services.confirm_order(order.id)
    resp = client.post(url, data=_edit_form(world, order, version, "too late", "9"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "it is confirmed" in page and "too late</textarea>" in page
    session.expire_all()
    assert services.get_order(order.id).lines[0].quantity == 2


def test_the_order_page_has_an_activity_feed_with_comments(client, world, buyer, session):
    order = _draft(world)
    services.confirm_order(order.id)
    url = f"/purchase/orders/{order.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="activity"' in page
    assert "created the record" in page and "state: draft → confirmed" in page
    assert f'action="{url}/comments"' in page

    plain = client.post(f"{url}/comments", data={"body": "Supplier promised Friday"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(url)
    assert "Supplier promised Friday" in client.get(url).get_data(as_text=True)

    fragment = client.post(
        f"{url}/comments", data={"body": "Two pallets"}, headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and html.lstrip().startswith('<section id="activity"')
    assert "Two pallets" in html and "Supplier promised Friday" in html

    empty = client.post(f"{url}/comments", data={"body": "  "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "write something first" in empty.get_data(as_text=True)
    without_js = client.post(f"{url}/comments", data={"body": ""})
    text = without_js.get_data(as_text=True)
    assert without_js.status_code == 422 and "write something first" in text
    assert f"Purchase order {order.reference}" in text  # the order page, with the error


def test_a_reader_without_the_order_permission_cannot_comment(
    client, world, make_member, web_login
):
    order = _draft(world)
    web_login(client, world.tenant, make_member(world.tenant, roles=["sales"]))
    resp = client.post(f"/purchase/orders/{order.id}/comments", data={"body": "hi"})
    assert resp.status_code == 403


def _crumbs(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="breadcrumb">(.*?)</nav>', html, re.S)
    assert nav, "no breadcrumbs"
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li.*?</li>", nav[1], re.S)]


def test_purchase_pages_have_breadcrumbs(client, world, buyer):
    order = _draft(world)
    services.confirm_order(order.id)
    ref = services.get_order(order.id).reference
    assert _crumbs(client.get(f"/purchase/orders/{order.id}").get_data(as_text=True)) == [
        "Purchases",
        ref,
    ]
    receive = client.get(f"/purchase/orders/{order.id}/receive").get_data(as_text=True)
    assert _crumbs(receive) == ["Purchases", ref, "Receive"]
    assert f'<a href="/purchase/orders/{order.id}">{ref}</a>' in receive
    assert _crumbs(client.get("/purchase/orders/new").get_data(as_text=True)) == [
        "Purchases",
        "New",
    ]
    supplier = client.get(f"/purchase/suppliers/{world.vendor.id}").get_data(as_text=True)
    assert _crumbs(supplier) == ["Purchases", "Suppliers", "Acme Supplies"]
    for path, last in (("/purchase/board", "Board"), ("/purchase/costs", "Costs")):
        assert _crumbs(client.get(path).get_data(as_text=True))[-1] == last


def test_order_lines_are_labelled_for_people(client, world, buyer):
    order = _draft(world)
    form = client.get(f"/purchase/orders/{order.id}/edit").get_data(as_text=True)
    for label in ("Product", "Quantity", "Unit cost", "Discount %", "Tax %"):
        assert f'aria-label="{label}, line 1"' in form
    assert 'aria-label="discount_pct"' not in form and 'aria-label="unit_cost"' not in form


def _chart(body: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="chart-\d+">(.*?)</script>', body, re.S)
    assert raw, "not a chart"
    return json.loads(raw[1])


def test_the_dashboard_shows_open_orders_and_spend_to_buyers_only(
    client, world, buyer, make_member, web_login
):
    empty = dashboard_cards(client.get("/").get_data(as_text=True))
    assert "data-open-orders>0<" in empty["Open purchase orders"]
    assert "Nothing received in the last 12 months" in empty["Purchase spend by month"]
    assert "data-chart" not in empty["Purchase spend by month"]  # no empty axes
    _draft(world)  # a draft is not open yet
    confirmed = services.confirm_order(_draft(world, "10").id)
    services.receive(
        confirmed.id, {"lines": [{"line_id": str(confirmed.lines[0].id), "quantity": "4"}]}
    )
    services.send_order(_draft(world, "3").id)

    cards = dashboard_cards(client.get("/").get_data(as_text=True))
    assert "data-open-orders>2<" in cards["Open purchase orders"]
    assert "13.00 EUR" in cards["Open purchase orders"]  # 10 x 1 and 3 x 1, no tax
    chart = _chart(cards["Purchase spend by month"])
    assert chart["type"] == "bar"
    assert chart["data"]["labels"] == [utcnow().strftime("%Y-%m")]
    assert chart["data"]["datasets"][0]["data"] == [4.0]

    client.post("/logout")
    web_login(client, world.tenant, make_member(world.tenant, roles=["sales"]))
    cards = dashboard_cards(client.get("/").get_data(as_text=True))
    assert "Open purchase orders" not in cards and "Purchase spend by month" not in cards


def test_the_spend_chart_and_costs_page_never_add_up_two_currencies(client, world, buyer):
    for account, currency, quantity in (
        (world.vendor, "EUR", "4"),
        (world.vendor2, "USD", "7"),
        (world.vendor, "USD", "1"),
    ):
        order = services.create_order(
            {
                "account_id": str(account.id),
                "warehouse_id": str(world.main.id),
                "currency": currency,
                "lines": [
                    {"product_id": str(world.widget.id), "quantity": quantity, "unit_cost": "1"}
                ],
            }
        )
        services.confirm_order(order.id)
        services.receive(
            order.id, {"lines": [{"line_id": str(order.lines[0].id), "quantity": quantity}]}
        )

    chart = _chart(
        dashboard_cards(client.get("/").get_data(as_text=True))["Purchase spend by month"]
    )

    datasets = {d["label"]: d["data"] for d in chart["data"]["datasets"]}
    assert datasets == {"Received value (EUR)": [4.0], "Received value (USD)": [8.0]}
    rows = {(r.supplier, r.currency): r.amount for r in services.spend_by_supplier_month()}
    assert rows == {
        ("Acme Supplies", "EUR"): Decimal("4.00"),
        ("Acme Supplies", "USD"): Decimal("1.00"),
        ("Beta Parts", "USD"): Decimal("7.00"),
    }
    costs = client.get("/purchase/costs").get_data(as_text=True)
    spend = json.loads(re.search(r'id="purchase-spend">(.*?)</script>', costs, re.S)[1])
    stacks = {d["label"]: d["stack"] for d in spend["data"]["datasets"]}
    assert stacks == {
        "Acme Supplies (EUR)": "EUR",
        "Acme Supplies (USD)": "USD",
        "Beta Parts (USD)": "USD",
    }
    assert "7.00 USD" in costs


def test_purchasing_shows_on_the_product_page_through_the_kernels_panels(app, world):
    from core.registry import hook

    _draft(world)
    with app.test_request_context():
        panels = [
            p
            for batch in hook.detail_panels(model_name="inventory_product", record=world.widget)
            for p in batch or []
        ]
        assert [title for title, _html in panels] == ["Purchasing"]
        assert 'data-panel="purchase-product"' in panels[0][1]
        others = hook.detail_panels(model_name="contacts_account", record=world.vendor)
        assert not [p for batch in others for p in batch or [] if p[0] == "Purchasing"]
