"""The generic endpoints behind every declared resource, one blueprint per addon."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError

from core.api import body, query
from core.api.dberrors import data_invalid, integrity_conflict
from core.api.idempotency import idempotent
from core.api.resource import Action, Resource
from core.auth import check
from core.db import session
from core.envelope import ok
from core.errors import DomainError, NotFound, ValidationError

MAX_BULK = 1000


class PreconditionFailed(DomainError):
    """`If-Match` names a version the record no longer has."""

    code = "PRECONDITION_FAILED"
    status = 412


def blueprint_name(addon: str) -> str:
    """The name of the blueprint serving `addon`'s resources."""
    return f"{addon}_resources"


def build_blueprint(addon: str, resources: list[Resource]) -> Blueprint:
    """One blueprint at `/api/v1/<addon>` with the endpoints of each resource."""
    bp = Blueprint(blueprint_name(addon), __name__, url_prefix=f"/api/v1/{addon}")
    bp.pergola_resources = list(resources)  # type: ignore[attr-defined]
    bp.pergola_addon = addon  # type: ignore[attr-defined]
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise ValueError(f"addon {addon!r} declares a resource name twice: {names}")
    for resource in resources:
        _add_routes(bp, resource)
    return bp


def _guarded(permission: str, view: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check(permission)
        return view(*args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    wrapper.pergola_permission = permission  # type: ignore[attr-defined]
    return wrapper


def _add_routes(bp: Blueprint, r: Resource) -> None:
    base = f"/{r.name}"
    item = f"/{r.name}/<record_id>"
    ep = r.name.replace("-", "_")

    def add(
        rule: str,
        endpoint: str,
        view: Callable[..., Any],
        action: str,
        methods: list[str],
        permission: str | None = None,
    ) -> None:
        guarded = _guarded(permission or r.permission(action), view)
        bp.add_url_rule(rule, f"{ep}_{endpoint}", guarded, methods=methods)

    add(base, "list", lambda: list_records(r), "read", ["GET"])
    add(item, "get", lambda record_id: get_record(r, record_id), "read", ["GET"])
    if not r.read_only:
        _add_write_routes(bp, r, add)
    for action in r.actions:
        add(
            f"{item}/{action.name}",
            f"action_{action.name}",
            idempotent(_action_view(r, action)),
            "",
            ["POST"],
            action.permission,
        )


def _add_write_routes(bp: Blueprint, r: Resource, add: Callable[..., None]) -> None:
    base = f"/{r.name}"
    item = f"/{r.name}/<record_id>"
    add(base, "create", idempotent(lambda: create_record(r)), "create", ["POST"])
    add(f"{base}/bulk", "bulk", idempotent(lambda: bulk_create(r)), "create", ["POST"])
    add(
        item, "put", lambda record_id: update_record(r, record_id, partial=False), "update", ["PUT"]
    )
    add(
        item,
        "patch",
        lambda record_id: update_record(r, record_id, partial=True),
        "update",
        ["PATCH"],
    )
    add(item, "delete", lambda record_id: delete_record(r, record_id), "delete", ["DELETE"])


def _action_view(r: Resource, action: Action) -> Callable[..., Any]:
    def view(record_id: str) -> Any:
        return run_action(r, action, record_id)

    return view


# --- reading ---------------------------------------------------------------------------


def _parse_id(record_id: str) -> Any:
    try:
        return uuid.UUID(record_id)
    except ValueError:
        # Not an id we could have issued: the same answer as another tenant's id.
        raise NotFound(
            "no such record", details={"id": [f"{record_id!r} is not a valid id"]}
        ) from None


def load_record(r: Resource, record_id: str, expand: list[str] | None = None) -> Any:
    """The record by id, within the tenant and record rules; `NotFound` otherwise."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    model: Any = r.model
    stmt: Any = select(model).where(model.id == _parse_id(record_id))
    for rel in dict.fromkeys([*r.load, *(expand or [])]):
        stmt = stmt.options(selectinload(getattr(r.model, rel)))
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound(f"no such {r.name} record", details={"id": [str(record_id)]})
    return obj


def dump(
    r: Resource, obj: Any, fields: list[str] | None = None, expand: list[str] | None = None
) -> dict[str, Any]:
    """The record as the API shows it: the schema's fields, plus expanded relations."""
    return dump_many(r, [obj], fields, expand)[0]


def dump_many(
    r: Resource, objs: list[Any], fields: list[str] | None = None, expand: list[str] | None = None
) -> list[dict[str, Any]]:
    """Records as the API shows them (see `dump`); each schema is built once for the list,
    not once per record: building one copies its declared fields, the larger cost."""
    schema = r.schema(only=fields) if fields else r.schema()
    out: list[dict[str, Any]] = schema.dump(objs, many=True)
    relationships: Any = sa_inspect(r.model).relationships
    for rel in expand or []:
        values = [getattr(obj, rel) for obj in objs]
        # One dump of every related record of the page, then handed back to each row.
        if relationships[rel].uselist:
            flat = [v for value in values for v in value]
        else:
            flat = [value for value in values if value is not None]
        dumped = iter(r.expandable[rel]().dump(flat, many=True))
        for data, value in zip(out, values, strict=True):
            if value is None:
                data[rel] = None
            elif relationships[rel].uselist:
                data[rel] = [next(dumped) for _ in value]
            else:
                data[rel] = next(dumped)
    return out


def etag(r: Resource, obj: Any) -> dict[str, str]:
    """The `ETag` header of `obj` (its version), if the model is versioned."""
    return {"ETag": f'"{obj.version}"'} if r.has_version else {}


def list_records(r: Resource) -> Any:
    """List with filters, search, sort, sparse fields, expansions; page or cursor paging."""
    q = query.parse(r, request.args)
    rows, pagination = query.cursor_page(r, q) if q.uses_cursor else query.page(r, q)
    return ok(dump_many(r, list(rows), q.fields, q.expand), extra_meta={"pagination": pagination})


def get_record(r: Resource, record_id: str) -> Any:
    """One record, with `ETag`."""
    fields = None
    if "fields" in request.args:
        fields = query.parse(r, {"fields": request.args["fields"]}).fields
    unknown = set(request.args) - {"fields", "expand"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown query parameter {name!r}; use fields or expand", field=name)
    expand = query.parse_expand(r, request.args.get("expand"))
    obj = load_record(r, record_id, expand)
    return ok(dump(r, obj, fields, expand), headers=etag(r, obj))


# --- writing ---------------------------------------------------------------------------


@contextmanager
def _writing() -> Iterator[None]:
    """Flush the work; a constraint the database enforces becomes a 409, not a 500."""
    try:
        yield
        session.flush()
    except DataError as exc:
        session.rollback()
        raise data_invalid(exc) from exc
    except IntegrityError as exc:
        session.rollback()
        raise integrity_conflict(exc) from exc


def _default_create(r: Resource, data: dict[str, Any]) -> Any:
    obj = r.model(**data)
    session.add(obj)
    return obj


def _default_update(obj: Any, data: dict[str, Any]) -> Any:
    for key, value in data.items():
        setattr(obj, key, value)
    return obj


def create_record(r: Resource) -> Any:
    """Create one record (201, `Location`, `ETag`)."""
    data = body.load(r.input_create(), body.json_object())
    with _writing():
        obj = r.create(data) if r.create else _default_create(r, data)
    session.refresh(obj)  # answer with what the database holds (scale, defaults)
    headers = {"Location": f"{request.base_url.rstrip('/')}/{obj.id}", **etag(r, obj)}
    return ok(dump(r, obj), 201, headers=headers)


def bulk_create(r: Resource) -> Any:
    """Create up to 1,000 records, all or nothing; errors name the item's index."""
    payload = body.json_object()
    unknown = set(payload) - {"items"}
    if unknown:
        raise ValidationError(details={k: ["Unknown field."] for k in sorted(unknown)})
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise ValidationError("must be a non-empty array of records", field="items")
    if len(items) > MAX_BULK:
        raise ValidationError(
            f"at most {MAX_BULK} items per request, got {len(items)}", field="items"
        )
    schema = r.input_create()
    loaded: list[dict[str, Any]] = []
    refused: list[tuple[int, DomainError]] = []
    # Every item against the schema first: if any is malformed, nothing is created (no
    # service runs for the others), and the answer names every malformed item.
    for i, item in enumerate(items):
        try:
            loaded.append(body.load(schema, item))
        except ValidationError as exc:
            refused.append((i, exc))
    if refused:
        raise _bulk_refused(len(items), refused)
    created: list[Any] = []
    for i, data in enumerate(loaded):
        try:
            # A savepoint per item: a refused one is undone alone, and the next items still
            # run, so one answer names every item a business rule or the database refuses.
            with session.begin_nested():
                obj = r.create(data) if r.create else _default_create(r, data)
                session.flush()
            created.append(obj)
        except DomainError as exc:
            refused.append((i, exc))
        except DataError as exc:
            refused.append((i, data_invalid(exc)))
        except IntegrityError as exc:
            refused.append((i, integrity_conflict(exc)))
    if refused:
        raise _bulk_refused(len(items), refused)
    return ok(dump_many(r, created), 201)


def _bulk_refused(total: int, refused: list[tuple[int, DomainError]]) -> DomainError:
    """One error for every refused item of a bulk create: `details` names each item's fields
    (`items.<i>.<field>`), `items` gives each one's index, code and message."""
    details: dict[str, list[str]] = {}
    items = []
    for i, exc in refused:
        own = exc.details if isinstance(exc.details, dict) else None
        if isinstance(exc, ValidationError) and own:
            for field, messages in own.items():
                key = f"items.{i}" if field == "body" else f"items.{i}.{field}"
                details.setdefault(key, []).extend(messages)
        else:
            details.setdefault(f"items.{i}", []).append(exc.message)
        items.append({"index": i, "code": exc.code, "message": exc.message, "details": own})
    codes = {(exc.code, exc.status) for _, exc in refused}
    # One kind of refusal keeps its own code and status (a duplicate stays a 409); a mix is
    # a 422, the answer for "fix these items and send them again".
    code, status = codes.pop() if len(codes) == 1 else ("VALIDATION_ERROR", 422)
    count = len(refused)
    if count == 1:
        message = f"item {refused[0][0]}: {refused[0][1].message}; nothing was created"
    else:
        message = f"{count} of {total} items were refused; nothing was created"
    error = DomainError(message, code=code, details=details)
    error.status = status
    error.extra = {"items": items}
    return error


def _check_if_match(r: Resource, obj: Any) -> None:
    header = request.headers.get("If-Match")
    if header is None or not r.has_version:
        return
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    if "*" not in tags and str(obj.version) not in tags:
        raise PreconditionFailed(
            f"the record is at version {obj.version}, not {header}; reload it and apply "
            "your change again",
            details={"If-Match": [f'current ETag is "{obj.version}"']},
        )


def update_record(r: Resource, record_id: str, *, partial: bool) -> Any:
    """PATCH changes the given fields; PUT replaces all of them. Honours `If-Match`."""
    data = body.json_object()
    obj = load_record(r, record_id)
    _check_if_match(r, obj)
    schema = r.input_update() if partial else r.input_create()
    loaded = body.load(schema, data, partial=partial)
    with _writing():
        obj = r.update(obj, loaded) if r.update else _default_update(obj, loaded)
    session.commit()
    session.refresh(obj)
    return ok(dump(r, obj), headers=etag(r, obj))


def delete_record(r: Resource, record_id: str) -> Any:
    """Delete (soft when the model keeps deleted rows). Honours `If-Match`."""
    obj = load_record(r, record_id)
    _check_if_match(r, obj)
    with _writing():
        if r.delete:
            r.delete(obj)
        elif r.soft_deletes:
            obj.soft_delete()
        else:
            session.delete(obj)
    session.commit()
    return ok({"id": str(obj.id), "deleted": True})


def run_action(r: Resource, action: Action, record_id: str) -> Any:
    """Run a custom action on one record through the addon's service."""
    obj = load_record(r, record_id)
    _check_if_match(r, obj)
    data: dict[str, Any] = {}
    if action.schema is not None:
        data = body.load(action.schema(), body.json_object())
    elif request.get_data(cache=True).strip():
        data = body.json_object()
        if data:
            raise ValidationError(details={k: ["Unknown field."] for k in sorted(data)})
    with _writing():
        result = action.handler(obj, data)
    if isinstance(result, r.model):
        return ok(dump(r, result), action.status, headers=etag(r, result))
    return ok(result, action.status)
