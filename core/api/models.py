"""The API toolkit's kernel table: remembered answers to POSTs sent with an Idempotency-Key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import UUIDPrimaryKey, utcnow
from core.tenancy import TenantOwned
from core.types import UTCDateTime


class IdempotencyKey(UUIDPrimaryKey, TenantOwned, Base):
    """The first answer to a POST with an `Idempotency-Key`, replayed on retries."""

    __tablename__ = "core_idempotency_key"
    __table_args__ = (UniqueConstraint("tenant_id", "principal", "key"),)
    __audit__ = False  # bookkeeping, not business data

    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # The answer's own headers (Location, ETag), so a replay is the whole first answer.
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
