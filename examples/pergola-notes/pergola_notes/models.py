"""The tables the `notes` addon owns (created by its migrations, not here)."""

from __future__ import annotations

import uuid

from core.db import Base
from core.mixins import BusinessModel
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class Note(BusinessModel, Base):
    """One note of a tenant (id, tenant, timestamps and version come from BusinessModel)."""

    __tablename__ = "notes_note"

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )
