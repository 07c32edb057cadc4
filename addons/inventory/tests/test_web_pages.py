"""inventory's own pages on the kernel's web shell: forms with errors next to their fields
and the input kept, the product's optimistic lock, its activity feed, breadcrumbs, one
Bootstrap, the kernel's chart, and inventory's dashboard widgets."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from addons.inventory import services
from tests.fixtures import dashboard_cards


def login(client: Any, make_member: Any, tenant: Any, roles: list[str]) -> Any:
    user = make_member(tenant, roles=roles)
    r = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
    )
    assert r.status_code in (302, 303), r.data[:300]
    return user


@pytest.fixture()
def manager(client, inv, make_member):
    """A logged-in manager of the inventory fixture's tenant."""
    return login(client, make_member, inv.tenant, ["manager"])


def _field(html: str, name: str) -> str:
    """The markup of the kernel macro's block for field `name` (its input, label, errors)."""
    match = re.search(
        rf'<div class="mb-3[^"]*">(?:(?!<div class="mb-3).)*?id="{name}"(?:(?!<div class="mb-3).)*',
        html,
        re.S,
    )
    assert match, f"no field {name}"
    return match[0]


def _product_form(**changes: Any) -> dict[str, Any]:
    """The product form as a browser posts it: every box, the empty ones empty."""
    form = {
        "sku": "NUT-8",
        "name": "Nut M8",
        "barcode": "",
        "category_id": "",  # "—": no category
        "description": "",
        "uom": "EA",
        "type": "finished_good",
        "status": "active",
        "standard_cost": "0.10",
        "sales_price": "0.25",
        "tax_rate": "21",
        "track_inventory": "1",  # taxable left unticked
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_a_product_form_error_shows_by_its_field_and_keeps_the_input(client, inv, manager):
    resp = client.post("/inventory/products/new", data=_product_form(sku="", sales_price="abc"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    sku = _field(html, "sku")
    assert "is-invalid" in sku and 'aria-describedby="sku-errors"' in sku
    assert re.search(r'id="sku-errors"[^>]*>[^<]*\w', sku)  # the message, by the field
    price = _field(html, "sales_price")
    assert "is-invalid" in price and 'value="abc"' in price
    assert "is-invalid" not in _field(html, "name")
    # What was typed stays: text, selects and both checkboxes as they were.
    assert 'value="Nut M8"' in _field(html, "name") and 'value="21"' in _field(html, "tax_rate")
    assert re.search(r'id="taxable"[^>]*>', html)[0].count("checked") == 0
    assert " checked" in re.search(r'id="track_inventory"[^>]*>', html)[0]
    assert 'class="form-control' in _field(html, "name")  # Bootstrap's form classes
    assert services.list_products()[1] == 1  # only the fixture's WIDGET-1


def test_the_form_creates_a_product_without_a_category_and_edits_it(client, inv, manager, session):
    created = client.post("/inventory/products/new", data=_product_form())
    assert created.status_code == 302, created.get_data(as_text=True)[-2000:]
    product = services.get_product("NUT-8")
    assert product.category_id is None and product.barcode in ("", None)
    assert (product.taxable, product.track_inventory) == (False, True)
    url = f"/inventory/products/{product.id}/edit"
    emptied = client.post(url, data=_product_form(sku="", version=str(product.version)))
    assert emptied.status_code == 422
    assert "is-invalid" in _field(emptied.get_data(as_text=True), "sku")
    assert services.get_product("NUT-8").sku == "NUT-8"
    renamed = client.post(url, data=_product_form(name="Nut M8 zinc", version=str(product.version)))
    assert renamed.status_code == 302
    session.expire_all()
    assert services.get_product("NUT-8").name == "Nut M8 zinc"


def test_a_taken_sku_is_named_by_the_sku_field(client, inv, manager):
    resp = client.post("/inventory/products/new", data=_product_form(sku="widget-1"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    sku = _field(html, "sku")
    assert "is-invalid" in sku and "already used by WIDGET-1" in sku
    assert "SKU widget-1 is taken" in html  # the whole message above the form


def test_two_people_editing_a_product_do_not_overwrite_each_other(
    app, client, inv, manager, make_member, session
):
    other = app.test_client()
    login(other, make_member, inv.tenant, ["manager"])
    url = f"/inventory/products/{inv.widget.id}/edit"
    mine = re.search(r'name="version" value="(\d+)"', client.get(url).get_data(as_text=True))[1]
    theirs = re.search(r'name="version" value="(\d+)"', other.get(url).get_data(as_text=True))[1]
    ok = other.post(url, data=_product_form(sku="WIDGET-1", name="Widget (blue)", version=theirs))
    assert ok.status_code == 302

    stale = client.post(url, data=_product_form(sku="WIDGET-1", name="Widget XL", version=mine))
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "changed by someone else" in html and "Reload the product" in html
    assert 'value="Widget XL"' in _field(html, "name")
    assert f'name="version" value="{mine}"' in html  # saving again is refused again
    session.expire_all()
    assert services.find_product(inv.widget.id).name == "Widget (blue)"


def test_a_stock_form_error_shows_by_its_field_and_keeps_the_input(client, inv, manager):
    services.receive(inv.widget, inv.main, "5")
    resp = client.post(
        "/inventory/stock/issue",
        data={"product": "WIDGET-1", "warehouse": str(inv.main.id), "quantity": "8"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    quantity = _field(html, "quantity")
    assert "is-invalid" in quantity and "only 5 available" in quantity and 'value="8"' in quantity
    assert "insufficient stock of WIDGET-1 in MAIN" in html
    assert 'value="WIDGET-1"' in _field(html, "product")
    assert f'<option value="{inv.main.id}" selected' in _field(html, "warehouse")

    no_reason = client.post(
        "/inventory/stock/adjust",
        data={"product": "WIDGET-1", "warehouse": str(inv.main.id), "quantity": "-1"},
    )
    assert no_reason.status_code == 422
    assert "is-invalid" in _field(no_reason.get_data(as_text=True), "reason")


def test_inventory_pages_load_bootstrap_once(client, inv, manager):
    for path in (
        f"/inventory/products/{inv.widget.id}",
        "/inventory/products/new",
        "/inventory/stock/receive",
        "/inventory/low-stock",
        "/inventory/valuation",
    ):
        html = client.get(path).get_data(as_text=True)
        assert html.count("bootstrap.min.css") == 1, path


def _crumbs(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="breadcrumb">(.*?)</nav>', html, re.S)
    assert nav, "no breadcrumbs"
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li.*?</li>", nav[1], re.S)]


def test_inventory_pages_have_breadcrumbs(client, inv, manager):
    product = f"/inventory/products/{inv.widget.id}"
    assert _crumbs(client.get(product).get_data(as_text=True)) == ["Products", "WIDGET-1"]
    edit = client.get(f"{product}/edit").get_data(as_text=True)
    assert _crumbs(edit) == ["Products", "WIDGET-1", "Edit"]
    assert f'<a href="{product}">WIDGET-1</a>' in edit
    assert _crumbs(client.get("/inventory/products/new").get_data(as_text=True)) == [
        "Products",
        "New",
    ]
    for path, title in (
        ("/inventory/stock/transfer", "Transfer stock"),
        ("/inventory/low-stock", "Low stock"),
        ("/inventory/valuation", "Stock valuation"),
    ):
        assert _crumbs(client.get(path).get_data(as_text=True)) == ["Stock", title], path


def test_the_product_page_has_an_activity_feed_with_comments(client, inv, manager, session):
    services.update_product(inv.widget, {"name": "Widget (blue)"})
    url = f"/inventory/products/{inv.widget.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="activity"' in page and "created the record" in page
    assert "name: Widget → Widget (blue)" in page

    plain = client.post(f"{url}/comments", data={"body": "Check the thread size"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(url)
    assert "Check the thread size" in client.get(url).get_data(as_text=True)
    fragment = client.post(
        f"{url}/comments", data={"body": "M8 confirmed"}, headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "M8 confirmed" in html and "<nav" not in html
    empty = client.post(f"{url}/comments", data={"body": ""})
    assert empty.status_code == 422 and "write something first" in empty.get_data(as_text=True)


def test_the_valuation_chart_is_the_kernels(client, inv, manager):
    services.receive(inv.widget, inv.main, "4", unit_cost="2.50")
    html = client.get("/inventory/valuation").get_data(as_text=True)
    assert '<canvas data-chart="valuation-chart"' in html and "pergola-charts.js" in html
    assert "new Chart(" not in html
    raw = re.search(r'<script type="application/json" id="valuation-chart">(.*?)</script>', html)
    config = json.loads(raw[1])
    assert config["type"] == "bar" and config["data"]["labels"] == ["MAIN"]
    assert config["data"]["datasets"][0]["data"] == [10.0]


def test_the_dashboard_shows_stock_widgets_to_those_who_may_see_reports(client, inv, make_member):
    services.receive(inv.widget, inv.main, "4", unit_cost="2.50")
    services.receive(inv.widget, inv.east, "1", unit_cost="2.50")
    services.set_reorder(inv.widget, inv.main, "10", "20")
    login(client, make_member, inv.tenant, ["manager"])
    cards = dashboard_cards(client.get("/").get_data(as_text=True))
    chart = re.search(
        r'<script type="application/json" id="chart-\d+">(.*?)</script>',
        cards["Stock value by warehouse"],
        re.S,
    )
    data = json.loads(chart[1])["data"]
    assert dict(zip(data["labels"], data["datasets"][0]["data"], strict=True)) == {
        "EAST": 2.5,
        "MAIN": 10.0,
    }
    low = cards["Below reorder point"]
    assert "WIDGET-1" in low and "MAIN: 4 available, reorder point 10" in low

    client.post("/logout")
    # A storekeeper sees the stock of the warehouses assigned to them: here none.
    login(client, make_member, inv.tenant, ["storekeeper"])
    cards = dashboard_cards(client.get("/").get_data(as_text=True))
    assert "No stock valued yet" in cards["Stock value by warehouse"]
    assert "data-chart" not in cards["Stock value by warehouse"]  # no empty axes
    assert "Nothing is below its reorder point" in cards["Below reorder point"]

    client.post("/logout")
    login(client, make_member, inv.tenant, ["sales"])  # products and stock, no reports
    cards = dashboard_cards(client.get("/").get_data(as_text=True))
    assert "Stock value by warehouse" not in cards and "Below reorder point" not in cards
