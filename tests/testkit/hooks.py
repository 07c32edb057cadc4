"""testkit's hook implementations: a blueprint and a record rule on the test Project model."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from core.api import body, documented
from core.auth import current_principal, require_permission
from core.db import session
from core.envelope import ok
from core.hookspecs import hookimpl
from core.rbac import RecordRule
from tests.kernel_models import Project, Task

bp = Blueprint("testkit", __name__, url_prefix="/testkit")
api = Blueprint("testkit_api", __name__, url_prefix="/api/v1/testkit")


@api.get("/things")
@require_permission("testkit.things:read")
def list_things() -> Any:
    """Projects the caller may see, with a count (record rules apply to both)."""
    names = session.scalars(select(Project.name).order_by(Project.name)).all()
    count = session.scalar(select(func.count()).select_from(Project))
    return ok({"names": list(names), "count": count})


@api.get("/things/<uuid:thing_id>")
@require_permission("testkit.things:read")
def get_thing(thing_id: Any) -> Any:
    """One project by id; 404 when not visible."""
    from core.errors import NotFound

    p = session.get(Project, thing_id)
    if p is None:
        raise NotFound("no such thing")
    return ok({"name": p.name})


class ThingIn(Schema):
    """Body of POST /api/v1/testkit/things."""

    name = fields.String(load_default="made", validate=validate.Length(min=1, max=100))
    tasks = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)


class ThingOut(Schema):
    """A thing as the API shows it."""

    id = fields.UUID()
    name = fields.String()
    tasks = fields.Integer()


@api.post("/things")
@require_permission("testkit.things:create")
@documented(body=ThingIn, response=ThingOut, status=201)
def create_thing() -> Any:
    """Create a project owned by the caller, with its tasks (a task named "refused" is).

    Nothing here commits: the kernel's unit of work does, on a 2xx answer only.
    """
    from core.errors import Conflict

    data = body.load(ThingIn(), body.json_object() if request.get_data() else {})
    principal = current_principal()
    p = Project(name=data["name"], owner_id=principal.user_id if principal else None)
    session.add(p)
    session.flush()  # the project is written before a task may be refused
    for title in data["tasks"]:
        if title == "refused":
            raise Conflict("this task is refused", details={"tasks": ["refused"]})
        session.add(Task(project=p, title=title))
    session.flush()
    return ok({"id": str(p.id), "name": p.name, "tasks": len(data["tasks"])}, 201)


@bp.get("/things")
@require_permission("testkit.things:read")
def things_page() -> Any:
    """A web page guarded like the API."""
    return "<h1>Things</h1>"


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """testkit's routes."""
    return [bp, api]


@hookimpl
def register_record_rules() -> list[RecordRule]:
    """Sales people see only their own projects."""
    return [
        RecordRule(
            "sales: own projects",
            Project,
            frozenset({"sales"}),
            lambda model, principal: model.owner_id == principal.user_id,
        )
    ]


@hookimpl
def register_api_resources() -> list:
    """The Project resource of the API toolkit."""
    from tests.testkit.api import projects

    return [projects]
