"""purchase's hook implementations: routes, panels on contacts' and inventory's pages,
the daily reorder job and demo data."""

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
    """The purchase API and web pages."""
    from addons.purchase.api import bp as api_bp
    from addons.purchase.views import bp as web_bp

    return [api_bp, web_bp]


@hookimpl
def account_panels(account: Any) -> list[Any] | None:
    """On a vendor's account page: its terms and its latest purchase orders."""
    if "vendor" not in (account.kinds or []) or not _may("purchase.orders:read"):
        return None
    from markupsafe import Markup

    from addons.contacts.extensions import Panel
    from addons.purchase import services

    orders = services.list_orders(account_id=account.id, limit=10).items
    html = render_template("purchase/_account_panel.html", account=account, orders=orders,
                           terms=services.get_supplier(account.id))
    # Markup: the template escaped what it shows; the page must not escape it again.
    return [Panel(title="Purchase orders", html=Markup(html), order=40)]


@hookimpl
def product_page_panels(product: Any) -> list[dict[str, Any]] | None:
    """On a product page: open purchase orders, incoming quantity and purchase costs."""
    if not _may("purchase.orders:read"):
        return None
    from markupsafe import Markup

    from addons.purchase import services

    html = render_template("purchase/_product_panel.html", product=product,
                           rows=services.open_orders_for_product(product.id),
                           incoming=services.incoming(product.id),
                           history=services.product_history(product.id),
                           prices=services.supplier_prices(product_id=product.id))
    return [{"title": "Purchasing", "html": Markup(html)}]


@hookimpl
def register_scheduled_jobs() -> list[Any] | None:
    """Daily at 06:00 UTC: draft orders for products below their reorder point."""
    from core.scheduler import ScheduledJob

    return [ScheduledJob(name="reorder-drafts", func=_reorder_job, at="06:00")]


def _reorder_job() -> None:
    from addons.purchase import services

    if services.get_settings().auto_reorder:
        services.create_reorder_drafts()


@hookimpl
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
