"""Domain errors: services raise them; the API and the web UI each turn them into an answer."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule said no; `code` is stable and `status` is the HTTP answer."""

    code = "DOMAIN_ERROR"
    status = 400
    # More members of the envelope's `error` beside code, message and details (a bulk
    # create's per-item `items`).
    extra: dict[str, Any] | None = None

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as the API envelope's `error` member."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra or {})
        return body


class ValidationError(DomainError):
    """Input broke a rule; `details` maps each field to its messages."""

    code = "VALIDATION_ERROR"
    status = 422

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        details: dict[str, list[str]] | None = None,
    ) -> None:
        if field and message and details is None:
            details = {field: [message]}
        if message is None:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in (details or {}).items())
        super().__init__(message or "invalid input", details=details)
        self.field = field


class NotFound(DomainError):
    """The record does not exist, or belongs to another tenant (we never say which)."""

    code = "NOT_FOUND"
    status = 404


class Conflict(DomainError):
    """The request conflicts with the current state, e.g. a duplicate or a stale version."""

    code = "CONFLICT"
    status = 409


class StaleVersion(Conflict):
    """Someone else changed the record since it was read; nothing was overwritten."""


class PermissionDenied(DomainError):
    """The caller lacks the permission the action needs."""

    code = "AUTHORIZATION_ERROR"
    status = 403


class TenantContextError(RuntimeError):
    """Tenant-owned data was touched without a tenant in context, or across tenants.

    This is a programming error, not bad input: the kernel fails closed rather than
    returning or writing rows of every tenant.
    """
