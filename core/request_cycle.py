"""The request cycle: request id, who is calling, tenant context, addon guard, error answers."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from core.auth import AuthenticationRequired, set_principal
from core.db import scope_state
from core.envelope import error
from core.errors import DomainError
from core.registry import current_registry
from core.tenancy import current_tenant_id, reset_tenant, set_tenant

log = logging.getLogger("pergola.request")
csrf = CSRFProtect()

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_ERROR",
    403: "AUTHORIZATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_ERROR",
    500: "INTERNAL_ERROR",
}


def is_api_request() -> bool:
    """True for the JSON API, which answers in the envelope and never with HTML."""
    return request.path.startswith("/api/")


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _load_identity() -> None:
    """Resolve the caller (bearer credential or web login) and enter its tenant."""
    # A caller's id is kept (to trace a call across systems) only if it is short and plain:
    # it goes into logs, answers and audit rows.
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    principal = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequired("use 'Authorization: Bearer <token or API key>'")
        from core.login import principal_from_bearer

        principal = principal_from_bearer(token.strip())
    elif not is_api_request() and current_user.is_authenticated:
        from core.login import principal_for

        row = current_user.row
        principal = principal_for(row.user_id, row.tenant_id)
    if principal is not None:
        set_principal(principal)
        scope_state()["tenant_token"] = set_tenant(principal.tenant_id)


def _csrf_guard() -> None:
    """Web forms that change state must carry the CSRF token."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if not is_api_request() and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        csrf.protect()


def _addon_guard() -> None:
    """Routes of an addon the tenant has not enabled answer 404, as if they did not exist."""
    registry = current_registry()
    owner = registry.blueprint_owner(request.blueprint)
    if owner is None:
        return
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise AuthenticationRequired("authentication required")
    if not registry.is_enabled(owner, tenant_id):
        abort(404)


def _retry_after_only_when_refused(response: Response) -> Response:
    """Drop the `Retry-After` Flask-Limiter puts on every answer: it tells a client to wait,
    which only a 429 (or a 503) means. The X-RateLimit-* headers stay on every answer."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def _leave_tenant(_exc: BaseException | None) -> None:
    token = scope_state().pop("tenant_token", None)
    if token is not None:
        reset_tenant(token)


def _answer(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    if is_api_request():
        return error(code, message, status, details, headers, extra)
    if status == 401 and request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    return (
        render_template(template, status=status, code=code, message=message, details=details),
        status,
        headers or {},
    )


def init_app(app: Flask) -> None:
    """Install the request cycle on `app`."""
    csrf.init_app(app)
    app.before_request(_csrf_guard)
    app.before_request(_load_identity)
    app.before_request(_addon_guard)
    app.teardown_request(_leave_tenant)
    # Registered before the limiter's (core.app initialises this module first), so it runs
    # after the limiter has added its headers: Flask runs after_request hooks in reverse.
    app.after_request(_retry_after_only_when_refused)

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError) -> Any:
        from core.db import session

        session.rollback()  # nothing half-written
        return _answer(err.status, err.code, err.message, err.details, extra=err.extra)

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError) -> Any:
        return _answer(
            400,
            "CSRF_ERROR",
            f"the form expired or was forged ({err.description}); reload the page and submit again",
        )

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Any:
        status = err.code or 500
        headers = {}
        if status == 429:
            retry = getattr(err, "retry_after", None)
            resp = err.get_response()
            headers = {
                k: v
                for k, v in resp.headers.items()
                if k.startswith("Retry-After") or k.startswith("X-RateLimit")
            }
            if retry and "Retry-After" not in headers:
                headers["Retry-After"] = str(retry)
        message = err.description or err.name
        return _answer(status, HTTP_CODES.get(status, "HTTP_ERROR"), message, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        from core.db import session

        log.exception("unhandled error (request %s)", g.get("request_id"))
        session.rollback()
        return _answer(
            500, "INTERNAL_ERROR", f"internal error; quote request id {g.get('request_id')}"
        )
