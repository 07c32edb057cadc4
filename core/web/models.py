"""The web shell's own table: comments on any record, shown in its activity feed."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import UUIDPrimaryKey, utcnow
from core.tenancy import TenantOwned


class Comment(UUIDPrimaryKey, TenantOwned, Base):
    """A note a person left on a record (any model), like the chatter of an ERP form."""

    __tablename__ = "core_comment"
    __table_args__ = (Index("ix_core_comment_record", "tenant_id", "table_name", "record_id"),)

    # A table name and a text id rather than a foreign key: any addon's record can be
    # commented on without the kernel knowing its table.
    table_name: Mapped[str] = mapped_column(String(63))
    record_id: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
