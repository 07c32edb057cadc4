"""purchase's web pages: order list and board, the order form, receiving, costs, suppliers.

Thin, like the API: read the form, call a service, render; errors re-show the form. The
orders list and its CSV export are the kernel's generic list (`core.web.views.ModelViews`)
over `services.orders_query`; the board, the htmx order form and the rest stay written out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from addons.purchase import partners, services
from addons.purchase.models import ORDER_STATES, PurchaseOrder
from core.auth import require_permission
from core.db import session
from core.errors import Conflict, DomainError, ValidationError
from core.web.record_page import Chatter, detail_panels
from core.web.views import Column, Filter, ModelViews

bp = Blueprint("purchase_web", __name__, url_prefix="/purchase")


@bp.app_template_filter("qty")
def qty(value: Any) -> str:
    """A quantity without trailing zeros and never in exponent form: 10, 2.5."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"


BOARD_STATES = ("draft", "sent", "confirmed", "partially_received", "received")
LINE_FIELDS = ("product_id", "quantity", "unit_cost", "tax_rate", "discount_pct", "id")


def _lines_from_form(form: MultiDict[str, str]) -> list[dict[str, str]]:
    """Line rows arrive as parallel lists (line-product_id, line-quantity, ...)."""
    columns = {f: form.getlist(f"line-{f}") for f in LINE_FIELDS}
    count = len(columns["product_id"])
    lines = []
    for i in range(count):
        row = {f: (columns[f][i] if i < len(columns[f]) else "") for f in LINE_FIELDS}
        if not row["product_id"] and not row["quantity"]:
            continue  # an empty row the user added and left blank
        lines.append({k: v for k, v in row.items() if v != ""})
    return lines


def _order_data(form: MultiDict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        k: form.get(k, "")
        for k in ("account_id", "warehouse_id", "expected_date", "currency", "notes")
    }
    data["lines"] = _lines_from_form(form)
    return data


