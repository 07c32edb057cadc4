"""Generic web views: list, CSV export, form and detail pages for a model, from a few lines.

    views = ModelViews(name="projects", model=Project, schema=ProjectSchema,
                       title="Projects", columns=[Column("name", link=True), Column("budget")],
                       search=["name"], permissions={"read": "x.projects:read", ...})
    views.register(bp)

The form uses the API's marshmallow schema; writes go through `create`/`update` callables
(the addon's services) so that rules live in one place.

An addon with richer pages of its own takes only some of them (`pages=("list", "export")`),
brings its own search (`query=`), filters (`Filter(where=...)`), rows (`rows=`), CSV
(`export=`) and links (`detail_url=`, `new_url=`), and keeps its URLs (`path=`, `endpoints=`).
A field fixed once the record exists (a code) is shown read-only on edit (`readonly_on_edit=`).
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import Boolean, ColumnElement, func, inspect, or_, select

from core.auth import current_principal, require_permission
from core.db import session
from core.errors import DomainError, StaleVersion
from core.web.forms import (
    Choices,
    FormField,
    attach_errors,
    fill_from_record,
    fill_from_request,
    form_fields,
    raw_input,
    unsupported,
)
from core.web.record_page import Chatter, detail_panels

MAX_PER_PAGE = 200
# Rows the CSV export reads (and writes out) at a time, and the size of export it keeps in
# memory before spilling to a temporary file.
EXPORT_BATCH = 500
EXPORT_SPOOL = 1024 * 1024
PAGES = ("list", "export", "new", "detail", "edit", "comment", "delete")
# The permission each page needs ("delete" is served only when a delete permission is given).
_PAGE_PERMISSION = {
    "list": "read",
    "export": "read",
    "new": "create",
    "detail": "read",
    "edit": "update",
    "comment": "read",
    "delete": "delete",
}
# Spreadsheets run cells that start with these as formulas: a record named "=HYPERLINK(...)"
# must not become one in the export.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """A column of the list (and of the CSV export): an attribute, its label, its format."""

    key: str
    label: str | None = None
    sortable: bool = True
    link: bool = False
    format: Callable[[Any], str] | None = None
    # The cell as trusted HTML (a badge, an include); the CSV still uses `text`.
    html: Callable[[Any], Markup] | None = None

    @property
    def title(self) -> str:
        """The header text."""
        return self.label or self.key.replace("_", " ").capitalize()

    def text(self, record: Any) -> str:
        """The cell's text for `record` (a row: the record, or what `rows=` made of it)."""
        value = getattr(record, self.key, None)
        if self.format is not None:
            return self.format(value)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)


@dataclass(frozen=True)
class Filter:
    """A filter of the list: equality on an attribute, or `where(value)`, with its choices."""

    key: str
    label: str | None = None
    choices: Sequence[tuple[str, str]] = ()
    # The WHERE clause for a chosen value, when equality on a column is not enough
    # (a tag among a JSON list, a state group); `key` then only names the query argument.
    where: Callable[[str], ColumnElement[bool]] | None = None
    # The query-string argument (default `f_<key>`); lets a ported page keep its old links.
    arg: str | None = None

    @property
    def title(self) -> str:
        """The filter's label."""
        return self.label or self.key.replace("_", " ").capitalize()

    @property
    def param(self) -> str:
        """The query-string argument that carries the chosen value."""
        return self.arg or f"f_{self.key}"


@dataclass
class ListState:
    """What the list shows: search, filters, sort and page, read from the query string."""

    q: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    per_page: int = 25
    params: dict[str, str] = field(default_factory=dict)  # filter key -> query argument

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to this list with `changes` applied."""
        out: dict[str, Any] = {
            "q": self.q or None,
            "sort": self.sort or None,
            "page": self.page if self.page > 1 else None,
            "per_page": self.per_page,
        }
        out.update({self.params.get(k, f"f_{k}"): v for k, v in self.filters.items() if v})
        out.update(changes)
        return {k: v for k, v in out.items() if v not in (None, "")}


def _int_arg(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(low, min(high, value))


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: formulas are defused, numbers such as -5 kept."""
    if not text.startswith(_FORMULA_START):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text


