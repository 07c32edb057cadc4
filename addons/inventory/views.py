"""inventory's web pages (thin: parse the form, call a service, render or redirect).

Warehouses are the kernel's generic pages (`core.web.views.ModelViews`: list, CSV, form,
detail with activity); the products list and its CSV export are the generic list with
inventory's search and stock totals, while the product page and form, the stock forms and
the reports stay written out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from addons.inventory import services
from addons.inventory.models import PRODUCT_STATUSES, PRODUCT_TYPES, Product, Warehouse
from addons.inventory.schemas import WarehouseSchema
from core.auth import require_permission
from core.db import session
from core.errors import DomainError
from core.registry import hook
from core.web.views import Column, Filter, ModelViews

web = Blueprint("inventory_web", __name__, url_prefix="/inventory")


def _panels(results: Any) -> list[dict[str, Any]]:
    """Flatten hook results; plain strings are escaped, `Markup` is trusted."""
    out = []
    for batch in results or []:
        for panel in batch or []:
            html = panel.get("html", "")
            out.append(
                {
                    "title": panel.get("title", ""),
                    "html": html if isinstance(html, Markup) else escape(html),
                }
            )
    return out


def _form() -> dict[str, Any]:
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


class _Stocked:
    """A product as the list shows it: its fields plus on hand, reserved and available."""

    def __init__(self, product: Product, on_hand: Decimal, reserved: Decimal) -> None:
        self.product = product
        self.on_hand = on_hand
        self.reserved = reserved
        self.available = on_hand - reserved

    def __getattr__(self, name: str) -> Any:
        return getattr(self.product, name)


def _with_stock(products: Sequence[Product]) -> list[_Stocked]:
    totals = services.stock_totals(products)
    return [_Stocked(p, *totals[p.id]) for p in products]


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


products = ModelViews(
    name="products",
    model=Product,
    title="Products",
    singular="Product",
    pages=("list", "export"),
    path="/products",
    endpoints={"list": "product_list", "export": "product_export"},
    list_template="inventory/product_list.html",
    columns=[
        Column("sku", "SKU", link=True),
        Column("name"),
        Column("type", format=lambda t: t.replace("_", " ")),
        Column("status"),
        Column("uom", "UoM"),
        Column("on_hand", "On hand", format=_qty),
        Column("reserved", format=_qty),
        Column("available", format=_qty),
    ],
    query=lambda state: services.products_query(state.q),
    search_hint="SKU, name or barcode",
    filters=[
        Filter("type", choices=[(t, t.replace("_", " ").capitalize()) for t in PRODUCT_TYPES]),
        Filter("status", choices=[(s, s.capitalize()) for s in PRODUCT_STATUSES]),
    ],
    default_sort="sku",
    rows=_with_stock,
    permissions={"read": "inventory.products:read", "create": "inventory.products:create"},
    detail_url=lambda row: url_for("inventory_web.product_detail", product_id=row.id),
    new_url=lambda: url_for("inventory_web.product_new"),
    # The format `pergola inventory import` reads, so an export (filtered or not) reads back.
    export=services.export_csv,
)
products.register(web)

warehouses = ModelViews(
    name="warehouses",
    model=Warehouse,
    schema=WarehouseSchema,
    title="Warehouses",
    singular="Warehouse",
    endpoints={"list": "warehouse_list"},
    list_template="inventory/warehouse_list.html",
    columns=[
        Column("code", link=True),
        Column("name", link=True),
        Column("address", sortable=False),
        Column("active"),
    ],
    search=["code", "name", "address"],
    filters=[Filter("active", choices=[("true", "Active"), ("false", "Inactive")])],
    default_sort="code",
    permissions={
        "read": "inventory.warehouses:read",
        "create": "inventory.warehouses:manage",
        "update": "inventory.warehouses:manage",
    },
    create=services.create_warehouse,
    update=services.update_warehouse,
    # The service keeps the code (a reference on paper): the form must not offer to change it.
    readonly_on_edit=("code",),
    record_label=lambda w: f"{w.code} {w.name}",
)
warehouses.register(web)


@web.get("/products/<product_id>")
@require_permission("inventory.products:read")
def product_detail(product_id: str) -> Any:
    """A product: stock per warehouse, its movement history (keyset-paged), addon panels."""
    product = services.find_product(product_id)
    moves, nxt = services.movements(
        product=product, limit=25, cursor=request.args.get("cursor") or None
    )
    panels = _panels(hook.product_page_panels(product=product))
    return render_template(
        "inventory/product_detail.html",
        product=product,
        levels=services.stock_levels(product),
        moves=moves,
        next_cursor=nxt,
        panels=panels,
        paths=services.category_paths(),
    )


def _product_form(product: Any, error: DomainError | None = None, values: Any = None) -> Any:
    sections = _panels(hook.product_form_sections(product=product))
    return render_template(
        "inventory/product_form.html",
        product=product,
        error=error,
        values=values or {},
        sections=sections,
        uoms=services.uom_codes(),
        paths=services.category_paths(),
    ), 422 if error else 200


@web.route("/products/new", methods=["GET", "POST"])
@require_permission("inventory.products:create")
def product_new() -> Any:
    """Create a product."""
    if request.method == "GET":
        return _product_form(None)
    data = _form()
    for flag in ("taxable", "track_inventory"):
        data[flag] = flag in request.form
    try:
        product = services.create_product(data)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _product_form(None, exc, data)
    flash(f"Product {product.sku} created", "success")
    return redirect(url_for(".product_detail", product_id=product.id))


@web.route("/products/<product_id>/edit", methods=["GET", "POST"])
@require_permission("inventory.products:update")
def product_edit(product_id: str) -> Any:
    """Edit a product (the form carries its version: no lost updates)."""
    product = services.find_product(product_id)
    if request.method == "GET":
        return _product_form(product)
    data = _form()
    for flag in ("taxable", "track_inventory"):
        data[flag] = flag in request.form
    try:
        services.update_product(product, data)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _product_form(services.find_product(product_id), exc, data)
    flash("Saved", "success")
    return redirect(url_for(".product_detail", product_id=product.id))


def _stock_form(action: str) -> Any:
    """GET shows the form, POST calls the service and shows the error or redirects."""
    error = None
    values = _form() if request.method == "POST" else dict(request.args)
    if request.method == "POST":
        try:
            product = values.get("product", "")
            if action == "receive":
                services.receive(
                    product,
                    values.get("warehouse"),
                    values.get("quantity"),
                    unit_cost=values.get("unit_cost") or None,
                    reason=values.get("reason", ""),
                )
            elif action == "issue":
                services.issue(
                    product,
                    values.get("warehouse"),
                    values.get("quantity"),
                    reason=values.get("reason", ""),
                )
            elif action == "adjust":
                services.adjust(
                    product,
                    values.get("warehouse"),
                    values.get("quantity"),
                    reason=values.get("reason", ""),
                )
            else:
                services.transfer(
                    product,
                    values.get("from_warehouse"),
                    values.get("to_warehouse"),
                    values.get("quantity"),
                    reason=values.get("reason", ""),
                )
            session.commit()
            flash(f"Stock {action} recorded", "success")
            p = services.get_product(product)
            return redirect(url_for(".product_detail", product_id=p.id))
        except DomainError as exc:
            session.rollback()
            error = exc
    return render_template(
        "inventory/stock_form.html",
        action=action,
        error=error,
        values=values,
        warehouses=services.list_warehouses(include_inactive=False),
    ), 422 if error else 200


@web.route("/stock/receive", methods=["GET", "POST"])
@require_permission("inventory.stock:receive")
def stock_receive() -> Any:
    """Receive goods."""
    return _stock_form("receive")


@web.route("/stock/issue", methods=["GET", "POST"])
@require_permission("inventory.stock:issue")
def stock_issue() -> Any:
    """Issue goods."""
    return _stock_form("issue")


@web.route("/stock/transfer", methods=["GET", "POST"])
@require_permission("inventory.stock:transfer")
def stock_transfer() -> Any:
    """Transfer goods between warehouses."""
    return _stock_form("transfer")


@web.route("/stock/adjust", methods=["GET", "POST"])
@require_permission("inventory.stock:adjust")
def stock_adjust() -> Any:
    """Adjust stock by hand, with a reason."""
    return _stock_form("adjust")


@web.route("/warehouses", methods=["POST"])
@require_permission("inventory.warehouses:manage")
def warehouse_create() -> Any:
    """Where the old list page's form posted (code, name, address; active): create, show it."""
    try:
        warehouse = services.create_warehouse(_form())
        session.commit()
    except DomainError as exc:
        session.rollback()
        flash(f"Warehouse not created — {exc.message}", "danger")
        return redirect(url_for(".warehouses_new"), 303)
    flash("Warehouse created", "success")
    return redirect(url_for(".warehouses_detail", record_id=warehouse.id), 303)


@web.get("/low-stock")
@require_permission("inventory.reports:read")
def low_stock() -> Any:
    """Levels below their reorder point."""
    return render_template("inventory/low_stock.html", rows=services.low_stock())


@web.get("/valuation")
@require_permission("inventory.reports:read")
def valuation() -> Any:
    """Stock value per warehouse and per category, with a chart."""
    by = request.args.get("by", "warehouse")
    rows = services.valuation(by)
    chart = {
        "labels": [r["code"] or r["name"] for r in rows]
        if by == "warehouse"
        else [r["name"] for r in rows],
        "values": [float(r["value"]) for r in rows],
    }  # display only: the table is exact
    return render_template(
        "inventory/valuation.html",
        rows=rows,
        by=by,
        total=sum((r["value"] for r in rows), Decimal(0)),
        chart_json=Markup(json.dumps(chart).replace("<", "\\u003c")),
    )


@web.get("/products.csv")
@require_permission("inventory.products:read")
def products_csv() -> Any:
    """The old export URL: the products list's CSV (every product unless filtered)."""
    return redirect(url_for(".product_export", **request.args), 308)