def _crumbs(*trail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    """Breadcrumbs of a purchase page: the app (its orders list) first, then `trail`."""
    return [("Purchases", url_for("purchase_web.order_list")), *trail]


def _order_crumbs(order: PurchaseOrder, *trail: tuple[str, str | None]) -> list[Any]:
    here = url_for("purchase_web.order_detail", order_id=order.id) if trail else None
    return _crumbs((order.reference, here), *trail)


def _choices() -> dict[str, Any]:
    from addons.inventory import services as inventory

    products, _total = inventory.list_products(status="active", limit=500)
    return {
        "vendors": partners.vendors(),
        "warehouses": inventory.list_warehouses(include_inactive=False),
        "products": [
            r["product"]
            for r in products
            if r["product"].type != "service" and r["product"].track_inventory
        ],
    }


class _Named:
    """An order as the list shows it: its fields plus the supplier's name."""

    def __init__(self, order: PurchaseOrder, supplier: str) -> None:
        self.order = order
        self.supplier = supplier

    def __getattr__(self, name: str) -> Any:
        return getattr(self.order, name)


def _with_suppliers(orders: Sequence[PurchaseOrder]) -> list[_Named]:
    names = partners.account_names({o.account_id for o in orders})
    return [_Named(o, names.get(o.account_id, "")) for o in orders]


def _state_cell(order: Any) -> Markup:
    return Markup(render_template("purchase/_state.html", state=order.state))


orders = ModelViews(
    name="orders",
    model=PurchaseOrder,
    title="Purchase orders",
    singular="Order",
    pages=("list", "export"),
    path="/orders",
    endpoints={"list": "order_list", "export": "order_export"},
    list_template="purchase/order_list.html",
    columns=[
        Column("number", "Number", link=True, format=lambda n: n or "Draft"),
        Column("supplier"),
        Column("state", html=_state_cell, format=lambda s: s.replace("_", " ")),
        Column("order_date", "Ordered"),
        Column("expected_date", "Expected"),
        Column("amount_total", "Total"),
        Column("currency", sortable=False),
    ],
    query=lambda state: services.orders_query(q=state.q or None),
    search_hint="Number",
    filters=[
        Filter("state", choices=[(s, s.replace("_", " ")) for s in ORDER_STATES], arg="state")
    ],
    default_sort="-created_at",
    rows=_with_suppliers,
    permissions={"read": "purchase.orders:read", "create": "purchase.orders:create"},
    detail_url=lambda o: url_for("purchase_web.order_detail", order_id=o.id),
    new_url=lambda: url_for("purchase_web.order_new"),
)
orders.register(bp)


@bp.get("/board")
@require_permission("purchase.orders:read")
def order_board() -> Any:
    """Open orders as columns by state."""
    page = services.list_orders(state=list(BOARD_STATES), limit=500)
    names = partners.account_names({o.account_id for o in page.items})
    columns = {s: [o for o in page.items if o.state == s] for s in BOARD_STATES}
    return render_template(
        "purchase/order_board.html",
        columns=columns,
        names=names,
        breadcrumbs=_crumbs(("Board", None)),
    )


@bp.route("/orders/new", methods=["GET", "POST"])
@require_permission("purchase.orders:create")
def order_new() -> Any:
    """The order form for a new draft."""
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {"lines": [{}], "account_id": request.args.get("account_id", "")}
    if request.method == "POST":
        data = _order_data(request.form)
        try:
            order = services.create_order(data)
            session.commit()
            flash("Draft order created", "success")
            return redirect(url_for(".order_detail", order_id=order.id))
        except ValidationError as exc:
            session.rollback()
            errors = exc.details or {"body": [exc.message]}
    return render_template(
        "purchase/order_form.html",
        order=None,
        data=data,
        errors=errors,
        totals=_preview(data),
        breadcrumbs=_crumbs(("New", None)),
        **_choices(),
    ), 422 if errors else 200


@bp.route("/orders/<uuid:order_id>/edit", methods=["GET", "POST"])
@require_permission("purchase.orders:update")
def order_edit(order_id: Any) -> Any:
    """The order form for a draft or sent order (it carries the order's version: a save
    over someone else's change is refused with a message, and what was typed stays)."""
    order = services.get_order(order_id)
    errors: dict[str, list[str]] = {}
    status, stale = 200, ""
    if request.method == "POST":
        data = _order_data(request.form)
        # The version the form was opened at; the service refuses it once the order moved on.
        if request.form.get("version"):
            data["version"] = request.form["version"]
        try:
            services.update_order(order_id, data, partial=False)
            session.commit()
            flash("Order saved", "success")
            return redirect(url_for(".order_detail", order_id=order_id))
        except Conflict as exc:
            # A stale version, or a state change meanwhile (confirmed, cancelled): nothing
            # was saved; the form keeps the user's input and the version they started from.
            session.rollback()
            status, stale = 409, exc.message
            order = services.get_order(order_id)
        except DomainError as exc:
            session.rollback()
            status = 422
            errors = getattr(exc, "details", None) or {"body": [exc.message]}
    else:
        data = {
            "account_id": str(order.account_id),
            "warehouse_id": str(order.warehouse_id),
            "expected_date": order.expected_date.isoformat() if order.expected_date else "",
            "currency": order.currency,
            "notes": order.notes,
            "version": str(order.version),
            "lines": [{f: str(getattr(ln, f)) for f in LINE_FIELDS} for ln in order.lines],
        }
    return render_template(
        "purchase/order_form.html",
        order=order,
        data=data,
        errors=errors,
        stale=stale,
        totals=_preview(data),
        breadcrumbs=_order_crumbs(order, ("Edit", None)),
        **_choices(),
    ), status


def _preview(data: dict[str, Any]) -> services.Totals:
    """Totals of what the form holds now, tolerant of half-typed numbers."""
    rows = []
    for line in data.get("lines", []):
        row = {}
        for f in ("quantity", "unit_cost", "tax_rate", "discount_pct"):
            try:
                row[f] = Decimal(str(line.get(f) or 0))
            except InvalidOperation:
                row[f] = Decimal(0)
        rows.append(row)
    return services.compute_totals(rows, data.get("currency") or "EUR")


@bp.post("/orders/form/line")
@require_permission("purchase.orders:create")
def order_form_line() -> Any:
    """htmx: one more empty line row."""
    return render_template(
        "purchase/_line_row.html", line={}, i=request.args.get("i", "new"), errors={}, **_choices()
    )


@bp.post("/orders/form/totals")
@require_permission("purchase.orders:create")
def order_form_totals() -> Any:
    """htmx: the totals box for what the form holds now."""
    data = _order_data(request.form)
    return render_template(
        "purchase/_totals.html",
        totals=_preview(data),
        currency=request.form.get("currency") or "EUR",
    )


order_feed = Chatter(
    PurchaseOrder.__tablename__,
    lambda rid: url_for("purchase_web.order_comment", order_id=rid),
)


@bp.get("/orders/<uuid:order_id>")
@require_permission("purchase.orders:read")
def order_detail(order_id: Any, comment_error: str = "") -> Any:
    """One order: lines, receipts, the actions its state allows, other addons' panels and
    the activity feed (its changes and comments)."""
    order = services.get_order(order_id)
    receipts, _total = services.list_receipts(order_id=order.id)
    return render_template(
        "purchase/order_detail.html",
        order=order,
        receipts=receipts,
        supplier=partners.account_names([order.account_id])[order.account_id],
        panels=detail_panels(PurchaseOrder.__tablename__, order),
        breadcrumbs=_order_crumbs(order),
        **order_feed.context(order, comment_error),
    ), 422 if comment_error else 200


@bp.post("/orders/<uuid:order_id>/comments")
@require_permission("purchase.orders:read")
def order_comment(order_id: Any) -> Any:
    """Comment on the order (htmx swaps in the new feed; without JavaScript, a redirect)."""
    return order_feed.post_comment(
        services.get_order(order_id),
        page=lambda error: order_detail(order_id, comment_error=error),
        detail_url=url_for(".order_detail", order_id=order_id),
    )


_ACTIONS = {
    "confirm": ("purchase.orders:confirm", services.confirm_order, "Order confirmed"),
    "cancel": ("purchase.orders:cancel", services.cancel_order, "Order cancelled"),
    "close": ("purchase.orders:cancel", services.close_order, "Order closed"),
}


@bp.post("/orders/<uuid:order_id>/confirm")
@require_permission("purchase.orders:confirm")
def order_confirm(order_id: Any) -> Any:
    """Confirm the order."""
    return _act(order_id, "confirm")


@bp.post("/orders/<uuid:order_id>/cancel")
@require_permission("purchase.orders:cancel")
def order_cancel(order_id: Any) -> Any:
    """Cancel the order."""
    return _act(order_id, "cancel")


@bp.post("/orders/<uuid:order_id>/close")
@require_permission("purchase.orders:cancel")
def order_close(order_id: Any) -> Any:
    """Close the order."""
    return _act(order_id, "close")


def _act(order_id: Any, name: str) -> Any:
    _perm, action, message = _ACTIONS[name]
    try:
        action(order_id)
        session.commit()
        flash(message, "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for(".order_detail", order_id=order_id))


@bp.post("/orders/<uuid:order_id>/send")
@require_permission("purchase.orders:confirm")
def order_send(order_id: Any) -> Any:
    """Mail the PDF to the supplier."""
    from addons.purchase.documents import send_to_supplier

    try:
        send_to_supplier(order_id, to=request.form.get("to") or None)
        session.commit()
        flash("Order sent to the supplier", "success")
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for(".order_detail", order_id=order_id))


@bp.get("/orders/<uuid:order_id>/pdf")
@require_permission("purchase.orders:read")
def order_pdf(order_id: Any) -> Any:
    """The order as a PDF."""
    from addons.purchase.documents import order_pdf as render_pdf

    order = services.get_order(order_id)
    return Response(
        render_pdf(order),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{order.reference}.pdf"'},
    )


@bp.route("/orders/<uuid:order_id>/receive", methods=["GET", "POST"])
@require_permission("purchase.orders:receive")
def order_receive(order_id: Any) -> Any:
    """The receive screen: how much of each open line arrived."""
    order = services.get_order(order_id)
    errors: dict[str, list[str]] = {}
    entered: dict[str, str] = {}
    if request.method == "POST":
        rows = []
        for line in order.lines:
            value = request.form.get(f"qty-{line.id}", "").strip()
            entered[str(line.id)] = value
            if value and value != "0":
                rows.append({"line_id": str(line.id), "quantity": value})
        try:
            receipt = services.receive(
                order_id, {"lines": rows, "note": request.form.get("note", "")}
            )
            session.commit()
            flash(f"Receipt {receipt.number} recorded", "success")
            return redirect(url_for(".order_detail", order_id=order_id))
        except DomainError as exc:
            session.rollback()
            errors = getattr(exc, "details", None) or {"body": [exc.message]}
            order = services.get_order(order_id)
    return render_template(
        "purchase/receive.html",
        order=order,
        errors=errors,
        entered=entered,
        breadcrumbs=_order_crumbs(order, ("Receive", None)),
    ), 422 if errors else 200


@bp.get("/suppliers")
@require_permission("purchase.suppliers:read")
def supplier_list() -> Any:
    """Vendors with their terms."""
    return render_template(
        "purchase/suppliers.html",
        suppliers=services.list_suppliers(),
        breadcrumbs=_crumbs(("Suppliers", None)),
    )


@bp.route("/suppliers/<uuid:account_id>", methods=["GET", "POST"])
@require_permission("purchase.suppliers:read")
def supplier_detail(account_id: Any) -> Any:
    """A vendor's terms and price list; managers add prices and change terms here."""
    from core.auth import check

    account = services.require_vendor(account_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        check("purchase.suppliers:manage")
        form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "what")}
        try:
            if request.form.get("what") == "terms":
                services.set_supplier_terms({**form, "account_id": str(account_id)})
            else:
                services.set_supplier_price({**form, "account_id": str(account_id)})
            session.commit()
            flash("Saved", "success")
            return redirect(url_for(".supplier_detail", account_id=account_id))
        except DomainError as exc:
            session.rollback()
            errors = getattr(exc, "details", None) or {"body": [exc.message]}
    return render_template(
        "purchase/supplier_detail.html",
        account=account,
        errors=errors,
        terms=services.get_supplier(account_id),
        prices=services.supplier_prices(account_id=account_id),
        names={p.id: f"{p.sku} — {p.name}" for p in _choices()["products"]},
        breadcrumbs=_crumbs(("Suppliers", url_for(".supplier_list")), (str(account.name), None)),
        **_choices(),
    ), 422 if errors else 200


