# ruff: noqa: F811 - the kernel's browser fixtures are imported, then taken as arguments
"""inventory's and purchase's pages in a real browser (the kernel's browser-test server:
CSRF on, real commits): two people saving one order, comments through htmx, the form
errors by their fields, the dashboard's charts. Screenshots under test-artifacts/browser/."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.test_web_browser import (  # noqa: F401 - the kernel's browser fixtures
    Live,
    artifacts,
    browser,
    live,
    log_in,
    page,
    shot,
)

pytestmark = pytest.mark.browser


def _world(live: Live) -> SimpleNamespace:
    """A company with contacts, inventory and purchase: a vendor, stock below its reorder
    point, a draft order and a received one."""
    from addons.contacts import services as contacts
    from addons.inventory import services as inventory
    from addons.purchase import services as purchase
    from core.db import session
    from core.tenancy import tenant_context

    tenant = live.tenant("Shop Browser Ltd", ["contacts", "inventory", "purchase"])
    with live.app.app_context(), tenant_context(tenant.id):
        vendor = contacts.create_account({"name": "Acme Supplies", "kinds": ["vendor"]})
        main = inventory.create_warehouse({"code": "MAIN", "name": "Main"})
        widget = inventory.create_product({"sku": "WIDGET", "name": "Widget"})
        inventory.receive(widget, main, "1", unit_cost="2.50")
        inventory.set_reorder(widget, main, "10", "20")
        order = purchase.create_order(
            {
                "account_id": str(vendor.id),
                "warehouse_id": str(main.id),
                "lines": [{"product_id": str(widget.id), "quantity": "2", "unit_cost": "1"}],
            }
        )
        received = purchase.confirm_order(
            purchase.create_order(
                {
                    "account_id": str(vendor.id),
                    "warehouse_id": str(main.id),
                    "lines": [{"product_id": str(widget.id), "quantity": "3", "unit_cost": "2"}],
                }
            ).id
        )
        purchase.receive(
            received.id, {"lines": [{"line_id": str(received.lines[0].id), "quantity": "3"}]}
        )
        session.commit()
        return SimpleNamespace(email=live.admin(tenant), order=order.id, product=widget.id)


def test_two_people_saving_one_order_do_not_overwrite_each_other(
    page: Any, browser: Any, live: Live
) -> None:
    w = _world(live)
    edit = f"/purchase/orders/{w.order}/edit"
    other = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 860})
    try:
        theirs = other.new_page()
        for tab in (page, theirs):
            log_in(tab, w.email)
            tab.goto(edit)
        theirs.get_by_label("Notes").fill("Call before delivery")
        theirs.get_by_role("button", name="Save draft").click()
        theirs.wait_for_url(f"**/purchase/orders/{w.order}")
    finally:
        other.close()

    page.get_by_label("Notes").fill("Leave at the gate")
    page.get_by_label("Quantity, line 1").fill("7")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state()
    alert = page.get_by_test_id("form-errors")
    assert "changed by someone else" in alert.inner_text()
    assert page.get_by_label("Notes").input_value() == "Leave at the gate"
    assert page.get_by_label("Quantity, line 1").input_value() == "7"
    shot(page, "purchase-01-stale-order")

    page.get_by_role("link", name="Reload the order").click()
    page.wait_for_load_state()
    assert page.get_by_label("Notes").input_value() == "Call before delivery"
    page.get_by_label("Notes").fill("Call first, then leave at the gate")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(f"**/purchase/orders/{w.order}")
    assert "Order saved" in page.locator(".alert").first.inner_text()
    assert "Call first, then leave at the gate" in page.content()


def test_comments_on_an_order_and_a_product_through_htmx(page: Any, live: Live) -> None:
    w = _world(live)
    log_in(page, w.email)
    for path, text in (
        (f"/purchase/orders/{w.order}", "Supplier promised Friday"),
        (f"/inventory/products/{w.product}", "Check the thread size"),
    ):
        page.goto(path)
        feed = page.locator("#activity")
        assert "created the record" in feed.inner_text()
        page.get_by_role("button", name="Comment").click()  # empty: refused by the box
        assert "write something first" in page.locator("#comment-error").inner_text()
        page.get_by_label("Add a comment").fill(text)
        page.get_by_role("button", name="Comment").click()
        page.wait_for_function(
            "t => document.querySelector('#activity').innerText.includes(t)", arg=text
        )
        assert page.url.endswith(path)  # swapped in place, no reload
        assert page.locator("#comment-error").count() == 0
    shot(page, "purchase-02-product-activity")


def test_a_product_form_error_is_shown_by_its_field(page: Any, live: Live) -> None:
    w = _world(live)
    log_in(page, w.email)
    page.goto("/inventory/products/new")
    page.get_by_label("SKU").fill("widget")  # taken, whatever its case
    page.get_by_label("Name").fill("Another widget")
    page.get_by_label("Taxable").uncheck()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    sku = page.get_by_label("SKU")
    assert sku.get_attribute("aria-invalid") == "true"
    assert "already used by WIDGET" in page.locator("#sku-errors").inner_text()
    assert page.get_by_label("Name").input_value() == "Another widget"
    assert not page.get_by_label("Taxable").is_checked()
    assert page.get_by_label("Track inventory").is_checked()
    shot(page, "purchase-03-product-form-error")


def test_the_dashboard_draws_inventory_and_purchase_charts(page: Any, live: Live) -> None:
    w = _world(live)
    log_in(page, w.email)
    page.wait_for_function("() => window.Chart !== undefined")
    for title in (
        "Stock value by warehouse",
        "Below reorder point",
        "Open purchase orders",
        "Purchase spend by month",
    ):
        assert page.get_by_role("region", name=title).is_visible(), title
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".filter(c => window.Chart.getChart(c)).length"
    )
    assert drawn == 2
    assert "WIDGET" in page.get_by_role("region", name="Below reorder point").inner_text()
    shot(page, "purchase-04-dashboard")
