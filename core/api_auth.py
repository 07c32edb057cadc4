"""API authentication: `POST /api/v1/auth/login|refresh|logout`, `GET /api/v1/auth/me`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from core import login as login_service
from core.api.endpoint import documented
from core.api.kernel_schemas import LoginIn, MeOut, RefreshTokenIn, RevokedOut, TokensOut
from core.auth import current_principal
from core.db import session
from core.envelope import ok
from core.errors import ValidationError
from core.ratelimit import LOGIN_PER_ADDRESS, limiter, login_limits
from core.routing import login_required, public

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")


def _json_fields(*names: str) -> dict[str, str]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    missing = [n for n in names if not isinstance(data.get(n), str) or not data.get(n)]
    if missing:
        raise ValidationError(details={n: ["required"] for n in missing})
    return {n: data[n] for n in names} | {k: v for k, v in data.items() if k not in names}


@bp.post("/login")
@public
@login_limits
@documented(body=LoginIn, response=TokensOut)
def login() -> Any:
    """Trade email, password and tenant for an access JWT and a refresh token."""
    data = _json_fields("email", "password")
    user, tenant = login_service.login(data["email"], data["password"], data.get("tenant"))
    tokens = login_service.issue_tokens(user, tenant)
    session.commit()
    return ok(tokens)


@bp.post("/refresh")
@public
@limiter.limit(LOGIN_PER_ADDRESS)
@documented(body=RefreshTokenIn, response=TokensOut)
def refresh() -> Any:
    """Spend a refresh token for a new pair (the old one stops working)."""
    data = _json_fields("refresh_token")
    try:
        tokens = login_service.refresh_tokens(data["refresh_token"])
    finally:
        session.commit()  # a detected reuse must keep its revocation
    return ok(tokens)


@bp.post("/logout")
@public
@documented(body=RefreshTokenIn, response=RevokedOut)
def logout() -> Any:
    """Revoke the login a refresh token belongs to."""
    data = _json_fields("refresh_token")
    login_service.logout_refresh(data["refresh_token"])
    session.commit()
    return ok({"revoked": True})


@bp.get("/me")
@login_required
@documented(response=MeOut)
def me() -> Any:
    """Who the credential belongs to, in which tenant, with which permissions."""
    principal = current_principal()
    assert principal is not None
    return ok(
        {
            "user_id": str(principal.user_id) if principal.user_id else None,
            "email": principal.email,
            "kind": principal.kind,
            "tenant_id": str(principal.tenant_id),
            "roles": sorted(principal.roles),
            "permissions": sorted(principal.patterns),
        }
    )
