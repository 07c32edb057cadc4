"""`/api/v1/webhooks`: tenant admins manage webhook endpoints and read their deliveries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from marshmallow import EXCLUDE, Schema, fields
from marshmallow import ValidationError as SchemaError

from core import webhooks
from core.api.endpoint import documented
from core.api.idempotency import shows_secret
from core.api.kernel_schemas import (
    DeliveriesQuery,
    DeliveryOut,
    DeliveryRetriedOut,
    WebhookDeletedOut,
    WebhookEndpointOut,
)
from core.auth import require_permission
from core.envelope import ok
from core.errors import ValidationError

bp = Blueprint("core_webhooks", __name__, url_prefix="/api/v1/webhooks")

PERMISSION = "core.webhooks:manage"


class EndpointCreate(Schema):
    """Body of POST /api/v1/webhooks."""

    class Meta:
        unknown = EXCLUDE

    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    secret = fields.String(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    active = fields.Boolean(load_default=True)


class EndpointUpdate(Schema):
    """Body of PATCH /api/v1/webhooks/<id>: any subset of the fields."""

    class Meta:
        unknown = EXCLUDE

    url = fields.String()
    event_types = fields.List(fields.String())
    secret = fields.String()
    description = fields.String()
    active = fields.Boolean()


def _load(schema: Schema) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("send a JSON object", field="body")
    try:
        return dict(schema.load(body))
    except SchemaError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"body": err.messages}
        raise ValidationError(
            details={k: list(v) if isinstance(v, list) else [str(v)] for k, v in messages.items()}
        ) from None


@bp.get("")
@require_permission(PERMISSION)
@documented(response=WebhookEndpointOut, many=True)
def list_endpoints() -> Any:
    """The tenant's webhook endpoints."""
    return ok([webhooks.endpoint_dict(e) for e in webhooks.list_endpoints()])


@bp.post("")
@require_permission(PERMISSION)
@documented(body=EndpointCreate, response=WebhookEndpointOut, status=201)
@shows_secret
def create_endpoint() -> Any:
    """Register an endpoint; the answer carries its secret (shown this once)."""
    data = _load(EndpointCreate())
    endpoint = webhooks.create_endpoint(
        data["url"],
        data["event_types"],
        secret=data["secret"],
        description=data["description"],
        active=data["active"],
    )
    return ok(webhooks.endpoint_dict(endpoint, with_secret=True), 201)


@bp.get("/<endpoint_id>")
@require_permission(PERMISSION)
@documented(response=WebhookEndpointOut)
def get_endpoint(endpoint_id: str) -> Any:
    """One endpoint."""
    return ok(webhooks.endpoint_dict(webhooks.get_endpoint(endpoint_id)))


@bp.patch("/<endpoint_id>")
@require_permission(PERMISSION)
@documented(body=EndpointUpdate, response=WebhookEndpointOut)
def update_endpoint(endpoint_id: str) -> Any:
    """Change an endpoint; `{"active": true}` re-enables a disabled one."""
    endpoint = webhooks.update_endpoint(endpoint_id, _load(EndpointUpdate()))
    return ok(webhooks.endpoint_dict(endpoint))


@bp.delete("/<endpoint_id>")
@require_permission(PERMISSION)
@documented(response=WebhookDeletedOut)
def delete_endpoint(endpoint_id: str) -> Any:
    """Remove an endpoint with its delivery log."""
    webhooks.delete_endpoint(endpoint_id)
    return ok({"id": endpoint_id, "deleted": True})


@bp.post("/<endpoint_id>/rotate-secret")
@require_permission(PERMISSION)
@documented(response=WebhookEndpointOut)
@shows_secret
def rotate_secret(endpoint_id: str) -> Any:
    """Give the endpoint a new secret; the answer carries it (shown this once)."""
    endpoint = webhooks.rotate_secret(endpoint_id)
    return ok(webhooks.endpoint_dict(endpoint, with_secret=True))


@bp.get("/<endpoint_id>/deliveries")
@require_permission(PERMISSION)
@documented(query=DeliveriesQuery, response=DeliveryOut, many=True)
def list_deliveries(endpoint_id: str) -> Any:
    """The endpoint's deliveries, newest first, each with its attempts
    (`?state=failed`, `?limit=50`)."""
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ValidationError("limit must be a number", field="limit") from None
    state = request.args.get("state") or None
    if state and state not in ("pending", "queued", "retrying", "succeeded", "failed"):
        raise ValidationError(f"unknown state {state!r}", field="state")
    entries = webhooks.list_deliveries(endpoint_id, state=state, limit=limit)
    return ok([webhooks.delivery_dict(e) for e in entries])


@bp.post("/<endpoint_id>/deliveries/<delivery_id>/retry")
@require_permission(PERMISSION)
@documented(response=DeliveryRetriedOut, status=202)
def retry_delivery(endpoint_id: str, delivery_id: str) -> Any:
    """Send a delivery again, with a fresh round of attempts."""
    delivery = webhooks.retry_delivery(endpoint_id, delivery_id)
    return ok({"id": str(delivery.id), "state": delivery.state}, 202)