class ModelViews:
    """List, export, new, detail and edit pages for one model; `register(bp)` adds the routes."""

    def __init__(
        self,
        *,
        name: str,
        model: type,
        title: str,
        columns: Sequence[Column],
        permissions: Mapping[str, str],
        schema: type[Schema] | None = None,
        search: Sequence[str] = (),
        filters: Sequence[Filter] = (),
        form_fields: Sequence[str] | None = None,
        default_sort: str = "",
        per_page: int = 25,
        create: Callable[[dict[str, Any]], Any] | None = None,
        update: Callable[[Any, dict[str, Any]], Any] | None = None,
        delete: Callable[[Any], Any] | None = None,
        record_label: Callable[[Any], str] | None = None,
        singular: str | None = None,
        pages: Sequence[str] = PAGES,
        path: str | None = None,
        endpoints: Mapping[str, str] | None = None,
        query: Callable[[ListState], Any] | None = None,
        rows: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
        export: Callable[[Sequence[Any]], str] | None = None,
        detail_url: Callable[[Any], str] | None = None,
        new_url: Callable[[], str] | None = None,
        list_template: str = "web/list.html",
        search_hint: str = "",
        readonly_on_edit: Sequence[str] = (),
        exclude: Sequence[str] = (),
        choices: Mapping[str, Choices] | None = None,
    ) -> None:
        unknown = set(pages) - set(PAGES)
        if unknown:
            raise ValueError(f"ModelViews {name!r}: unknown pages {sorted(unknown)}")
        self.pages = tuple(p for p in PAGES if p in pages)
        if "delete" not in permissions:
            self.pages = tuple(p for p in self.pages if p != "delete")
        needed = {_PAGE_PERMISSION[p] for p in self.pages}
        missing = needed - set(permissions)
        if missing:
            raise ValueError(f"ModelViews {name!r}: permissions lack {sorted(missing)}")
        if schema is None and {"new", "detail", "edit"} & set(self.pages):
            raise ValueError(f"ModelViews {name!r}: the form and detail pages need a schema")
        self.name = name
        self.model = model
        self.schema: type[Schema] = schema or Schema
        self.title = title
        self.singular = singular or title.rstrip("s")
        self.columns = list(columns)
        self.permissions = dict(permissions)
        self.search = list(search)
        self.filters = list(filters)
        self.only_fields = list(form_fields) if form_fields else None
        # Fields the edit form shows but does not change (a code that is a reference on
        # paper): drawn read-only, and whatever is submitted for them is ignored.
        self.readonly_on_edit = tuple(readonly_on_edit)
        # Fields the form leaves out (the schema's load defaults apply, or the service's).
        self.exclude = tuple(exclude)
        self.choices = dict(choices or {})
        loadable = self.schema().load_fields
        editable = [
            n
            for n in (self.only_fields or [n for n in loadable if n not in ("id", "version")])
            if n not in self.exclude
        ]
        if {"new", "edit"} & set(self.pages):
            for n in editable:
                reason = unsupported(loadable[n]) if n in loadable else "not a field to load"
                if reason is not None:
                    raise ValueError(
                        f"ModelViews {name!r}: form field {n!r}: {reason}; leave it out (exclude=)"
                    )
        not_in_form = [n for n in self.readonly_on_edit if n not in editable]
        if not_in_form:
            raise ValueError(
                f"ModelViews {name!r}: readonly_on_edit names {not_in_form}, not fields of the form"
            )
        self.default_sort = default_sort
        self.per_page = per_page
        self._create = create or self._default_create
        self._update = update or self._default_update
        self._delete = delete or self._default_delete
        self.record_label = record_label or (lambda r: str(getattr(r, "name", None) or r.id))
        self.table_name = str(getattr(model, "__tablename__", name))
        self.chatter = Chatter(self.table_name, lambda rid: self.url("comment", record_id=rid))
        self.path = path if path is not None else f"/{name}"
        self.endpoints = {p: f"{name}_{p}" for p in PAGES} | dict(endpoints or {})
        self._query = query
        self._rows = rows
        self._export = export
        self._detail_url = detail_url
        self._new_url = new_url
        self.list_template = list_template
        self.search_hint = search_hint
        # A `query` hook does its own search with `state.q`, so the box shows for it too.
        self.searchable = bool(self.search) or query is not None
        self.blueprint = ""

    # --- routes ---

    def register(self, bp: Blueprint) -> None:
        """Add the routes of the pages this view serves (all by default) to `bp`."""
        mapped: set[str] = set(inspect(self.model).columns.keys())
        keys = [*self.search, *(f.key for f in self.filters if f.where is None)]
        for key in keys:
            if key not in mapped:
                raise ValueError(
                    f"ModelViews {self.name!r}: {key!r} is not a column of {self.model.__name__}"
                )
        self.blueprint = bp.name
        base = self.path.rstrip("/")
        rules: dict[str, tuple[str, list[str]]] = {
            "list": (self.path or "/", ["GET"]),
            "export": (f"{base}/export.csv", ["GET"]),
            "new": (f"{base}/new", ["GET", "POST"]),
            "detail": (f"{base}/<uuid:record_id>", ["GET"]),
            "edit": (f"{base}/<uuid:record_id>/edit", ["GET", "POST"]),
            "comment": (f"{base}/<uuid:record_id>/comments", ["POST"]),
            "delete": (f"{base}/<uuid:record_id>/delete", ["POST"]),
        }
        views: dict[str, Callable[..., Any]] = {
            "list": self.list_view,
            "export": self.export_view,
            "new": self.new_view,
            "detail": self.detail_view,
            "edit": self.edit_view,
            "comment": self.comment_view,
            "delete": self.delete_view,
        }
        for page in self.pages:
            rule, methods = rules[page]
            permission = self.permissions[_PAGE_PERMISSION[page]]
            bp.add_url_rule(
                rule,
                endpoint=self.endpoints[page],
                view_func=require_permission(permission)(views[page]),
                methods=methods,
            )

    def url(self, suffix: str, **values: Any) -> str:
        """URL of one of this model's pages ('list', 'detail', ...)."""
        return url_for(f"{self.blueprint}.{self.endpoints[suffix]}", **values)

    def may(self, action: str) -> bool:
        """Whether the current principal holds the permission of `action` (False if none)."""
        principal = current_principal()
        permission = self.permissions.get(action)
        return principal is not None and permission is not None and principal.can(permission)

    def record_url(self, row: Any) -> str | None:
        """Where a list row links to: `detail_url(row)`, the generic detail page, or nowhere."""
        if self._detail_url is not None:
            return self._detail_url(row)
        if "detail" in self.pages:
            return self.url("detail", record_id=row.id)
        return None

    def create_url(self) -> str | None:
        """The *New* button's target for a user who may create (None: no button)."""
        if not self.may("create"):
            return None
        if self._new_url is not None:
            return self._new_url()
        return self.url("new") if "new" in self.pages else None

    def sortable(self, column: Column) -> bool:
        """Whether the list can be sorted by `column` (a sortable column of the model)."""
        return column.sortable and column.key in set(inspect(self.model).columns.keys())

    # --- list ---

    def list_state(self) -> ListState:
        """The list's state from the query string (unknown sorts and filters are ignored)."""
        args = request.args
        sort = args.get("sort", "") or self.default_sort
        if sort.lstrip("-") not in {c.key for c in self.columns if self.sortable(c)}:
            sort = self.default_sort
        filters = {f.key: args.get(f.param, "").strip() for f in self.filters}
        return ListState(
            q=args.get("q", "").strip(),
            filters={k: v for k, v in filters.items() if v},
            sort=sort,
            page=_int_arg(args.get("page"), 1, 1, 10**6),
            per_page=_int_arg(args.get("per_page"), self.per_page, 1, MAX_PER_PAGE),
            params={f.key: f.param for f in self.filters},
        )

    def conditions(self, state: ListState) -> list[ColumnElement[bool]]:
        """WHERE clauses for the search box (without a `query` hook) and the filters."""
        where: list[ColumnElement[bool]] = []
        if state.q and self.search and self._query is None:
            where.append(
                or_(
                    *(
                        getattr(self.model, key).icontains(state.q, autoescape=True)
                        for key in self.search
                    )
                )
            )
        mapper: Any = inspect(self.model)
        by_key = {f.key: f for f in self.filters}
        for key, raw in state.filters.items():
            custom = by_key[key].where
            if custom is not None:
                where.append(custom(raw))
                continue
            column = mapper.columns[key]
            value: Any = raw
            if isinstance(column.type, Boolean):
                value = raw in ("1", "true", "yes", "on")
            where.append(getattr(self.model, key) == value)
        return where

    def filtered(self, state: ListState) -> Any:
        """The SELECT of the searched and filtered list, unsorted (the `query` hook's base)."""
        base = self._query(state) if self._query is not None else select(self.model)
        return base.where(*self.conditions(state))

    def query(self, state: ListState) -> Any:
        """The SELECT of the filtered, sorted list (unpaginated)."""
        stmt: Any = self.filtered(state)
        if state.sort:
            column = getattr(self.model, state.sort.lstrip("-"))
            stmt = stmt.order_by(None).order_by(
                column.desc() if state.sort.startswith("-") else column.asc()
            )
        return stmt.order_by(self.model.id)  # type: ignore[attr-defined]

    def make_rows(self, records: Sequence[Any]) -> Sequence[Any]:
        """What the columns read: the records, or what the `rows` hook makes of them."""
        return self._rows(records) if self._rows is not None else records

    def list_view(self) -> Any:
        """The list page: search, filters, sortable headers, pagination."""
        state = self.list_state()
        error, status = "", 200
        rows: Sequence[Any] = []
        total = 0
        try:
            filtered = self.filtered(state)
            total = session.scalar(select(func.count()).select_from(filtered.subquery())) or 0
            pages = max(1, math.ceil(total / state.per_page))
            state.page = min(state.page, pages)
            records = session.scalars(
                self.query(state).limit(state.per_page).offset((state.page - 1) * state.per_page)
            ).all()
            rows = self.make_rows(records)
        except DomainError as err:
            # An addon's search refuses input it cannot search for (say, only punctuation).
            session.rollback()
            error, status, pages = err.message, 422, 1
        return render_template(
            self.list_template,
            views=self,
            state=state,
            rows=rows,
            total=total,
            pages=pages,
            error=error,
            breadcrumbs=[(self.title, None)],
        ), status

    def export_view(self) -> Response:
        """The filtered list (every page) as CSV, columns as on screen (or the `export` hook).

        Rows are read and written in batches of `EXPORT_BATCH`, so a long list is never held
        in memory as records (an `export` hook gets every record at once).
        """
        state = self.list_state()
        try:
            stmt = self.query(state)
        except DomainError as err:
            session.rollback()
            return Response(err.message + "\n", status=422, mimetype="text/plain")
        filename = f"{self.name}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if self._export is not None:
            records = session.scalars(stmt).all()
            return Response(self._export(records), mimetype="text/csv", headers=headers)
        # Records are read `EXPORT_BATCH` at a time (yield_per) and written out as they come,
        # to a file that stays in memory only while small; the answer streams that file.
        # The reads happen here, inside the request (its session, tenant and principal).
        # Closed by the answer once sent (or below, should the reads fail).
        out = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL, mode="w+b")  # noqa: SIM115
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow([c.title for c in self.columns])
        try:
            result = session.scalars(stmt.execution_options(yield_per=EXPORT_BATCH))
            for batch in result.partitions():
                for row in self.make_rows(batch):
                    writer.writerow([_cell(c.text(row)) for c in self.columns])
        except DomainError as err:
            text.close()
            session.rollback()
            return Response(err.message + "\n", status=422, mimetype="text/plain")
        except BaseException:
            text.close()
            raise
        text.flush()
        text.detach()
        out.seek(0)

        def chunks() -> Iterator[bytes]:
            with out:
                while chunk := out.read(64 * 1024):
                    yield chunk

        return Response(chunks(), mimetype="text/csv", headers=headers)

    # --- form ---

    def _get(self, record_id: uuid.UUID) -> Any:
        record = session.get(self.model, record_id)
        if record is None:
            abort(404)
        return record

    def _default_create(self, data: dict[str, Any]) -> Any:
        record = self.model(**data)
        session.add(record)
        session.flush()
        return record

    @staticmethod
    def _default_update(record: Any, data: dict[str, Any]) -> Any:
        for key, value in data.items():
            setattr(record, key, value)
        session.flush()
        return record

    @staticmethod
    def _default_delete(record: Any) -> None:
        # Soft-deletable records are archived (their data and history stay); others go.
        if hasattr(record, "soft_delete"):
            record.soft_delete()
        else:
            session.delete(record)
        session.flush()

    def _form(self, record: Any | None = None) -> list[FormField]:
        form = form_fields(
            self.schema(), self.only_fields, exclude=self.exclude, choices=self.choices
        )
        if record is not None:
            for f in form:
                if f.name in self.readonly_on_edit:
                    f.readonly = True
                    f.note = (
                        f"Set when the {self.singular.lower()} was created; it cannot be changed."
                    )
        return form

    def _save(self, record: Any | None, form: list[FormField]) -> tuple[Any, list[str], int]:
        """Validate and save; returns (record or None, messages, status)."""
        schema = self.schema()
        fill_from_request(form, request.form)
        fixed = [f for f in form if f.readonly]
        if fixed:
            # A read-only field shows the stored value again, not what was posted, and is
            # neither validated nor passed on: the update never sees it.
            fill_from_record(fixed, schema.dump(record))
        editable = [f for f in form if not f.readonly]
        on_form = {f.name for f in editable}
        # On edit, a field the form does not show (excluded or read-only) is not given: it
        # keeps its stored value instead of taking the schema's load_default.
        absent = tuple(n for n in schema.load_fields if n not in on_form)
        try:
            data = schema.load(
                raw_input(schema, editable, request.form),
                partial=absent if record is not None else None,
            )
            if record is not None:
                data = {k: v for k, v in data.items() if k in on_form}
        except SchemaError as err:
            messages = err.messages if isinstance(err.messages, dict) else {"": err.messages}
            return None, attach_errors(form, messages), 422
        try:
            if record is None:
                saved = self._create(dict(data))
            else:
                submitted = request.form.get("version", "")
                current = getattr(record, "version", None)
                if current is not None and submitted != str(current):
                    raise StaleVersion(
                        "someone else changed this record since you opened it; nothing was "
                        "saved. Reload the page to see their change, then apply yours again."
                    )
                saved = self._update(record, dict(data))
            session.commit()
        except StaleVersion as err:
            session.rollback()
            return None, [err.message], 409
        except DomainError as err:
            session.rollback()
            loose = attach_errors(form, err.details) if isinstance(err.details, dict) else []
            if not isinstance(err.details, dict) or loose:
                loose = loose or [err.message]
            return None, loose, err.status if 400 <= err.status < 500 else 422
        return saved, [], 200

    def _after_save(self, record_id: uuid.UUID) -> str:
        """Where a saved form goes: the record's detail page, or the list without one."""
        if "detail" in self.pages:
            return self.url("detail", record_id=record_id)
        return self.url("list")

    def new_view(self) -> Any:
        """The form to create a record."""
        form = self._form()
        messages: list[str] = []
        status = 200
        if request.method == "POST":
            saved, messages, status = self._save(None, form)
            if saved is not None:
                flash(f"{self.singular} created", "success")
                return redirect(self._after_save(saved.id), 303)
        return render_template(
            "web/form.html",
            views=self,
            form=form,
            messages=messages,
            record=None,
            version=None,
            heading=f"New {self.singular.lower()}",
            breadcrumbs=[(self.title, self.url("list")), ("New", None)],
        ), status

    def edit_view(self, record_id: uuid.UUID) -> Any:
        """The form to change a record (optimistic lock through its version)."""
        record = self._get(record_id)
        form = self._form(record)
        messages: list[str] = []
        status = 200
        version = getattr(record, "version", None)
        if request.method == "POST":
            version = request.form.get("version", version)
            saved, messages, status = self._save(record, form)
            if saved is not None:
                flash(f"{self.singular} saved", "success")
                return redirect(self._after_save(record_id), 303)
        else:
            fill_from_record(form, self.schema().dump(record))
        label = self.record_label(record)
        return render_template(
            "web/form.html",
            views=self,
            form=form,
            messages=messages,
            record=record,
            version=version,
            heading=f"Edit {label}",
            stale=status == 409,
            breadcrumbs=[
                (self.title, self.url("list")),
                (label, self._after_save(record_id) if "detail" in self.pages else None),
                ("Edit", None),
            ],
        ), status

    # --- detail ---

    def panels(self, record: Any) -> list[tuple[str, Markup]]:
        """Panels other addons contribute through the `detail_panels` hook."""
        return detail_panels(self.table_name, record)

    def detail_view(self, record_id: uuid.UUID, comment_error: str = "") -> Any:
        """The record, other addons' panels and its activity feed (with a comment box)."""
        record = self._get(record_id)
        schema = self.schema()
        dumped = schema.dump(record)
        shown = [
            (f.metadata.get("label") or name.replace("_", " ").capitalize(), dumped.get(name))
            for name, f in schema.dump_fields.items()
            if name not in ("id", "version")
        ]
        label = self.record_label(record)
        return render_template(
            "web/detail.html",
            views=self,
            fields=shown,
            panels=self.panels(record),
            heading=label,
            breadcrumbs=[(self.title, self.url("list")), (label, None)],
            **self.chatter.context(record, comment_error),
        ), 422 if comment_error else 200

    def _refused(self, record_id: uuid.UUID, error: str) -> Any:
        """A refused comment: the detail page with the error, or back to the list without one."""
        if "detail" in self.pages:
            return self.detail_view(record_id, comment_error=error)
        flash(error, "danger")
        return redirect(self.url("list"), 303)

    def comment_view(self, record_id: uuid.UUID) -> Any:
        """Add a comment to the record's activity feed (htmx swaps in the new feed)."""
        return self.chatter.post_comment(
            self._get(record_id),
            page=lambda error: self._refused(record_id, error),
            detail_url=self._after_save(record_id),
        )

    def delete_view(self, record_id: uuid.UUID) -> Any:
        """Archive (soft-delete) or delete the record through the addon's service."""
        record = self._get(record_id)
        label = self.record_label(record)
        try:
            self._delete(record)
            session.commit()
        except DomainError as err:
            session.rollback()
            flash(err.message, "danger")
            return redirect(self._after_save(record_id), 303)
        flash(f"{self.singular} {label} deleted", "success")
        return redirect(self.url("list"), 303)
