"""The JSON API envelope: one shape for every success and every error."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, g, jsonify


def meta(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `meta` member: request id and time, plus anything given."""
    body = {
        "request_id": g.get("request_id"),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if extra:
        body.update(extra)
    return body


def ok(
    data: Any,
    status: int = 200,
    extra_meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[Response, int, dict[str, str]]:
    """A success: `{"success": true, "data": ..., "meta": {...}}`."""
    return jsonify(success=True, data=data, meta=meta(extra_meta)), status, headers or {}


def error(
    code: str,
    message: str,
    status: int,
    details: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Response, int, dict[str, str]]:
    """An error: `{"success": false, "error": {"code", "message", "details"}, "meta": {...}}`
    (`extra` adds members to `error`, such as a bulk create's `items`)."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    err.update(extra or {})
    return jsonify(success=False, error=err, meta=meta()), status, headers or {}
