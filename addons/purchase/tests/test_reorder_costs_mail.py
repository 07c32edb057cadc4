"""Reorder suggestions, cost tracking, mailing an order to its supplier, and demo data."""

from __future__ import annotations

import email
from decimal import Decimal
from pathlib import Path

import pytest

from addons.inventory import services as inventory
from addons.purchase import documents, services
from core.errors import ValidationError


def _price(w, account, product, price, min_qty="1"):
    services.set_supplier_price(
        {
            "account_id": str(account.id),
            "product_id": str(product.id),
            "price": price,
            "min_quantity": min_qty,
        }
    )


def test_reorder_drafts_group_by_supplier_take_the_cheapest_and_count_incoming(world):
    inventory.set_reorder(world.widget, world.main, "20", "50")
    inventory.set_reorder(world.gadget, world.main, "5", "10")
    _price(world, world.vendor, world.widget, "2.00")
    _price(world, world.vendor2, world.widget, "1.80", "100")  # cheaper, but only from 100
    _price(world, world.vendor2, world.gadget, "9.00")
    services.set_supplier_terms({"account_id": str(world.vendor2.id), "lead_time_days": 4})
    result = services.create_reorder_drafts()
    by_vendor = {o.account_id: o for o in result.orders}
    assert set(by_vendor) == {world.vendor.id, world.vendor2.id} and not result.skipped
    assert [
        (ln.product_id, ln.quantity, ln.unit_cost) for ln in by_vendor[world.vendor.id].lines
    ] == [(world.widget.id, Decimal(50), Decimal(2))]
    assert by_vendor[world.vendor2.id].expected_date is not None
    # Once those are confirmed the shortage is covered: no second round of drafts.
    for order in result.orders:
        services.confirm_order(order.id)
    again = services.create_reorder_drafts()
    assert again.orders == [] and again.skipped == []


def test_products_without_a_supplier_price_are_reported_not_ordered(world):
    inventory.set_reorder(world.widget, world.main, "5")
    result = services.create_reorder_drafts()
    assert result.orders == []
    assert [s.reason for s in result.skipped] == ["no supplier price for this product"]


def test_spend_by_supplier_and_month_subtracts_returns(world):
    order = services.confirm_order(
        services.create_order(
            {
                "account_id": str(world.vendor.id),
                "warehouse_id": str(world.main.id),
                "lines": [
                    {"product_id": str(world.widget.id), "quantity": "10", "unit_cost": "2.50"}
                ],
            }
        ).id
    )
    line = str(order.lines[0].id)
    services.receive(order.id, {"lines": [{"line_id": line, "quantity": "10"}]})
    services.return_goods(order.id, {"lines": [{"line_id": line, "quantity": "2"}]})
    [row] = services.spend_by_supplier_month()
    assert row.supplier == "Acme Supplies" and row.amount == Decimal("20.00")
    assert len(row.month) == 7 and row.month[4] == "-"


def test_sending_mails_the_pdf_to_the_supplier(app, world, tmp_path):
    order = services.create_order(
        {
            "account_id": str(world.vendor.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "3", "unit_cost": "4"}],
        }
    )
    documents.send_to_supplier(order.id)
    assert order.state == "sent" and order.number.startswith("PO-")
    folder = Path(app.instance_path) / "mail"
    before = set(folder.glob("*.eml")) if folder.exists() else set()
    documents.mail_order(order.id, "orders@acme.example")
    [path] = set(folder.glob("*.eml")) - before
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "orders@acme.example" and order.number in message["Subject"]
    [pdf] = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"{order.number}.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")


def test_sending_to_a_supplier_without_email_is_refused(world):
    order = services.create_order(
        {
            "account_id": str(world.vendor2.id),
            "warehouse_id": str(world.main.id),
            "lines": [{"product_id": str(world.widget.id), "quantity": "1"}],
        }
    )
    with pytest.raises(ValidationError, match="no email address"):
        documents.send_to_supplier(order.id)
    assert order.state == "draft" and order.number is None


def test_demo_data_is_idempotent(world):
    from addons.purchase.demo import load

    load(world.tenant.id)
    first = services.list_orders(limit=200).total
    load(world.tenant.id)
    assert services.list_orders(limit=200).total == first >= 5
    states = {o.state for o in services.list_orders(limit=200).items}
    assert {"draft", "sent", "received", "partially_received"} <= states


def test_the_daily_job_drafts_orders_only_where_the_tenant_asked_for_it(world):
    from addons.purchase.hooks import _reorder_job, register_scheduled_jobs

    [job] = register_scheduled_jobs()
    assert job.name == "reorder-drafts" and job.at == "06:00"
    inventory.set_reorder(world.widget, world.main, "5")
    _price(world, world.vendor, world.widget, "2.00")
    _reorder_job()
    assert services.list_orders().total == 0
    services.update_settings({"auto_reorder": True})
    _reorder_job()
    assert services.list_orders(state="draft").total == 1