@bp.post("/reorder")
@require_permission("purchase.orders:create")
def reorder() -> Any:
    """The reorder button: draft orders for what is below its reorder point."""
    result = services.create_reorder_drafts()
    session.commit()
    flash(
        f"{len(result.orders)} draft order(s) created"
        + (f"; {len(result.skipped)} product(s) have no supplier price" if result.skipped else ""),
        "success" if result.orders else "info",
    )
    return redirect(url_for(".order_list", state="draft"))


@bp.get("/costs")
@require_permission("purchase.orders:read")
def costs() -> Any:
    """Spend by supplier and month, with a chart; purchase history of one product."""
    rows = services.spend_by_supplier_month()
    months = sorted({r.month for r in rows})
    series = sorted({(r.currency, r.supplier) for r in rows})
    by = {(r.month, r.currency, r.supplier): r.amount for r in rows}
    chart = {
        "type": "bar",
        "data": {
            "labels": months,
            # A stack per currency: suppliers stack up, currencies stand side by side.
            "datasets": [
                {
                    "label": f"{s} ({c})",
                    "stack": c,
                    "data": [float(by.get((m, c, s), 0)) for m in months],
                }
                for c, s in series
            ],
        },
        "options": {"responsive": True, "scales": {"x": {"stacked": True}, "y": {"stacked": True}}},
    }
    product_id = request.args.get("product_id")
    history = services.product_history(product_id) if product_id else None
    return render_template(
        "purchase/costs.html",
        rows=rows,
        chart_json=json.dumps(chart),
        history=history,
        product_id=product_id,
        breadcrumbs=_crumbs(("Costs", None)),
        **_choices(),
    )
