"""testkit's web pages: the generic views on the test Project model, a widget and a panel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from markupsafe import escape
from sqlalchemy import func, select

from core.auth import Principal, require_permission
from core.db import session
from core.hookspecs import hookimpl
from core.web.views import Column, Filter, ModelViews
from core.web.widgets import ChartWidget, Widget
from tests.kernel_models import Project, Task
from tests.testkit.api import (
    ProjectSchema,
    create_project,
    delete_project_without_tasks,
    update_project,
)

bp = Blueprint("testkit_web", __name__, url_prefix="/testkit")


def owner_choices() -> list[tuple[str, str]]:
    """Who may own a project: the active members of the current tenant, by email."""
    from core.tenancy import require_tenant_id
    from core.web.admin import members

    return [(str(m.user_id), m.email) for m in members(require_tenant_id()) if m.active]


projects = ModelViews(
    name="projects",
    model=Project,
    # The API's schema and service: the form has the API's rules, and nothing else.
    schema=ProjectSchema,
    choices={"owner_id": owner_choices},
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
    update=update_project,
)
projects.register(bp)

# The same records through a view without a detail page, and without the owner on its form.
quick_projects = ModelViews(
    name="quick_projects",
    path="/quick-projects",
    model=Project,
    schema=ProjectSchema,
    exclude=["owner_id"],
    pages=("list", "new", "edit", "comment", "delete"),
    title="Quick projects",
    singular="Project",
    columns=[Column("name", link=True)],
    permissions={
        "read": "testkit.things:read",
        "create": "testkit.things:create",
        "update": "testkit.things:create",
        "delete": "testkit.things:create",
    },
    create=create_project,
    update=update_project,
    delete=delete_project_without_tasks,
)
quick_projects.register(bp)


@bp.get("/boom")
@require_permission("testkit.things:read")
def boom() -> Any:
    """A page with a bug, for the tests of the 500 page."""
    raise RuntimeError("testkit's deliberate bug")


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
