"""The bell's page: the user's in-app notifications, and marking them read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from core import notifications
from core.auth import current_principal, require_permission
from core.db import session

bp = Blueprint("web_inbox", __name__)


def _user_id() -> Any:
    principal = current_principal()
    assert principal is not None and principal.user_id is not None  # guarded route
    return principal.user_id


@bp.get("/notifications")
@require_permission("core.notifications:read")
def inbox() -> Any:
    """The user's notifications in this company, newest first."""
    rows = notifications.list_notifications(_user_id(), limit=100)
    return render_template(
        "web/inbox.html", notifications=rows, breadcrumbs=[("Notifications", None)]
    )


@bp.post("/notifications/read")
@require_permission("core.notifications:read")
def mark_all_read() -> Any:
    """Mark every notification read."""
    count = notifications.mark_read(_user_id())
    session.commit()
    flash(f"Marked {count} notification{'' if count == 1 else 's'} read", "success")
    return redirect(url_for("web_inbox.inbox"), 303)
