"""The kernel's hook specifications: what every addon may implement.

Each hook is documented in docs/hooks.md (a test checks that) and exercised by a test.
Addons that offer hooks of their own keep them in their own `hookspecs.py`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from flask import Blueprint

hookspec = pluggy.HookspecMarker("pergola")
hookimpl = pluggy.HookimplMarker("pergola")


@hookspec
def register_blueprints() -> list[Blueprint] | None:
    """Called once at boot; return the Flask blueprints this addon serves (routes of an
    addon a tenant has not enabled answer 404 for that tenant)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Called once at boot with the app's click group; add this addon's commands to it."""


@hookspec
def addon_enabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Called in the tenant's context once `addon` is enabled for it (dependencies first,
    so an addon hears of itself and of those enabled after it); seed defaults idempotently
    (enable, disable, enable must not duplicate anything). Returns nothing."""


@hookspec
def addon_disabled(tenant_id: uuid.UUID, addon: str) -> None:
    """Called in the tenant's context just before `addon` is disabled for it (dependants
    first, each still enabled so it hears about itself); must not delete business data.
    Returns nothing."""


@hookspec
def load_demo_data(tenant_id: uuid.UUID) -> None:
    """Called in the demo tenant's context by `pergola demo`; add demo records idempotently."""


@hookspec
def register_record_rules() -> list[Any] | None:
    """Called once at boot; return `core.rbac.RecordRule`s narrowing what roles see of models."""


@hookspec
def register_api_resources() -> list[Any] | None:
    """Called once at boot; return the `core.api.Resource`s this addon serves under
    `/api/v1/<addon>/` (list, get, create, update, delete, bulk, actions); they answer 404
    for tenants that have not enabled the addon."""


@hookspec
def register_event_handlers() -> list[Any] | None:
    """Called once per app, when it starts; return `core.events.EventHandler`s (a stable
    name, event type patterns such as `contacts.*`, a function taking the `Event`). Each
    runs in the event's tenant, only for tenants that enable this addon, once per event."""


@hookspec
def register_scheduled_jobs() -> list[Any] | None:
    """Called once per app, when it starts; return `core.scheduler.ScheduledJob`s (a stable
    name, `every=timedelta` or daily `at="HH:MM"` UTC, a function), run by the scheduler
    in each tenant that enables this addon (or once, with `per_tenant=False`)."""


@hookspec
def dashboard_widgets(principal: Any) -> list[Any] | None:
    """Called when the dashboard renders for `principal` (a `core.auth.Principal`); return
    `core.web.widgets.Widget`s (cards of HTML, or `ChartWidget`s the kernel draws), checking
    `principal.can(...)` before showing anything."""


@hookspec
def detail_panels(model_name: str, record: Any) -> list[tuple[str, Any]] | None:
    """Called when the detail page of `record` (table `model_name`) renders; return
    `(title, html)` panels to show under it (escape what you put in the html)."""
