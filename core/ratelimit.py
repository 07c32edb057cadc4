"""Rate limits (Flask-Limiter): Redis storage when PERGOLA_REDIS_URL is set, memory otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")

LOGIN_PER_ACCOUNT = "10 per 5 minutes"
LOGIN_PER_ADDRESS = "30 per 5 minutes"


def init_app(app: Flask, redis_url: str | None) -> None:
    """Attach the limiter to `app` with the right storage."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "pergola")
    # Redis down must not take logins down with it: count in memory until it is back.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # Redis gone must not turn every rate-limited request into a 500: count in memory
    # (per process) until it answers again.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


def login_limits(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit login attempts per account and per address, shared by the web and API logins."""
    view = limiter.shared_limit(
        LOGIN_PER_ACCOUNT, scope="login-account", key_func=login_account_key, methods=["POST"]
    )(view)
    return limiter.shared_limit(LOGIN_PER_ADDRESS, scope="login-address", methods=["POST"])(view)


def login_account_key() -> str:
    """Key login attempts by the account they target (form or JSON email)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    email = str((data or {}).get("email", "")).strip().lower()
    return f"login-account:{email}"
