"""inventory's web pages (thin: parse the form, call a service, render or redirect).

Warehouses are the kernel's generic pages (`core.web.views.ModelViews`: list, CSV, form,
detail with activity); the products list and its CSV export are the generic list with
inventory's search and stock totals, while the product page and form, the stock forms and
the reports stay written out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from addons.inventory import services
from addons.inventory.models import PRODUCT_STATUSES, PRODUCT_TYPES, Product, Warehouse
from addons.inventory.schemas import ProductSchema, WarehouseSchema
from core.auth import require_permission
from core.db import session
from core.errors import DomainError, StaleVersion, ValidationError
from core.registry import hook
from core.web.forms import (
    FormField,
    attach_errors,
    fill_from_record,
    fill_from_request,
    raw_input,
)
from core.web.record_page import Chatter, detail_panels
from core.web.views import Column, Filter, ModelViews
from core.web.widgets import ChartWidget

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


@web.app_template_filter("stock_qty")
def _qty(value: Decimal | None) -> str:
    """A quantity without trailing zeros and never in exponent form: 10, 2.5 (not 1E+1)."""
    return "" if value is None else f"{Decimal(value).normalize():f}"


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


def _crumbs(*trail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    """Breadcrumbs of a product page: the products list first, then `trail`."""
    return [("Products", url_for("inventory_web.product_list")), *trail]


def _stock_crumbs(title: str) -> list[tuple[str, str | None]]:
    """Breadcrumbs of a stock form or report: the Stock menu's page first."""
    return [("Stock", url_for("inventory_web.low_stock")), (title, None)]


def _product_crumbs(product: Product, *trail: tuple[str, str | None]) -> list[Any]:
    here = url_for("inventory_web.product_detail", product_id=product.id) if trail else None
    return _crumbs((product.sku, here), *trail)


product_feed = Chatter(
    Product.__tablename__,
    lambda rid: url_for("inventory_web.product_comment", product_id=rid),
)


@web.get("/products/<product_id>")
@require_permission("inventory.products:read")
def product_detail(product_id: str, comment_error: str = "") -> Any:
    """A product: stock per warehouse, its movement history (keyset-paged), other addons'
    panels and its activity feed (changes and comments)."""
    product = services.find_product(product_id)
    moves, nxt = services.movements(
        product=product, limit=25, cursor=request.args.get("cursor") or None
    )
    # inventory's own hook first (older), then the kernel's, which purchase uses.
    own = [(p["title"], p["html"]) for p in _panels(hook.product_page_panels(product=product))]
    panels = own + detail_panels(Product.__tablename__, product)
    return render_template(
        "inventory/product_detail.html",
        product=product,
        levels=services.stock_levels(product),
        moves=moves,
        next_cursor=nxt,
        panels=panels,
        paths=services.category_paths(),
        breadcrumbs=_product_crumbs(product),
        **product_feed.context(product, comment_error),
    ), 422 if comment_error else 200


@web.post("/products/<uuid:product_id>/comments")
@require_permission("inventory.products:read")
def product_comment(product_id: Any) -> Any:
    """Comment on the product (htmx swaps in the new feed; without JavaScript, a redirect)."""
    return product_feed.post_comment(
        services.find_product(product_id),
        page=lambda error: product_detail(str(product_id), comment_error=error),
        detail_url=url_for(".product_detail", product_id=product_id),
    )


_PRODUCT_LABELS = {
    "sku": "SKU",
    "name": "Name",
    "barcode": "Barcode",
    "description": "Description",
    "category_id": "Category",
    "uom": "Unit",
    "type": "Type",
    "status": "Status",
    "standard_cost": "Standard cost",
    "sales_price": "Sales price",
    "tax_rate": "Tax rate %",
    "taxable": "Taxable",
    "track_inventory": "Track inventory",
}
_FLAGS = ("taxable", "track_inventory")
_AMOUNTS = ("standard_cost", "sales_price", "tax_rate")


