"""The app factory: settings, database, kernel blueprints, error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template
from sqlalchemy import text

from core import api_auth, events, ratelimit, request_cycle, web, web_auth, web_session
from core.config import PROJECT_ROOT, Settings
from core.db import Database
from core.rbac import KernelRbacPlugin
from core.registry import Registry, builtin_manifests, entry_point_manifests
from core.routing import public

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
        WTF_CSRF_ENABLED=settings.extra.get("csrf", True),
        # CSRF is checked by the request cycle for web forms only: the API takes bearer
        # credentials and ignores cookies, so a forged cross-site request carries nothing.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    # Map the kernel's tables: tenants and users, identity, events and jobs, sequences,
    # the audit log, and the API's idempotency keys (imported with its docs blueprint).
    from core import audit
    from core.api import docs as api_docs
    from core.api import routes as api_routes

    db = Database(settings.database_url, **settings.extra.get("engine_options", {}))
    db.init_app(app)
    _register_kernel_routes(app)
    app.register_blueprint(audit.blueprint)
    request_cycle.init_app(app)
    web_session.init_app(app)
    ratelimit.init_app(app, settings.redis_url)
    app.register_blueprint(web_auth.bp)
    app.register_blueprint(api_auth.bp)
    web.init_app(app)
    app.register_blueprint(api_docs.bp)
    registry = build_registry(settings)
    registry.init_app(app)
    events.init_app(app)
    # The kernel's own API blueprints (auth, audit, webhooks, notifications) get what the
    # registry gives an addon's: the API rate limit and writes as one unit of work.
    api_routes.adopt_all(app)
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
    kernel_plugins = [KernelRbacPlugin(), *settings.extra.get("kernel_plugins", ())]
    return Registry(manifests, kernel_plugins=kernel_plugins)


def _register_kernel_routes(app: Flask) -> None:
    @app.get("/healthz")
    @public
    def healthz() -> Any:
        """Liveness and database check for load balancers."""
        # Through the request's own session: on SQLite a second connection would wait
        # behind the write lock this request may already hold (BEGIN IMMEDIATE).
        from core.db import session

        try:
            session.execute(text("SELECT 1"))
        except Exception:
            log.exception("health check: database unreachable")
            session.rollback()
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    @app.get("/")
    @public
    def index() -> Any:
        """The dashboard for a logged-in user; for visitors, a page that leads to the login.

        It names no tenant: one deployment serves many companies, and a visitor must not
        learn who the others are.
        """
        page = web.landing_page()
        if page is not None:
            return page
        return render_template("index.html")
