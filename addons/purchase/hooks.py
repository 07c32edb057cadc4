"""purchase's hook implementations: routes, panels on contacts' and inventory's pages,
dashboard widgets, the daily reorder job and demo data."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template

from core.auth import current_principal
from core.hookspecs import hookimpl


def _may(permission: str) -> bool:
    principal = current_principal()
    # Pages rendered outside a request (tests, exports) have no principal: show the panel.
    return principal is None or principal.can(permission)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """purchase's own API routes (suppliers, reorder, settings) and its web pages."""
    from addons.purchase.api import bp as api_bp
    from addons.purchase.views import bp as web_bp

    return [api_bp, web_bp]


@hookimpl
def register_api_resources() -> list[Any]:
    """Orders, receipts and supplier prices on the kernel's API toolkit."""
    from addons.purchase.api import orders, receipts, supplier_prices

    return [orders, receipts, supplier_prices]


@hookimpl
def account_panels(account: Any) -> list[Any] | None:
    """On a vendor's account page: its terms and its latest purchase orders."""
    if "vendor" not in (account.kinds or []) or not _may("purchase.orders:read"):
        return None
    from markupsafe import Markup

    from addons.contacts.extensions import Panel
    from addons.purchase import services

    orders = services.list_orders(account_id=account.id, limit=10).items
    html = render_template(
        "purchase/_account_panel.html",
        account=account,
        orders=orders,
        terms=services.get_supplier(account.id),
    )
    # Markup: the template escaped what it shows; the page must not escape it again.
    return [Panel(title="Purchase orders", html=Markup(html), order=40)]


@hookimpl
def detail_panels(model_name: str, record: Any) -> list[tuple[str, Any]] | None:
    """On inventory's product page (the kernel's panel hook): open purchase orders, incoming
    quantity and purchase costs of the product."""
    if model_name != "inventory_product" or not _may("purchase.orders:read"):
        return None
    from addons.purchase import services

    html = render_template(
        "purchase/_product_panel.html",
        product=record,
        rows=services.open_orders_for_product(record.id),
        incoming=services.incoming(record.id),
        history=services.product_history(record.id),
        prices=services.supplier_prices(product_id=record.id),
    )
    return [("Purchasing", html)]


@hookimpl
def dashboard_widgets(principal: Any) -> list[Any] | None:
    """Open purchase orders (how many, what value) and a chart of spend by month, for those
    who may see purchase orders."""
    if not principal.can("purchase.orders:read"):
        return None
    from addons.purchase import services
    from core.web.widgets import ChartWidget, Widget

    open_orders = Widget(
        "Open purchase orders",
        width=4,
        order=30,
        html=render_template(
            "purchase/_open_orders_widget.html", summary=services.open_orders_summary()
        ),
    )
    # One dataset per currency: amounts in different currencies do not add up.
    spend: dict[str, dict[str, Any]] = {}
    for row in services.spend_by_supplier_month():
        by_month = spend.setdefault(row.currency, {})
        by_month[row.month] = by_month.get(row.month, 0) + row.amount
    months = sorted({m for by_month in spend.values() for m in by_month})
    title = "Purchase spend by month"
    if not months:
        # An empty chart is only axes: say so instead.
        chart = Widget(
            title,
            width=8,
            order=31,
            html="<p class='text-body-secondary'>Nothing received in the last 12 months.</p>",
        )
    else:
        chart = ChartWidget(
            title,
            kind="bar",
            width=8,
            order=31,
            labels=months,
            # Display only (Chart.js takes numbers); the costs page has the exact amounts.
            datasets=[
                {
                    "label": f"Received value ({currency})",
                    "data": [float(spend[currency].get(m, 0)) for m in months],
                }
                for currency in sorted(spend)
            ],
        )
    return [open_orders, chart]


@hookimpl
def register_scheduled_jobs() -> list[Any] | None:
    """Daily at 06:00 UTC: draft orders for products below their reorder point."""
    from core.scheduler import ScheduledJob

    return [ScheduledJob(name="reorder-drafts", func=_reorder_job, at="06:00")]


def _reorder_job() -> None:
    from addons.purchase import services

    if services.get_settings().auto_reorder:
        services.create_reorder_drafts()


# trylast: contacts' and inventory's demo data come first (pluggy calls the most recently
# registered addon first), so purchase reuses their warehouse instead of pre-empting it.
@hookimpl(trylast=True)
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """A few vendors' orders, some received (idempotent)."""
    from addons.purchase.demo import load

    load(tenant_id)


@hookimpl
def register_event_handlers() -> list[Any] | None:
    """Mail an order's PDF to the supplier once its sending was committed."""
    from core.events import EventHandler

    return [EventHandler("mail-order", "purchase.order.sent", _mail_order)]


def _mail_order(event: Any) -> None:
    from addons.purchase.documents import mail_order

    mail_order(event.payload["order_id"], event.payload["to"])


@hookimpl
def contacts_merge_references(master_id: uuid.UUID, duplicate_id: uuid.UUID) -> Any:
    """A merged vendor's orders, terms and prices follow it to the master (the master's
    terms and prices win where both have them; the report says which were dropped)."""
    from addons.contacts.extensions import MergeReport
    from addons.purchase import services

    result = services.merge_supplier(master_id, duplicate_id)
    return MergeReport(moved=result.moved, dropped=tuple(result.dropped()))