def _product_fields() -> list[FormField]:
    """The product form's inputs, drawn by the kernel's `field` macro."""
    paths = services.category_paths()
    choices: dict[str, list[tuple[str, str]]] = {
        "category_id": [
            ("", "—"),
            *sorted(((str(cid), path) for cid, path in paths.items()), key=lambda c: c[1]),
        ],
        "uom": [(u, u) for u in services.uom_codes()],
        "type": [(t, t.replace("_", " ").capitalize()) for t in PRODUCT_TYPES],
        "status": [(t, t.capitalize()) for t in PRODUCT_STATUSES],
    }
    form = []
    for name, label in _PRODUCT_LABELS.items():
        kind = "checkbox" if name in _FLAGS else "number" if name in _AMOUNTS else "text"
        form.append(
            FormField(
                name=name,
                label=label,
                input_type="textarea" if name == "description" else kind,
                required=name in ("sku", "name"),
                choices=choices.get(name, ()),
                step="any" if name in _AMOUNTS else None,
            )
        )
    return form


def _product_form(
    product: Product | None,
    *,
    messages: Sequence[str] = (),
    form: list[FormField] | None = None,
    version: Any = None,
    status: int = 200,
) -> Any:
    if form is None:
        form = _product_fields()
        if product is not None:
            fill_from_record(form, ProductSchema().dump(product))
        else:
            # What a new product starts as (the schema's defaults).
            fill_from_record(
                form,
                {"uom": "EA", "type": "finished_good", "status": "active", "taxable": True}
                | {"track_inventory": True}
                | dict.fromkeys(_AMOUNTS, "0"),
            )
    sections = _panels(hook.product_form_sections(product=product))
    heading = f"Edit {product.sku}" if product else "New product"
    return render_template(
        "inventory/product_form.html",
        product=product,
        form=form,
        fields={f.name: f for f in form},
        messages=messages,
        stale=status == 409,
        version=version if version is not None else (product.version if product else None),
        sections=sections,
        heading=heading,
        breadcrumbs=_product_crumbs(product, ("Edit", None)) if product else _crumbs(("New", None)),
    ), status


def _save_product(product: Product | None) -> Any:
    """Validate and save the posted form through the services; re-show it on an error."""
    form = _product_fields()
    fill_from_request(form, request.form)
    # The form's own fields as the schema takes them (an empty optional box is "none", not
    # an empty text: the category's "—" is no category); the rest of the post (the version,
    # other addons' sections) as it came.
    data = {k: v for k, v in _form().items() if k not in _PRODUCT_LABELS}
    data.update(raw_input(ProductSchema(), form, request.form))
    if product is not None:
        # An update takes only the fields given: an emptied required box must still be
        # refused, not skipped.
        data.update({f.name: "" for f in form if f.required and f.name not in data})
    try:
        saved = (
            services.update_product(product, data)
            if product is not None
            else services.create_product(data)
        )
        session.commit()
    except StaleVersion as exc:
        # Nothing saved; the form keeps the user's input and the version they started from,
        # so saving again cannot overwrite the other change unseen.
        session.rollback()
        return _product_form(
            _reload(product),
            messages=[exc.message],
            form=form,
            version=request.form.get("version"),
            status=409,
        )
    except DomainError as exc:
        session.rollback()
        loose = _attach(form, exc)
        return _product_form(
            _reload(product),
            messages=loose,
            form=form,
            version=request.form.get("version"),
            status=422,
        )
    flash(f"Product {saved.sku} created" if product is None else "Saved", "success")
    return redirect(url_for(".product_detail", product_id=saved.id))


def _reload(product: Product | None) -> Product | None:
    return services.find_product(product.id) if product is not None else None


def _attach(form: list[FormField], exc: DomainError) -> list[str]:
    """Each field's messages next to it; the messages no field shows (or the error's own)."""
    if not isinstance(exc.details, Mapping):
        return [exc.message]
    loose = attach_errors(form, exc.details)
    if loose or not any(f.errors for f in form):
        return loose or [exc.message]
    # A validation error's message only repeats its fields' ones; another error's says more
    # than the note by the field ("insufficient stock of BOLT in MAIN: 13 wanted, ...").
    return [] if isinstance(exc, ValidationError) else [exc.message]


