"""The kernel's own tables: tenants, users and memberships."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.db import Base
from core.mixins import Timestamps, UUIDPrimaryKey
from core.types import UTCDateTime

TENANT_STATUSES = ("active", "suspended")


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    """A company served by this deployment; every business row belongs to one."""

    __tablename__ = "core_tenant"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def is_active(self) -> bool:
        """False while the tenant is suspended."""
        return self.status == "active"


class User(UUIDPrimaryKey, Timestamps, Base):
    """A person who logs in; belongs to tenants through memberships."""

    __tablename__ = "core_user"

    # Stored lower-cased (see `_normalise_email`), so a plain unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()


class Membership(UUIDPrimaryKey, Timestamps, Base):
    """A user's place in one tenant (roles hang off it in the identity layer)."""

    __tablename__ = "core_membership"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship()


class TenantAddon(Base):
    """An addon enabled for a tenant: a row here, no DDL; disabling deletes only this row."""

    __tablename__ = "core_tenant_addon"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), primary_key=True
    )
    addon: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    enabled_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )
