"""`/api/v1/openapi.json` (the caller's tenant's document) and `/api/docs` (Swagger UI)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from core.api import (
    models,  # noqa: F401  - map the idempotency keys' table
    resources_of,
)
from core.api.limits import limit_api
from core.api.openapi import SpecBuilder
from core.api.openapi_routes import KERNEL_TAG, RouteDocs
from core.api.routes import api_rules
from core.auth import current_principal
from core.registry import KERNEL, current_registry
from core.routing import login_required, public

bp = Blueprint("api_docs", __name__)
SWAGGER_UI = "vendor/swagger-ui-5.35.0"


@bp.get("/api/v1/openapi.json")
@login_required
def openapi() -> Any:
    """The OpenAPI document of the kernel's routes and those of the caller's enabled addons."""
    principal = current_principal()
    assert principal is not None  # login_required let us in
    registry = current_registry()
    enabled = registry.enabled_addons(principal.tenant_id)
    builder = SpecBuilder()
    routes = RouteDocs(builder)
    for name, blueprint in current_app.blueprints.items():
        owner = registry.blueprint_owner(name)  # None: the kernel's
        if owner is not None and owner not in enabled:
            continue
        resources = resources_of(blueprint)
        if resources:
            addon = getattr(blueprint, "pergola_addon", KERNEL)
            for resource in resources:
                builder.add_resource(addon, resource)
        elif getattr(blueprint, "pergola_in_openapi", True):
            rules = [
                (rule, current_app.view_functions[rule.endpoint])
                for rule in api_rules(current_app, name)
                if rule.rule.startswith("/api/v1/")
            ]
            routes.add(owner or KERNEL_TAG, rules)
    return jsonify(builder.to_dict())


@bp.get("/api/docs")
@public
def docs() -> Any:
    """Swagger UI, served from vendored files; paste a token to load your tenant's API."""
    return render_template("api/docs.html", swagger_ui=SWAGGER_UI)


bp.pergola_in_openapi = False  # type: ignore[attr-defined]  # the document and its viewer
limit_api(bp)
