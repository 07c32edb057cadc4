"""What the probe's handlers did: one row per application (test-only table)."""

from __future__ import annotations

import uuid

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import UUIDPrimaryKey
from core.tenancy import TenantOwned


class ProbeEffect(UUIDPrimaryKey, TenantOwned, Base):
    """A side effect of a handler or scheduled job, written in its transaction."""

    __tablename__ = "test_events_probe_effect"
    __table_args__ = {"info": {"test_only": True}}

    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(200), default="")
