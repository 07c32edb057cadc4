"""inventory's web pages (thin: parse the form, call a service, render or redirect)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from addons.inventory import services
from core.auth import require_permission
from core.db import session
from core.errors import DomainError
from core.registry import hook

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


@web.get("/products")
@require_permission("inventory.products:read")
def product_list() -> Any:
    """Products with on-hand, reserved and available columns."""
    page = max(int(request.args.get("page", "1") or 1), 1)
    rows, total = services.list_products(
        search=request.args.get("q", ""), limit=50, offset=(page - 1) * 50
    )
    return render_template(
        "inventory/product_list.html",
        rows=rows,
        total=total,
        page=page,
        q=request.args.get("q", ""),
        pages=max((total + 49) // 50, 1),
    )


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


@web.route("/warehouses", methods=["GET"])
@require_permission("inventory.warehouses:read")
def warehouse_list() -> Any:
    """Warehouses the user may see."""
    return render_template(
        "inventory/warehouses.html", warehouses=services.list_warehouses(), error=None, values={}
    )


@web.route("/warehouses", methods=["POST"])
@require_permission("inventory.warehouses:manage")
def warehouse_create() -> Any:
    """Create a warehouse."""
    try:
        services.create_warehouse(_form())
        session.commit()
    except DomainError as exc:
        session.rollback()
        return render_template(
            "inventory/warehouses.html",
            error=exc,
            values=_form(),
            warehouses=services.list_warehouses(),
        ), 422
    flash("Warehouse created", "success")
    return redirect(url_for(".warehouse_list"))


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
    """Every product as CSV (the format `pergola inventory import` reads)."""
    return Response(
        services.export_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=products.csv"},
    )
