"""testkit's hook implementations: a blueprint and a record rule on the test Project model."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import func, select

from core.auth import current_principal, require_permission
from core.db import session
from core.envelope import ok
from core.hookspecs import hookimpl
from core.rbac import RecordRule
from tests.kernel_models import Project

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


@api.post("/things")
@require_permission("testkit.things:create")
def create_thing() -> Any:
    """Create a project owned by the caller."""
    principal = current_principal()
    p = Project(name="made", owner_id=principal.user_id if principal else None)
    session.add(p)
    session.commit()
    return ok({"id": str(p.id)}, 201)


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
