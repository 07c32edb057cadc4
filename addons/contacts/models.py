"""The contacts tables: accounts, the people who work there, and their addresses."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    column,
    literal_column,
    table,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import BusinessModel, SoftDelete
from core.types import ExactDecimal

ACCOUNT_KINDS = ("customer", "vendor", "partner", "prospect")
ACCOUNT_STATUSES = ("active", "inactive", "on_hold")
ADDRESS_KINDS = ("billing", "shipping", "other")


# PostgreSQL's own spelling of the search expression (as reflection shows it), so that the
# migration, this model and alembic's drift check agree character for character. The words
# of name, email and phone carry weight A; every suffix of at least four of the phone's
# digits (contacts_phone_digits, a function the migration creates) carries weight D, so a
# run of digits typed anywhere in a phone is a prefix query the GIN index answers.
SEARCH_SQL = (
    "(setweight(to_tsvector('simple'::regconfig, (((COALESCE(name, ''::character varying)::text"
    " || ' '::text) || COALESCE(email, ''::character varying)::text) || ' '::text)"
    " || COALESCE(phone, ''::character varying)::text), 'A'::\"char\")"
    " || setweight(to_tsvector('simple'::regconfig, contacts_phone_digits(phone::text)),"
    " 'D'::\"char\"))"
)


def search_document() -> Any:
    """The tsvector the PostgreSQL search index holds; queries use it so the index applies."""
    return literal_column(SEARCH_SQL)


class Account(BusinessModel, SoftDelete, Base):
    """A company or individual the business deals with: customer, vendor, partner, prospect."""

    __tablename__ = "contacts_account"

    name: Mapped[str] = mapped_column(String(200))
    # A set of ACCOUNT_KINDS: one account may be customer and vendor at once.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    industry: Mapped[str | None] = mapped_column(String(100))
    annual_revenue: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    website: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    tax_id: Mapped[str | None] = mapped_column(String(50), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )
    # Set when a merge archived this account into another: references follow the master.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="SET NULL")
    )

    people: Mapped[list[Person]] = relationship(
        order_by="Person.last_name",
        primaryjoin="and_(Person.account_id == Account.id, Person.deleted_at.is_(None))",
        viewonly=True,
    )
    addresses: Mapped[list[Address]] = relationship(
        order_by="Address.kind",
        primaryjoin="and_(Address.account_id == Account.id, Address.deleted_at.is_(None))",
        viewonly=True,
    )

    __table_args__ = (Index("ix_contacts_account_tenant_id_name", "tenant_id", "name"),)

    @property
    def primary_contact(self) -> Person | None:
        """The person flagged primary (there is at most one per account)."""
        return next((p for p in self.people if p.is_primary), None)

    @property
    def primary_contact_id(self) -> uuid.UUID | None:
        """The id of the primary contact, if any."""
        person = self.primary_contact
        return person.id if person else None

    def default_address(self, kind: str) -> Address | None:
        """The default address of `kind` (billing, shipping, other), if any."""
        return next((a for a in self.addresses if a.kind == kind and a.is_default), None)


# On PostgreSQL search uses this full-text expression index; SQLite uses account_search.
# ddl_if keeps it out of SQLite; the migration creates it on PostgreSQL only.
Index(
    "ix_contacts_account_search",
    text(SEARCH_SQL),
    postgresql_using="gin",
    # A textual expression names no table: attach the index to ours explicitly.
    _table=Account.__table__,
).ddl_if(dialect="postgresql")


# SQLite's search index: an FTS5 virtual table that the contacts migration creates (SQLite
# only) and keeps in step with contacts_account through triggers. A lightweight table()
# outside Base.metadata, so it is queried like a table but never created or compared as a
# model. It holds every tenant's rows: join it to Account so the tenant filter applies.
account_search = table(
    "contacts_account_fts",
    column("account_id", Uuid()),
    column("name"),
    column("email"),
    column("phone"),
    # Every suffix of the phone without separators: a prefix query finds any run of digits.
    column("phone_digits"),
)


class Person(BusinessModel, SoftDelete, Base):
    """Someone at an account: the people sales and purchasing talk to."""

    __tablename__ = "contacts_person"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    job_title: Mapped[str | None] = mapped_column(String(100))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[Account] = relationship()

    @property
    def full_name(self) -> str:
        """First and last name, as shown."""
        return f"{self.first_name} {self.last_name}".strip()


class Address(BusinessModel, SoftDelete, Base):
    """A postal address of an account: billing, shipping or other; one default per kind."""

    __tablename__ = "contacts_address"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="billing")
    street: Mapped[str] = mapped_column(String(255), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[Account] = relationship()

    # The database's guarantee of one default per kind and account (the services keep it and
    # hand the default on); soft-deleted addresses lose the flag, so they never count.
    __table_args__ = (
        Index(
            "ix_contacts_address_one_default",
            "account_id",
            "kind",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    def one_line(self) -> str:
        """The address on one line, for lists and CSV."""
        parts = [self.street, f"{self.postal_code} {self.city}".strip(), self.region, self.country]
        return ", ".join(p for p in parts if p)


__all__ = [
    "ACCOUNT_KINDS",
    "ACCOUNT_STATUSES",
    "ADDRESS_KINDS",
    "Account",
    "Address",
    "Person",
    "account_search",
]
