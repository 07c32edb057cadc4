"""`/api/v1/openapi.json` (the caller's tenant's document) and `/api/docs` (Swagger UI)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from core.api import (
    models,  # noqa: F401  - map the idempotency keys' table
    resources_of,
)
from core.api.limits import limit_api
from core.api.openapi import build_document
from core.auth import current_principal
from core.registry import KERNEL, current_registry
from core.routing import login_required, public

bp = Blueprint("api_docs", __name__)
SWAGGER_UI = "vendor/swagger-ui-5.35.0"


@bp.get("/api/v1/openapi.json")
@login_required
def openapi() -> Any:
    """The OpenAPI document of the resources the caller's tenant has enabled."""
    principal = current_principal()
    assert principal is not None  # login_required let us in
    registry = current_registry()
    enabled = registry.enabled_addons(principal.tenant_id)
    pairs: list[tuple[str, Any]] = []
    for name, blueprint in current_app.blueprints.items():
        owner = registry.blueprint_owner(name)  # None: the kernel's
        if owner is not None and owner not in enabled:
            continue
        pairs.extend(
            (getattr(blueprint, "pergola_addon", KERNEL), r) for r in resources_of(blueprint)
        )
    return jsonify(build_document(pairs))


@bp.get("/api/docs")
@public
def docs() -> Any:
    """Swagger UI, served from vendored files; paste a token to load your tenant's API."""
    return render_template("api/docs.html", swagger_ui=SWAGGER_UI)


limit_api(bp)