# --- purchase terms on contacts' account form and API -------------------------------------

PREFIX = "purchase_"
TERMS = ("payment_terms", "lead_time_days", "currency")


@hookimpl
def account_form_sections(account: Any) -> list[Any] | None:
    """A "Purchasing" section on the form of vendors (and of new accounts)."""
    if account is not None and "vendor" not in (account.kinds or []):
        return None
    if not _may("purchase.suppliers:manage"):
        return None
    from addons.contacts.extensions import FormField, FormSection
    from addons.purchase import services

    terms = services.get_supplier(account.id) if account is not None else None
    return [
        FormSection(
            title="Purchasing",
            order=40,
            fields=(
                FormField(
                    f"{PREFIX}payment_terms",
                    "Payment terms",
                    terms.payment_terms if terms else "",
                    help="e.g. 30 days net",
                ),
                FormField(
                    f"{PREFIX}lead_time_days",
                    "Lead time (days)",
                    terms.lead_time_days if terms else "",
                    type="number",
                ),
                FormField(
                    f"{PREFIX}currency",
                    "Purchase currency",
                    terms.currency if terms else "",
                    help="three-letter code, e.g. EUR",
                ),
            ),
        )
    ]


@hookimpl
def account_extra_field_types() -> dict[str, Any] | None:
    """The `purchase_*` fields of an account, for those who may see supplier terms: the API
    document shows them, contacts checks incoming values with them (the bounds of
    purchase's own SupplierInput)."""
    if not _may("purchase.suppliers:read"):
        return None  # as account_extra_fields: the caller's document does not show them
    from marshmallow import fields, validate

    from addons.purchase.schemas import CURRENCY

    return {
        f"{PREFIX}payment_terms": fields.String(allow_none=True, validate=validate.Length(max=100)),
        f"{PREFIX}lead_time_days": fields.Integer(
            allow_none=True, validate=validate.Range(min=0, max=3650)
        ),
        f"{PREFIX}currency": fields.String(allow_none=True, validate=CURRENCY),
    }


@hookimpl
def account_extra_fields(accounts: Any) -> dict[Any, dict[str, Any]] | None:
    """Vendors' purchase terms, as `purchase_*` fields of the accounts in the API and the
    CSV export, for those who may see supplier terms: one query for the whole page."""
    if not _may("purchase.suppliers:read"):
        return None
    from sqlalchemy import select

    from addons.purchase.models import Supplier
    from core.db import session

    ids = [a.id for a in accounts]
    if not ids:
        return None
    # Purchase's own table, read for every account of the page at once.
    terms = session.scalars(select(Supplier).where(Supplier.account_id.in_(ids)))
    return {t.account_id: {f"{PREFIX}{name}": getattr(t, name) for name in TERMS} for t in terms}


def _cleared(name: str) -> Any:
    """What a term holds once cleared (the columns are not nullable)."""
    if name == "currency":
        from addons.purchase import services

        return services.get_settings().default_currency
    return {"payment_terms": "", "lead_time_days": 0}[name]


@hookimpl
def account_extra_fields_received(account: Any, data: Any) -> list[str] | None:
    """Save the `purchase_*` fields sent with an account into purchase's terms: a null (or
    empty) value clears a term; all null for an account without terms does nothing (a
    customer's form sends the empty Purchasing boxes). Those who may not manage supplier
    terms may send back the values they were shown, and get 403 for a change."""
    from addons.purchase import services
    from core.errors import PermissionDenied, ValidationError

    mine = {
        k[len(PREFIX) :]: (None if v == "" else v)
        for k, v in data.items()
        if k.startswith(PREFIX) and k[len(PREFIX) :] in TERMS
    }
    if not mine:
        return None
    claimed = [f"{PREFIX}{k}" for k in mine]
    current = services.get_supplier(account.id)
    stored = {n: getattr(current, n) if current else None for n in TERMS}
    if not _may("purchase.suppliers:manage"):
        # Without read access a value is never "the one shown": only nulls pass.
        shown = stored if _may("purchase.suppliers:read") else dict.fromkeys(TERMS)
        changed = [k for k, v in mine.items() if v is not None and str(v) != str(shown[k])]
        changed += [k for k, v in mine.items() if v is None and shown[k] not in (None, "")]
        if changed:
            raise PermissionDenied(
                "you may not change supplier terms",
                details={f"{PREFIX}{k}": ["you may not change supplier terms"] for k in changed},
            )
        return claimed
    if current is None and all(v is None for v in mine.values()):
        return claimed  # nothing to save, and nothing to clear
    merged = {n: v for n, v in stored.items() if v is not None}
    merged.update({k: _cleared(k) if v is None else v for k, v in mine.items()})
    try:
        services.set_supplier_terms({**merged, "account_id": str(account.id)})
    except ValidationError as exc:
        first = claimed[0]
        raise ValidationError(
            details={
                (f"{PREFIX}{k}" if k in TERMS else first): v
                for k, v in (exc.details or {first: [exc.message]}).items()
            }
        ) from None
    return claimed
