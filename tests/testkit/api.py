"""testkit's JSON API: the Project resource, declared the way an addon declares one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api import Action, Resource
from core.auth import current_principal
from core.db import session
from core.errors import Conflict, ValidationError
from core.services import memberships_of
from core.tenancy import current_tenant_id
from tests.kernel_models import Project, Task

# Projects whose creation breaks a database rule on purpose, by name, so the tests see what
# the API answers when the database, not a service, refuses a write. Filled only inside
# `breaking()`: a generated request (schemathesis) can never reach it by a name it guessed.
_BREAKING: dict[str, str] = {}


@contextmanager
def breaking(name: str, how: str) -> Iterator[None]:
    """While inside, creating the project `name` breaks a database rule: `"duplicate-task"`
    (two tasks with one id: a unique key) or `"too-long"` (a name longer than its column,
    which PostgreSQL refuses)."""
    _BREAKING[name] = how
    try:
        yield
    finally:
        _BREAKING.pop(name, None)


MONEY = {"as_string": True, "validate": validate.Range(min=Decimal(0), max=Decimal(10) ** 12)}


class TaskSchema(Schema):
    """A task as the API shows it."""

    id = fields.UUID(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    hours = fields.Decimal(load_default=Decimal(0), **MONEY)


class ProjectSchema(Schema):
    """A project: what the API accepts and shows."""

    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    budget = fields.Decimal(load_default=Decimal(0), **MONEY)
    owner_id = fields.UUID(allow_none=True, load_default=None)
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


def create_project(data: dict[str, Any]) -> Project:
    """The service: names are unique per tenant (409 otherwise); the owner defaults to the
    caller."""
    if session.scalar(select(Project.id).where(Project.name == data["name"])) is not None:
        raise Conflict(
            f"a project named {data['name']!r} exists",
            code="DUPLICATE_NAME",
            details={"name": ["already exists"]},
        )
    principal = current_principal()
    if data.get("owner_id") is None and principal is not None:
        data = {**data, "owner_id": principal.user_id}
    else:
        _check_owner(data.get("owner_id"))
    project = Project(**data)
    session.add(project)
    _break_on_purpose(project)
    return project


def update_project(project: Project, data: dict[str, Any]) -> Project:
    """The update service: a new owner must be an active member of the tenant."""
    if data.get("owner_id") not in (None, project.owner_id):
        # Only a new owner is checked: one who has since left may stay until replaced.
        _check_owner(data["owner_id"])
    for key, value in data.items():
        setattr(project, key, value)
    session.flush()
    return project


def _check_owner(owner_id: uuid.UUID | None) -> None:
    """A reference is checked by the service, not the form's select: the owner must be an
    active member of the tenant in context (422 on owner_id otherwise)."""
    if owner_id is None:
        return
    tenant_id = current_tenant_id()
    if not any(m.tenant_id == tenant_id for m in memberships_of(owner_id)):
        raise ValidationError("no such user in this tenant", field="owner_id")


def delete_project_without_tasks(project: Project) -> None:
    """A delete service that refuses a project with tasks (409), for the views' error path."""
    if session.scalar(select(Task.id).where(Task.project_id == project.id).limit(1)):
        raise Conflict("a project with tasks cannot be deleted", code="PROJECT_HAS_TASKS")
    session.delete(project)
    session.flush()


def _break_on_purpose(project: Project) -> None:
    """Write what the database refuses, for a project named inside `breaking()`."""
    how = _BREAKING.get(project.name)
    if how == "duplicate-task":
        session.flush()
        first = Task(project_id=project.id, title="first")
        session.add(first)
        session.flush()
        session.expunge(first)  # forgotten by the session, so only the database objects
        session.add(Task(id=first.id, project_id=project.id, title="second"))
    elif how == "too-long":
        project.name = "x" * 101


def add_task(project: Project, data: dict[str, Any]) -> Project:
    """The custom action: plan a task on the project."""
    session.add(Task(project=project, **data))
    session.flush()
    session.refresh(project, ["tasks"])
    return project


projects = Resource(
    "projects",
    Project,
    ProjectSchema,
    "testkit.projects",
    filterable=("name", "budget", "owner_id", "created_at"),
    sortable=("name", "budget", "created_at"),
    searchable=("name",),
    expandable={"tasks": TaskSchema},
    actions=(
        Action(
            "add-task",
            add_task,
            "testkit.projects:plan",
            schema=TaskSchema,
            summary="Plan a task on the project",
        ),
    ),
    default_sort=("name",),
    create=create_project,
    update=update_project,
    summary="Projects of the tenant",
)
