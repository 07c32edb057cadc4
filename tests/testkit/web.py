"""testkit's web pages: the generic views on the test Project model, a widget and a panel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint
from markupsafe import escape
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from core.auth import Principal
from core.db import session
from core.errors import ValidationError
from core.hookspecs import hookimpl
from core.web.views import Column, Filter, ModelViews
from core.web.widgets import ChartWidget, Widget
from tests.kernel_models import Project, Task

bp = Blueprint("testkit_web", __name__, url_prefix="/testkit")


class ProjectForm(Schema):
    """A project as the web form and the detail page see it."""

    id = fields.UUID(dump_only=True)
    name = fields.String(
        required=True, validate=validate.Length(min=2, max=100), metadata={"label": "Name"}
    )
    budget = fields.Decimal(
        required=True,
        as_string=True,
        places=2,
        validate=validate.Range(min=Decimal("0")),
        metadata={"label": "Budget", "description": "In the company currency"},
    )
    version = fields.Integer(dump_only=True)


def create_project(data: dict[str, Any]) -> Project:
    """The business rule the form must show next to its field: names are unique."""
    if session.scalar(select(Project.id).where(Project.name == data["name"])) is not None:
        raise ValidationError(details={"name": ["a project with this name exists"]})
    project = Project(**data)
    session.add(project)
    session.flush()
    return project


projects = ModelViews(
    name="projects",
    model=Project,
    schema=ProjectForm,
    title="Projects",
    singular="Project",
    columns=[
        Column("name", link=True),
        Column("budget", format=lambda v: f"{v:.2f}"),
        Column("created_at", "Created", format=lambda d: d.strftime("%Y-%m-%d")),
    ],
    search=["name"],
    default_sort="name",
    filters=[Filter("budget", "Budget", choices=[("0.00", "No budget")])],
    permissions={
        "read": "testkit.things:read",
        "create": "testkit.things:create",
        "update": "testkit.things:create",
        "delete": "testkit.things:create",
    },
    create=create_project,
)
projects.register(bp)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    """The generic pages of Project."""
    return [bp]


@hookimpl
def dashboard_widgets(principal: Principal) -> list[Widget]:
    """A chart of the projects' budgets, for those who may see projects."""
    if not principal.can("testkit.things:read"):
        return []
    rows = session.execute(
        select(Project.name, Project.budget).order_by(Project.name).limit(10)
    ).all()
    count = session.scalar(select(func.count()).select_from(Project)) or 0
    return [
        ChartWidget(
            "Project budgets",
            kind="bar",
            labels=[r.name for r in rows],
            datasets=[{"label": "Budget", "data": [float(r.budget) for r in rows]}],
            order=10,
        ),
        Widget("Projects", html=f"<p class='display-6 mb-0'>{count}</p><p>projects</p>", order=20),
    ]


@hookimpl
def detail_panels(model_name: str, record: Any) -> list[tuple[str, str]]:
    """The tasks of a project, under its details."""
    if model_name != "test_project":
        return []
    titles = session.scalars(
        select(Task.title).where(Task.project_id == record.id).order_by(Task.title)
    ).all()
    items = "".join(f"<li>{escape(t)}</li>" for t in titles) or "<li>No tasks</li>"
    return [("Tasks", f"<ul class='mb-0'>{items}</ul>")]
