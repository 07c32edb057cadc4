"""What the kernel's own API routes take and answer (auth, audit, webhooks, notifications),
as marshmallow schemas for `@documented`: the OpenAPI document describes them with these."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

MAX_AUDIT_LIMIT = 1000
DELIVERY_STATES = ("pending", "queued", "retrying", "succeeded", "failed")


class LoginIn(Schema):
    """Body of POST /api/v1/auth/login."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True, validate=validate.Length(min=1))
    password = fields.String(required=True, validate=validate.Length(min=1))
    tenant = fields.String(metadata={"description": "The tenant's slug (when in several)"})


class RefreshTokenIn(Schema):
    """Body of POST /api/v1/auth/refresh and /logout."""

    class Meta:
        unknown = EXCLUDE

    refresh_token = fields.String(required=True, validate=validate.Length(min=1))


class TokensOut(Schema):
    """An access JWT and a refresh token."""

    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    refresh_token = fields.String()
    tenant = fields.String()


class RevokedOut(Schema):
    """The answer of a logout."""

    revoked = fields.Boolean()


class MeOut(Schema):
    """Who a credential belongs to."""

    user_id = fields.UUID(allow_none=True)
    email = fields.String(allow_none=True)
    kind = fields.String()
    tenant_id = fields.UUID()
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())


class AuditQuery(Schema):
    """Query of GET /api/v1/audit."""

    model = fields.String(metadata={"description": "A table name"})
    record = fields.String(metadata={"description": "A record id"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_AUDIT_LIMIT))


class AuditEntryOut(Schema):
    """One change in the audit log."""

    id = fields.Integer()
    tenant_id = fields.UUID()
    at = fields.String()
    user_id = fields.UUID(allow_none=True)
    api_key_id = fields.UUID(allow_none=True)
    action = fields.String()
    model = fields.String()
    record_id = fields.String(allow_none=True)
    changes = fields.Dict(allow_none=True)
    request_id = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)


class WebhookEndpointOut(Schema):
    """A webhook endpoint; `secret` only when just created or rotated."""

    id = fields.UUID()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    consecutive_failures = fields.Integer()
    disabled_at = fields.String(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    secret_hint = fields.String()
    secret = fields.String()
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class WebhookDeletedOut(Schema):
    """The answer of DELETE /api/v1/webhooks/<id>."""

    id = fields.String()
    deleted = fields.Boolean()


class DeliveriesQuery(Schema):
    """Query of GET /api/v1/webhooks/<id>/deliveries."""

    state = fields.String(validate=validate.OneOf(DELIVERY_STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AttemptOut(Schema):
    """One attempt at sending a delivery."""

    number = fields.Integer()
    attempted_at = fields.String(allow_none=True)
    success = fields.Boolean()
    status_code = fields.Integer(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    response_excerpt = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class DeliveryOut(Schema):
    """A delivery of an event to an endpoint, with its attempts."""

    id = fields.UUID()
    event_id = fields.UUID()
    event_type = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    log = fields.List(fields.Nested(AttemptOut))


class DeliveryRetriedOut(Schema):
    """The answer of a delivery retry."""

    id = fields.UUID()
    state = fields.String()


class NotificationsQuery(Schema):
    """Query of GET /api/v1/notifications."""

    unread = fields.Boolean(metadata={"description": "Only the unread ones"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class NotificationOut(Schema):
    """A notification of the caller's."""

    id = fields.UUID()
    subject = fields.String()
    body = fields.String(allow_none=True)
    link = fields.String(allow_none=True)
    created_at = fields.String()
    read = fields.Boolean()
    email = fields.String(allow_none=True)


class MarkReadIn(Schema):
    """Body of POST /api/v1/notifications/read: the ids, or none for all."""

    ids = fields.List(fields.UUID(), allow_none=True)


class MarkedOut(Schema):
    """How many notifications were marked read."""

    marked = fields.Integer()