@web.route("/products/new", methods=["GET", "POST"])
@require_permission("inventory.products:create")
def product_new() -> Any:
    """Create a product."""
    if request.method == "GET":
        return _product_form(None)
    return _save_product(None)


@web.route("/products/<product_id>/edit", methods=["GET", "POST"])
@require_permission("inventory.products:update")
def product_edit(product_id: str) -> Any:
    """Edit a product (the form carries its version: no lost updates)."""
    product = services.find_product(product_id)
    if request.method == "GET":
        return _product_form(product)
    return _save_product(product)


_STOCK_TITLES = {
    "receive": "Receive stock",
    "issue": "Issue stock",
    "transfer": "Transfer stock",
    "adjust": "Adjust stock",
}


def _stock_fields(action: str) -> list[FormField]:
    """The stock form's inputs for `action`, named as the services name their errors."""
    houses = [
        (str(w.id), f"{w.code} {w.name}") for w in services.list_warehouses(include_inactive=False)
    ]
    form = [
        FormField("product", "Product (SKU)", required=True, help="SKU, barcode or id"),
    ]
    if action == "transfer":
        form += [
            FormField("from_warehouse", "From", required=True, choices=houses),
            FormField("to_warehouse", "To", required=True, choices=houses),
        ]
    else:
        form.append(FormField("warehouse", "Warehouse", required=True, choices=houses))
    form.append(
        FormField(
            "quantity",
            "Quantity",
            input_type="number",
            step="any",
            required=True,
            help="negative to remove" if action == "adjust" else "",
        )
    )
    if action == "receive":
        form.append(
            FormField(
                "unit_cost",
                "Unit cost",
                input_type="number",
                step="any",
                help="updates the product's average cost",
            )
        )
    form.append(FormField("reason", "Reason", required=action == "adjust"))
    return form


def _stock_form(action: str) -> Any:
    """GET shows the form, POST calls the service and shows the error or redirects."""
    form = _stock_fields(action)
    messages: list[str] = []
    status = 200
    # A GET may pre-fill the form (?product=SKU from a product page).
    values = request.form if request.method == "POST" else request.args
    fill_from_request(form, values)
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
            # Insufficient stock included: the form is shown again with the message (422).
            session.rollback()
            messages = _attach(form, exc)
            status = 422
    title = _STOCK_TITLES[action]
    return render_template(
        "inventory/stock_form.html",
        action=action,
        form=form,
        messages=messages,
        heading=title,
        breadcrumbs=_stock_crumbs(title),
    ), status


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
    return render_template(
        "inventory/low_stock.html",
        rows=services.low_stock(),
        breadcrumbs=_stock_crumbs("Low stock"),
    )


@web.get("/valuation")
@require_permission("inventory.reports:read")
def valuation() -> Any:
    """Stock value per warehouse and per category, with a chart."""
    by = request.args.get("by", "warehouse")
    rows = services.valuation(by)
    return render_template(
        "inventory/valuation.html",
        rows=rows,
        by=by,
        total=sum((r["value"] for r in rows), Decimal(0)),
        chart=valuation_chart(rows, by),
        breadcrumbs=_stock_crumbs("Stock valuation"),
    )


def valuation_chart(rows: Sequence[Mapping[str, Any]], by: str, **options: Any) -> ChartWidget:
    """Stock value per warehouse or category as the kernel's chart (the page's and the
    dashboard's): display only, the table beside it is exact."""
    return ChartWidget(
        f"Stock value by {by}",
        kind="bar",
        labels=[(r["code"] or r["name"]) if by == "warehouse" else r["name"] for r in rows],
        datasets=[{"label": "Stock value", "data": [float(r["value"]) for r in rows]}],
        **options,
    )


@web.get("/products.csv")
@require_permission("inventory.products:read")
def products_csv() -> Any:
    """The old export URL: the products list's CSV (every product unless filtered)."""
    return redirect(url_for(".product_export", **request.args), 308)
