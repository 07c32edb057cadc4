"""The app factory: settings, database, kernel blueprints, error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, abort, jsonify, render_template, request
from sqlalchemy import text

from core.config import PROJECT_ROOT, Settings
from core.db import Database, get_db
from core.errors import DomainError
from core.registry import Registry, builtin_manifests, current_registry, entry_point_manifests
from core.routing import public
from core.tenancy import current_tenant_id

log = logging.getLogger("pergola")


def build_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; see `core.create_app`."""
    settings = Settings.from_env(config)
    app = Flask(
        "pergola",
        root_path=str(PROJECT_ROOT),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "templates" / "static"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        PERGOLA=settings,
        MAX_CONTENT_LENGTH=settings.extra.get("max_content_length", 10 * 1024 * 1024),
    )
    import core.models  # noqa: F401  - map the kernel's tables

    db = Database(settings.database_url, **settings.extra.get("engine_options", {}))
    db.init_app(app)
    _register_kernel_routes(app)
    _register_error_handlers(app)
    registry = build_registry(settings)
    app.before_request(_addon_guard)
    registry.init_app(app)
    return app


def build_registry(settings: Settings) -> Registry:
    """Discover the installed addons (built-in and entry points) and load them in order.

    `only_addons` (a list of manifests) replaces discovery and `extra_addons` adds to it;
    both are for tests and embedding.
    """
    manifests = settings.extra.get("only_addons")
    if manifests is None:
        manifests = [*builtin_manifests(), *entry_point_manifests()]
    manifests = [*manifests, *settings.extra.get("extra_addons", [])]
    return Registry(manifests, kernel_plugins=settings.extra.get("kernel_plugins", ()))


def _addon_guard() -> None:
    """Routes of an addon the tenant has not enabled answer 404, as if they did not exist."""
    registry = current_registry()
    owner = registry.blueprint_owner(request.blueprint)
    if owner is None:
        return
    tenant_id = current_tenant_id()
    if tenant_id is None or not registry.is_enabled(owner, tenant_id):
        abort(404)


def _register_kernel_routes(app: Flask) -> None:
    @app.get("/healthz")
    @public
    def healthz() -> Any:
        """Liveness and database check for load balancers."""
        try:
            with get_db().engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            log.exception("health check: database unreachable")
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    @app.get("/")
    @public
    def index() -> Any:
        """The landing page."""
        from core.services import list_tenants
        from core.tenancy import system_context

        with system_context():
            tenants = list_tenants()
        return render_template("index.html", tenants=tenants)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError) -> Any:
        return jsonify(success=False, error=err.to_dict()), err.status
