"""Small single-purpose model mixins: identity, timestamps, soft delete, optimistic locking."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import Integer, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.tenancy import TenantOwned
from core.types import UTCDateTime


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UUIDPrimaryKey:
    """Mixin: a random UUID primary key, safe to expose in URLs and to merge across databases."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class Timestamps:
    """Mixin: aware UTC `created_at` and `updated_at`, maintained by the ORM."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class SoftDelete:
    """Mixin: deleting sets `deleted_at`; such rows are hidden from queries until restored.

    Pass `execution_options(include_deleted=True)` to a query to see them.
    """

    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def is_deleted(self) -> bool:
        """True once soft-deleted."""
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        """Hide the row; its data stays and `restore()` brings it back."""
        if self.deleted_at is None:
            self.deleted_at = utcnow()

    def restore(self) -> None:
        """Undo `soft_delete()`."""
        self.deleted_at = None


class Versioned:
    """Mixin: an optimistic-lock counter; a stale update raises `StaleVersion`, never overwrites."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Declarative has built the subclass's table by the time mapper args are read.
        return {"version_id_col": cast(Any, cls).__table__.c.version}


class BusinessModel(UUIDPrimaryKey, TenantOwned, Timestamps, Versioned):
    """The usual shape of a business record: UUID id, tenant, timestamps, version."""


__all__ = [
    "BusinessModel",
    "SoftDelete",
    "TenantOwned",
    "Timestamps",
    "UUIDPrimaryKey",
    "Versioned",
    "utcnow",
]
