"""`/api/v1/notifications`: the caller's own notifications (the bell)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from core import notifications
from core.api.endpoint import documented
from core.api.kernel_schemas import MarkedOut, MarkReadIn, NotificationOut, NotificationsQuery
from core.auth import AuthenticationRequired, current_principal, require_permission
from core.envelope import ok
from core.errors import ValidationError

bp = Blueprint("core_notifications", __name__, url_prefix="/api/v1/notifications")

PERMISSION = "core.notifications:read"


def _user_id() -> uuid.UUID:
    principal = current_principal()
    if principal is None or principal.user_id is None:
        raise AuthenticationRequired("notifications belong to users: log in as one")
    return principal.user_id


@bp.get("")
@require_permission(PERMISSION)
@documented(query=NotificationsQuery, response=NotificationOut, many=True)
def list_notifications() -> Any:
    """The caller's notifications, newest first (`?unread=1`, `?limit=50`)."""
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ValidationError("limit must be a number", field="limit") from None
    unread = request.args.get("unread", "").lower() in ("1", "true", "yes")
    user_id = _user_id()
    rows = notifications.list_notifications(user_id, unread_only=unread, limit=limit)
    return ok(
        [notifications.notification_dict(n) for n in rows],
        extra_meta={"unread": notifications.unread_count(user_id)},
    )


@bp.post("/read")
@require_permission(PERMISSION)
@documented(body=MarkReadIn, response=MarkedOut)
def mark_read() -> Any:
    """Mark notifications read: `{"ids": [...]}`, or all of them without `ids`."""
    body = request.get_json(silent=True) or {}
    ids = body.get("ids") if isinstance(body, dict) else None
    if ids is not None and not isinstance(ids, list):
        raise ValidationError("ids must be a list of notification ids", field="ids")
    changed = notifications.mark_read(_user_id(), ids)
    return ok({"marked": changed})
