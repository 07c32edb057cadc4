"""API rate limits: one budget per API key or user, shared by every /api/v1 endpoint."""

from __future__ import annotations

import os

from flask import Blueprint, current_app
from flask_limiter.util import get_remote_address

from core.auth import current_principal
from core.ratelimit import limiter

DEFAULT_API_LIMIT = "600 per minute"


def api_limit() -> str:
    """The configured limit: app config `API_RATE_LIMIT`, the factory's `api_rate_limit`,
    env `PERGOLA_API_RATE_LIMIT`, else 600 per minute (Flask-Limiter notation)."""
    settings = current_app.config.get("PERGOLA")
    extra = settings.extra if settings is not None else {}
    return str(
        current_app.config.get("API_RATE_LIMIT")
        or extra.get("api_rate_limit")
        or os.environ.get("PERGOLA_API_RATE_LIMIT")
        or DEFAULT_API_LIMIT
    )


def api_rate_key() -> str:
    """Whose budget a request spends: the API key, else the user, else the address."""
    principal = current_principal()
    if principal is not None and principal.api_key_id is not None:
        return f"api-key:{principal.api_key_id}"
    if principal is not None and principal.user_id is not None:
        return f"user:{principal.user_id}"
    return f"addr:{get_remote_address()}"


def limit_api(bp: Blueprint) -> None:
    """Put `bp`'s routes on the shared API budget (once: a second call changes nothing).

    A route with a limit of its own (login, refresh) keeps only that one: Flask-Limiter lets
    a decorated limit override the blueprint's, so a login attempt is not counted twice.
    """
    if getattr(bp, "pergola_api_limited", False):
        return
    limiter.shared_limit(api_limit, scope="api", key_func=api_rate_key)(bp)
    bp.pergola_api_limited = True  # type: ignore[attr-defined]
