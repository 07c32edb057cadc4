"""Tables of the events layer: the outbox, handler receipts and failures, webhooks,
notifications and the scheduler's record of last runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import Timestamps, UUIDPrimaryKey, utcnow
from core.tenancy import TenantOwned

EVENT_STATES = ("pending", "queued", "retrying", "done", "failed")
DELIVERY_STATES = ("pending", "queued", "retrying", "succeeded", "failed")


class OutboxEvent(UUIDPrimaryKey, TenantOwned, Base):
    """An event, written in the transaction of the change it describes, and its dispatch state.

    `state` moves pending -> queued -> done; `retrying` while a handler waits for its next
    attempt, `failed` once one gave up. `next_attempt_at` is when the relay may (re)send it:
    a little after creation (the after-commit dispatcher normally wins), the end of the
    lease once queued (a worker that died leaves it to be sent again), or a retry time.
    """

    __tablename__ = "core_event"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False
    __table_args__ = (Index("ix_core_event_due", "state", "next_attempt_at"),)

    type: Mapped[str] = mapped_column(String(150), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    dispatched_at: Mapped[dt.datetime | None] = mapped_column()
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[dt.datetime | None] = mapped_column()
    webhooks_done: Mapped[bool] = mapped_column(Boolean, default=False)


class EventReceipt(TenantOwned, Base):
    """Proof that `handler` applied event `event_id`: written in the handler's own transaction."""

    __tablename__ = "core_event_receipt"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_event.id", ondelete="CASCADE"), primary_key=True
    )
    handler: Mapped[str] = mapped_column(String(120), primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EventFailure(UUIDPrimaryKey, TenantOwned, Base):
    """A handler that failed on an event: waiting for a retry, or given up (`failed`)."""

    __tablename__ = "core_event_failure"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False
    __table_args__ = (UniqueConstraint("event_id", "handler"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_event.id", ondelete="CASCADE"), index=True
    )
    handler: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="retrying")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    first_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()


class WebhookEndpoint(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """An integrator's URL that receives the tenant's events matching `event_types`."""

    __tablename__ = "core_webhook_endpoint"
    __audit_redact__ = ("secret",)  # record that the secret changed, never its value

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[dt.datetime | None] = mapped_column()
    disabled_reason: Mapped[str] = mapped_column(String(300), default="")


class WebhookDelivery(UUIDPrimaryKey, TenantOwned, Base):
    """One event owed to one endpoint; its attempts are logged in `WebhookAttempt`."""

    __tablename__ = "core_webhook_delivery"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_core_webhook_delivery_due", "state", "next_attempt_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_event.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(150))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Gives up once `attempts` reaches it; a manual retry raises it by another round.
    attempt_limit: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class WebhookAttempt(UUIDPrimaryKey, TenantOwned, Base):
    """One HTTP attempt of a delivery: what the receiver answered and how long it took."""

    __tablename__ = "core_webhook_attempt"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")


class Notification(UUIDPrimaryKey, TenantOwned, Base):
    """A message for one user: shown under the bell, and optionally sent by email."""

    __tablename__ = "core_notification"
    # Delivery machinery, not business data: it is its own log, and auditing it would
    # double every event write.
    __audit__ = False
    __table_args__ = (Index("ix_core_notification_inbox", "user_id", "read_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column()
    # None: no email wanted; then pending -> sent.
    email_state: Mapped[str | None] = mapped_column(String(16))
    emailed_at: Mapped[dt.datetime | None] = mapped_column()


class ScheduledRun(Base):
    """When a scheduled job last fired and is next due (per tenant, or once for `*`).

    Workers claim a firing by moving `next_run_at` forward with a conditional UPDATE, so
    several schedulers never fire the same run twice.
    """

    __tablename__ = "core_scheduled_run"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    job: Mapped[str] = mapped_column(String(120))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), index=True
    )
    next_run_at: Mapped[dt.datetime] = mapped_column()
    last_run_at: Mapped[dt.datetime | None] = mapped_column()
    last_status: Mapped[str] = mapped_column(String(16), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
