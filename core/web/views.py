"""Generic web views: list, CSV export, form and detail pages for a model, from a few lines.

    views = ModelViews(name="projects", model=Project, schema=ProjectSchema,
                       title="Projects", columns=[Column("name", link=True), Column("budget")],
                       search=["name"], permissions={"read": "x.projects:read", ...})
    views.register(bp)

The form uses the API's marshmallow schema; writes go through `create`/`update` callables
(the addon's services) so that rules live in one place.
"""

from __future__ import annotations

import csv
import io
import math
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
from core.web import activity
from core.web.forms import (
    FormField,
    attach_errors,
    fill_from_record,
    fill_from_request,
    form_fields,
    raw_input,
)

MAX_PER_PAGE = 200
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

    @property
    def title(self) -> str:
        """The header text."""
        return self.label or self.key.replace("_", " ").capitalize()

    def text(self, record: Any) -> str:
        """The cell's text for `record`."""
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
    """A filter of the list: equality on an attribute, with the choices offered."""

    key: str
    label: str | None = None
    choices: Sequence[tuple[str, str]] = ()

    @property
    def title(self) -> str:
        """The filter's label."""
        return self.label or self.key.replace("_", " ").capitalize()


@dataclass
class ListState:
    """What the list shows: search, filters, sort and page, read from the query string."""

    q: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    per_page: int = 25

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to this list with `changes` applied."""
        out: dict[str, Any] = {
            "q": self.q or None,
            "sort": self.sort or None,
            "page": self.page if self.page > 1 else None,
            "per_page": self.per_page,
        }
        out.update({f"f_{k}": v for k, v in self.filters.items() if v})
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
        schema: type[Schema],
        title: str,
        columns: Sequence[Column],
        permissions: Mapping[str, str],
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
    ) -> None:
        missing = {"read", "create", "update"} - set(permissions)
        if missing:
            raise ValueError(f"ModelViews {name!r}: permissions lack {sorted(missing)}")
        self.name = name
        self.model = model
        self.schema = schema
        self.title = title
        self.singular = singular or title.rstrip("s")
        self.columns = list(columns)
        self.permissions = dict(permissions)
        self.search = list(search)
        self.filters = list(filters)
        self.only_fields = list(form_fields) if form_fields else None
        self.default_sort = default_sort
        self.per_page = per_page
        self._create = create or self._default_create
        self._update = update or self._default_update
        self._delete = delete or self._default_delete
        self.record_label = record_label or (lambda r: str(getattr(r, "name", None) or r.id))
        self.table_name = str(getattr(model, "__tablename__", name))
        self.blueprint = ""

    # --- routes ---

    def register(self, bp: Blueprint) -> None:
        """Add the list, export, new, detail, edit and comment routes to `bp`."""
        mapped: set[str] = set(inspect(self.model).columns.keys())
        for key in [*self.search, *(f.key for f in self.filters)]:
            if key not in mapped:
                raise ValueError(
                    f"ModelViews {self.name!r}: {key!r} is not a column of {self.model.__name__}"
                )
        self.blueprint = bp.name
        read, create, update = (self.permissions[k] for k in ("read", "create", "update"))
        n = self.name
        routes: list[tuple[str, str, Callable[..., Any], str, list[str]]] = [
            (f"/{n}", "list", self.list_view, read, ["GET"]),
            (f"/{n}/export.csv", "export", self.export_view, read, ["GET"]),
            (f"/{n}/new", "new", self.new_view, create, ["GET", "POST"]),
            (f"/{n}/<uuid:record_id>", "detail", self.detail_view, read, ["GET"]),
            (f"/{n}/<uuid:record_id>/edit", "edit", self.edit_view, update, ["GET", "POST"]),
            (f"/{n}/<uuid:record_id>/comments", "comment", self.comment_view, read, ["POST"]),
        ]
        if "delete" in self.permissions:
            routes.append(
                (
                    f"/{n}/<uuid:record_id>/delete",
                    "delete",
                    self.delete_view,
                    self.permissions["delete"],
                    ["POST"],
                )
            )
        for rule, suffix, view, permission, methods in routes:
            bp.add_url_rule(
                rule,
                endpoint=f"{n}_{suffix}",
                view_func=require_permission(permission)(view),
                methods=methods,
            )

    def url(self, suffix: str, **values: Any) -> str:
        """URL of one of this model's pages ('list', 'detail', ...)."""
        return url_for(f"{self.blueprint}.{self.name}_{suffix}", **values)

    def may(self, action: str) -> bool:
        """Whether the current principal holds the permission of `action` (False if none)."""
        principal = current_principal()
        permission = self.permissions.get(action)
        return principal is not None and permission is not None and principal.can(permission)

    # --- list ---

    def list_state(self) -> ListState:
        """The list's state from the query string (unknown sorts and filters are ignored)."""
        args = request.args
        sort = args.get("sort", "") or self.default_sort
        mapped: set[str] = set(inspect(self.model).columns.keys())
        sortable = {c.key for c in self.columns if c.sortable and c.key in mapped}
        if sort.lstrip("-") not in sortable:
            sort = self.default_sort
        filters = {f.key: args.get(f"f_{f.key}", "") for f in self.filters}
        return ListState(
            q=args.get("q", "").strip(),
            filters={k: v for k, v in filters.items() if v},
            sort=sort,
            page=_int_arg(args.get("page"), 1, 1, 10**6),
            per_page=_int_arg(args.get("per_page"), self.per_page, 1, MAX_PER_PAGE),
        )

    def conditions(self, state: ListState) -> list[ColumnElement[bool]]:
        """WHERE clauses for the search box and the filters."""
        where: list[ColumnElement[bool]] = []
        if state.q and self.search:
            where.append(
                or_(
                    *(
                        getattr(self.model, key).icontains(state.q, autoescape=True)
                        for key in self.search
                    )
                )
            )
        mapper: Any = inspect(self.model)
        for key, raw in state.filters.items():
            column = mapper.columns[key]
            value: Any = raw
            if isinstance(column.type, Boolean):
                value = raw in ("1", "true", "yes", "on")
            where.append(getattr(self.model, key) == value)
        return where

    def query(self, state: ListState) -> Any:
        """The SELECT of the filtered, sorted list (unpaginated)."""
        stmt: Any = select(self.model).where(*self.conditions(state))
        if state.sort:
            column = getattr(self.model, state.sort.lstrip("-"))
            stmt = stmt.order_by(column.desc() if state.sort.startswith("-") else column.asc())
        return stmt.order_by(self.model.id)  # type: ignore[attr-defined]

    def list_view(self) -> Any:
        """The list page: search, filters, sortable headers, pagination."""
        state = self.list_state()
        total = (
            session.scalar(
                select(func.count()).select_from(self.model).where(*self.conditions(state))
            )
            or 0
        )
        pages = max(1, math.ceil(total / state.per_page))
        state.page = min(state.page, pages)
        rows = session.scalars(
            self.query(state).limit(state.per_page).offset((state.page - 1) * state.per_page)
        ).all()
        return render_template(
            "web/list.html",
            views=self,
            state=state,
            rows=rows,
            total=total,
            pages=pages,
            breadcrumbs=[(self.title, None)],
        )

    def export_view(self) -> Response:
        """The filtered list (every page) as CSV, columns as on screen."""
        state = self.list_state()

        def lines() -> Iterator[str]:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow([c.title for c in self.columns])
            for record in session.scalars(self.query(state)):
                writer.writerow([_cell(c.text(record)) for c in self.columns])
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
            yield buf.getvalue()

        # Built before returning: the session belongs to this request, not to the stream.
        body = "".join(lines())
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{self.name}.csv"'},
        )

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

    def _form(self) -> list[FormField]:
        return form_fields(self.schema(), self.only_fields)

    def _save(self, record: Any | None, form: list[FormField]) -> tuple[Any, list[str], int]:
        """Validate and save; returns (record or None, messages, status)."""
        schema = self.schema()
        fill_from_request(form, request.form)
        try:
            data = schema.load(raw_input(schema, form, request.form))
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

    def new_view(self) -> Any:
        """The form to create a record."""
        form = self._form()
        messages: list[str] = []
        status = 200
        if request.method == "POST":
            saved, messages, status = self._save(None, form)
            if saved is not None:
                flash(f"{self.singular} created", "success")
                return redirect(self.url("detail", record_id=saved.id), 303)
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
        form = self._form()
        messages: list[str] = []
        status = 200
        version = getattr(record, "version", None)
        if request.method == "POST":
            version = request.form.get("version", version)
            saved, messages, status = self._save(record, form)
            if saved is not None:
                flash(f"{self.singular} saved", "success")
                return redirect(self.url("detail", record_id=record_id), 303)
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
                (label, self.url("detail", record_id=record_id)),
                ("Edit", None),
            ],
        ), status

    # --- detail ---

    def panels(self, record: Any) -> list[tuple[str, Markup]]:
        """Panels other addons contribute through the `detail_panels` hook."""
        from core.registry import hook

        out = []
        for batch in hook.detail_panels(model_name=self.table_name, record=record):
            for title, html in batch or []:
                out.append((str(title), Markup(html)))
        return out

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
            record=record,
            fields=shown,
            panels=self.panels(record),
            feed=activity.feed(self.table_name, record.id),
            comment_error=comment_error,
            heading=label,
            breadcrumbs=[(self.title, self.url("list")), (label, None)],
        ), 422 if comment_error else 200

    def comment_view(self, record_id: uuid.UUID) -> Any:
        """Add a comment to the record's activity feed (htmx swaps in the new feed)."""
        record = self._get(record_id)
        try:
            activity.add_comment(self.table_name, record.id, request.form.get("body", ""))
            session.commit()
        except DomainError as err:
            session.rollback()
            if request.headers.get("HX-Request"):
                return self._feed_fragment(record, err.message), 422
            return self.detail_view(record_id, comment_error=err.message)
        if request.headers.get("HX-Request"):
            return self._feed_fragment(record, "")
        flash("Comment added", "success")
        return redirect(self.url("detail", record_id=record_id), 303)

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
            return redirect(self.url("detail", record_id=record_id), 303)
        flash(f"{self.singular} {label} deleted", "success")
        return redirect(self.url("list"), 303)

    def _feed_fragment(self, record: Any, error: str) -> str:
        return render_template(
            "web/_activity.html",
            views=self,
            record=record,
            feed=activity.feed(self.table_name, record.id),
            comment_error=error,
        )
