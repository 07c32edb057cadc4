"""The web shell: layout context, generic model views, settings pages and the dashboard."""

from __future__ import annotations

from typing import Any

from flask import Flask


def init_app(app: Flask) -> None:
    """Map the comments table, add the layout's context and the settings pages to `app`."""
    import core.web.models  # noqa: F401 - map the comments table before migrations run
    from core.web import inbox, settings
    from core.web.shell import shell_context

    app.context_processor(shell_context)
    app.register_blueprint(settings.bp)
    app.register_blueprint(inbox.bp)


def landing_page() -> Any | None:
    """The dashboard for a logged-in user, or None for a visitor (who gets the public page)."""
    from core.auth import current_principal
    from core.web.dashboard import render_dashboard

    principal = current_principal()
    if principal is None or principal.user_id is None:
        return None
    return render_dashboard(principal)
