"""Request bodies: JSON only, parsed exactly (decimals stay Decimal), errors that name the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import marshmallow
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from core.errors import DomainError, ValidationError


class UnsupportedMediaType(DomainError):
    """The body is not `application/json`."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class PayloadTooLarge(DomainError):
    """The body is larger than the configured limit."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class MalformedJSON(ValidationError):
    """The body is not valid JSON; a 400, since nothing in it could be read."""

    status = 400


def json_body() -> Any:
    """The request's JSON body; 415 for another content type, 400 for broken JSON, 413 if huge."""
    if request.mimetype != "application/json":
        shown = request.mimetype or "none"
        raise UnsupportedMediaType(
            f"send the body as JSON with 'Content-Type: application/json' (got {shown})",
            details={"Content-Type": [f"expected application/json, got {shown}"]},
        )
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"the body is larger than the limit of {limit} bytes",
            details={"body": [f"at most {limit} bytes"]},
        ) from exc
    if not raw.strip():
        raise MalformedJSON("the body is empty; send a JSON object", field="body")
    try:
        # Exact decimals: a float would turn 0.1 into 0.1000000000000000055...
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}", field="body") from exc
    where = _nul_path(data, "")
    if where is not None:
        # PostgreSQL cannot store NUL in text; say so rather than fail on the way in.
        raise ValidationError(
            "text must not contain NUL (\\u0000) characters", field=where or "body"
        )
    return data


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            found = sub if "\x00" in str(key) else _nul_path(item, sub)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def json_object() -> dict[str, Any]:
    """The JSON body, which must be an object."""
    data = json_body()
    if not isinstance(data, dict):
        raise ValidationError(f"the body must be a JSON object, not {_kind(data)}", field="body")
    return data


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a scalar")


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as `{"field.sub": ["..."]}`."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "body"
            for k, v in flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "body"] = list(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "body"] = [str(messages)]
    return out


def load(schema: marshmallow.Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    """`schema.load(data)`, its errors turned into a `ValidationError` naming each field."""
    try:
        return dict(schema.load(data, partial=partial))
    except marshmallow.ValidationError as exc:
        raise ValidationError(details=flatten(exc.messages)) from exc
