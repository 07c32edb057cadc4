"""Notifications: a row per user for the bell, and email sent from a job after commit.

Addons call `notify(...)` inside their transaction; nothing is sent if it rolls back. The
email goes out through the outbox (an internal event handled by the kernel), so it is
retried with backoff like any handler, and SMTP being down delays mail but loses none.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from core.db import session
from core.errors import ValidationError
from core.event_models import Notification
from core.events import Event, EventHandler, emit_internal
from core.mixins import utcnow
from core.tenancy import require_tenant_id

EMAIL_EVENT = "core.notification.email"


def notify(
    user_ids: Iterable[uuid.UUID | str],
    subject: str,
    body: str = "",
    link: str | None = None,
    email: bool = True,
) -> list[Notification]:
    """Notify members of the tenant in context; with `email`, also mail each one (after commit).

    Every user must be an active member of the tenant (else a `ValidationError` on
    `user_ids`). Returns the notifications, one per user.
    """
    from core.models import Membership

    tenant_id = require_tenant_id()
    try:
        ids = list(dict.fromkeys(uuid.UUID(str(u)) for u in user_ids))
    except ValueError:
        raise ValidationError("user_ids must be user ids", field="user_ids") from None
    if not ids:
        raise ValidationError("give at least one user to notify", field="user_ids")
    subject = (subject or "").strip()
    if not subject or len(subject) > 200:
        raise ValidationError("subject is required (at most 200 characters)", field="subject")
    if link is not None and len(link) > 500:
        raise ValidationError("link is longer than 500 characters", field="link")
    members = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.tenant_id == tenant_id,
                Membership.user_id.in_(ids),
                Membership.active.is_(True),
            )
        )
    )
    strangers = [str(i) for i in ids if i not in members]
    if strangers:
        raise ValidationError(
            f"not members of this tenant: {', '.join(strangers)}", field="user_ids"
        )
    rows = [
        Notification(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            user_id=uid,
            subject=subject,
            body=body or "",
            link=link,
            created_at=utcnow(),
            email_state="pending" if email else None,
        )
        for uid in ids
    ]
    session.add_all(rows)
    session.flush()
    if email:
        for row in rows:
            # One event per mail: a failure to reach one person never re-sends the others.
            emit_internal(EMAIL_EVENT, {"notification_id": row.id})
    return rows


def list_notifications(
    user_id: uuid.UUID, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """The user's notifications in the tenant in context, newest first."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(
        session.scalars(
            stmt.order_by(Notification.created_at.desc()).limit(max(1, min(limit, 500)))
        )
    )


def unread_count(user_id: uuid.UUID) -> int:
    """How many unread notifications the bell shows."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(user_id: uuid.UUID, ids: Iterable[uuid.UUID | str] | None = None) -> int:
    """Mark the user's notifications `ids` (default: all) read; returns how many changed."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        try:
            wanted = [uuid.UUID(str(i)) for i in ids]
        except ValueError:
            raise ValidationError("ids must be notification ids", field="ids") from None
        stmt = stmt.where(Notification.id.in_(wanted))
    result = session.execute(
        stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def notification_dict(n: Notification) -> dict[str, Any]:
    """A notification as the API and the bell show it."""
    return {
        "id": str(n.id),
        "subject": n.subject,
        "body": n.body,
        "link": n.link,
        "created_at": n.created_at.isoformat().replace("+00:00", "Z"),
        "read": n.read_at is not None,
        "email": n.email_state,
    }


def _message_body(n: Notification) -> str:
    text = n.body or ""
    if n.link:
        base = os.environ.get("PERGOLA_BASE_URL", "").rstrip("/")
        link = f"{base}{n.link}" if n.link.startswith("/") and base else n.link
        text = f"{text}\n\n{link}" if text else link
    return text


def _send_email(event: Event) -> None:
    """Mail one notification (the kernel's handler of `core.notification.email`)."""
    from core.mailer import send_mail
    from core.models import User

    row = session.get(Notification, uuid.UUID(str(event.payload["notification_id"])))
    if row is None or row.email_state != "pending":
        return  # deleted, or already sent by an earlier delivery
    user = session.get(User, row.user_id)
    if user is None or not user.active or not user.email:
        row.email_state = "skipped"
        return
    send_mail(user.email, row.subject, _message_body(row))
    row.email_state, row.emailed_at = "sent", utcnow()


def event_handlers() -> list[EventHandler]:
    """The kernel's handlers of its own internal events."""
    return [EventHandler("notification_email", EMAIL_EVENT, _send_email)]
