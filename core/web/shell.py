"""What every page of the web shell shows: tenant, switcher, menus, bell, settings links."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request, url_for

from core.auth import Principal, current_principal

log = logging.getLogger("pergola.web")


@dataclass(frozen=True)
class NavLink:
    """A link of the top bar: a label, a URL and whether it is the current page."""

    label: str
    url: str
    active: bool = False


# Settings sections: (endpoint, label, permission); shown to those who hold the permission.
SETTINGS_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("web_settings.addons", "Addons", "core.addons:manage"),
    ("web_settings.users", "Users", "core.users:manage"),
    ("web_settings.roles", "Roles", "core.roles:manage"),
    ("web_settings.api_keys", "API keys", "core.apikeys:manage"),
    ("web_settings.audit", "Audit log", "core.audit:read"),
    ("web_settings.webhooks", "Webhooks", "core.webhooks:manage"),
    ("web_settings.failed_events", "Failed events", "core.events:manage"),
)


def settings_links(principal: Principal | None) -> list[NavLink]:
    """The settings sections `principal` may open."""
    if principal is None:
        return []
    here = request.endpoint if has_request_context() else None
    return [
        NavLink(label, url_for(ep), ep == here)
        for ep, label, perm in SETTINGS_SECTIONS
        if principal.can(perm)
    ]


def menu_links(principal: Principal) -> list[NavLink]:
    """The app menu: enabled addons' menu items the principal may see."""
    from core.registry import current_registry

    links = []
    path = request.path if has_request_context() else ""
    for item in current_registry().menus(principal.tenant_id, principal.can):
        try:
            url = url_for(item.endpoint)
        except Exception:  # noqa: BLE001 - a menu naming a missing endpoint must not break pages
            log.warning("menu item %r names unknown endpoint %r", item.label, item.endpoint)
            continue
        links.append(NavLink(item.label, url, path == url or path.startswith(url + "/")))
    return links


def unread_notifications(principal: Principal) -> int | None:
    """Unread in-app notifications for the bell; None when the principal may not see any."""
    if principal.user_id is None or not principal.can("core.notifications:read"):
        return None
    from core.notifications import unread_count

    return unread_count(principal.user_id)


def shell_context() -> dict[str, Any]:
    """Template variables of the layout; empty for anonymous visitors."""
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return {"shell": None}
    if (
        has_request_context()
        and request.headers.get("HX-Request")
        and not request.headers.get("HX-Boosted")
    ):
        return {"shell": None}  # an htmx fragment has no top bar: spare its queries
    from core.db import session
    from core.login import user_tenants
    from core.models import Tenant

    try:
        tenant = session.get(Tenant, principal.tenant_id)
        shell: dict[str, Any] = {
            "tenant": tenant,
            "tenants": user_tenants(principal.user_id),
            "menu": menu_links(principal),
            "settings": settings_links(principal),
        }
        shell["unread"] = unread_notifications(principal)
        return {"shell": shell}
    except Exception:
        log.exception("could not build the page shell")
        return {"shell": None}
