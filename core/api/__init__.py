"""The JSON API toolkit: an addon declares `Resource`s, the kernel serves them under /api/v1.

from core.api import Action, Resource

@hookimpl
def register_api_resources():
    return [Resource("accounts", Account, AccountSchema, "contacts.accounts",
                     filterable=("name",), sortable=("name",), searchable=("name",))]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.api.endpoint import documented
from core.api.resource import Action, Resource

if TYPE_CHECKING:
    from flask import Blueprint

    from core.registry import Registry

__all__ = ["Action", "Resource", "documented", "resource_blueprints"]


def resource_blueprints(registry: Registry) -> list[tuple[str, Blueprint]]:
    """(owner, blueprint) for each plugin's `register_api_resources`, one blueprint per owner."""
    from core.api.limits import limit_api
    from core.api.views import build_blueprint

    by_owner: dict[str, list[Resource]] = {}
    for owner, result in registry.results_by_owner("register_api_resources"):
        for resource in result or []:
            if not isinstance(resource, Resource):
                raise TypeError(
                    f"addon {owner!r}: register_api_resources returned "
                    f"{resource!r}, not a core.api.Resource"
                )
            by_owner.setdefault(owner, []).append(resource)
    blueprints = []
    for owner, resources in by_owner.items():
        bp = build_blueprint(owner, resources)
        limit_api(bp)
        blueprints.append((owner, bp))
    return blueprints


def resources_of(blueprint: Any) -> list[Resource]:
    """The resources a toolkit blueprint serves (empty for any other blueprint)."""
    return list(getattr(blueprint, "pergola_resources", []))
