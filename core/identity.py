"""Identity tables: roles and their grants, login sessions, refresh tokens and API keys."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import Timestamps, UUIDPrimaryKey
from core.models import Membership
from core.tenancy import TenantOwned
from core.types import UTCDateTime

membership_role = Table(
    "core_membership_role",
    Base.metadata,
    Column("membership_id", ForeignKey("core_membership.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("core_role.id", ondelete="CASCADE"), primary_key=True),
)


class Role(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A tenant's role: a name and the permission patterns it grants."""

    __tablename__ = "core_role"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(255), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard: Mapped[bool] = mapped_column(Boolean, default=False)


Membership.roles = relationship(Role, secondary=membership_role, lazy="select")


class LoginSession(UUIDPrimaryKey, Base):
    """A web login; the cookie carries its id, so logout or rotation really ends it."""

    __tablename__ = "core_login_session"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_tenant.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    client_addr: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(UUIDPrimaryKey, Base):
    """A rotating API refresh token, stored as a hash; reuse of a spent one revokes its family."""

    __tablename__ = "core_refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_tenant.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ApiKey(UUIDPrimaryKey, Base):
    """An integration's key: bound to one tenant, scoped, hashed, revocable, maybe expiring.

    Not `TenantOwned`: keys are looked up by prefix before any tenant is known.
    """

    __tablename__ = "core_api_key"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("core_tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
