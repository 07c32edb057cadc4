"""contacts_credit's hookimpls: a credit limit shown, edited, exposed, merged, and a veto."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import fields, validate
from sqlalchemy import Column, MetaData, Numeric, String, Table, Uuid, select

from addons.contacts.extensions import FormField, FormSection, Panel
from core.db import session
from core.errors import DomainError, ValidationError
from core.hookspecs import hookimpl
from core.tenancy import require_tenant_id

# The addon's own extension table, keyed by the contacts account it extends. Plain Core
# with its own metadata: a test table must not join the app's migrated schema.
metadata = MetaData()
credit = Table(
    "contacts_credit_limit",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("credit_limit", Numeric(18, 2), nullable=False),
    Column("note", String(100), nullable=False, default=""),
)
CALLS: list[tuple[str, Any]] = []


def create_table() -> None:
    """Create the extension table in the current transaction."""
    metadata.create_all(session.connection())


def limit_of(account_id: uuid.UUID) -> Decimal | None:
    """The account's credit limit, if one was set."""
    return session.scalar(
        select(credit.c.credit_limit).where(
            credit.c.account_id == account_id, credit.c.tenant_id == require_tenant_id()
        )
    )


def _set_limit(account_id: uuid.UUID, value: Decimal) -> None:
    session.execute(credit.delete().where(credit.c.account_id == account_id))
    session.execute(
        credit.insert().values(
            account_id=account_id, tenant_id=require_tenant_id(), credit_limit=value
        )
    )


@hookimpl
def account_panels(account: Any) -> list[Panel]:
    """A credit panel on the 360° page."""
    limit = limit_of(account.id)
    shown = "none" if limit is None else limit
    return [Panel(title="Credit", html=f"<p>Credit limit: {shown}</p>", order=10)]


@hookimpl
def account_form_sections(account: Any) -> list[FormSection]:
    """A credit section in the account form."""
    limit = limit_of(account.id) if account is not None else None
    return [
        FormSection(
            title="Credit",
            fields=(
                FormField(
                    name="credit_limit",
                    label="Credit limit",
                    value="" if limit is None else str(limit),
                ),
            ),
        )
    ]


@hookimpl
def account_extra_field_types() -> dict[str, Any]:
    """`credit_limit`: an exact amount, zero or more (the API document shows it this way)."""
    return {
        "credit_limit": fields.Decimal(
            as_string=True,
            places=2,
            allow_none=True,
            allow_nan=False,
            validate=validate.Range(min=0, error="must be zero or more"),
            error_messages={"invalid": "not a valid amount"},
        )
    }


@hookimpl
def account_extra_fields(accounts: Any) -> dict[uuid.UUID, dict[str, Any]]:
    """The credit limits of a page of accounts (one query), in the API and the export."""
    CALLS.append(("extra_fields", len(accounts)))
    ids = [a.id for a in accounts]
    limits = dict(
        session.execute(
            select(credit.c.account_id, credit.c.credit_limit).where(
                credit.c.account_id.in_(ids), credit.c.tenant_id == require_tenant_id()
            )
        ).all()
    )
    # credit_source is not declared (account_extra_field_types): the API shows it as it is,
    # the CSV export leaves it out (import would refuse the column).
    return {
        account_id: {"credit_limit": limits.get(account_id), "credit_source": "ext"}
        for account_id in ids
    }


@hookimpl
def account_extra_fields_received(account: Any, data: dict[str, Any]) -> list[str] | None:
    """Save `credit_limit` (a non-negative amount) into the extension table."""
    if "credit_limit" not in data:
        return None
    raw = data["credit_limit"]
    if raw in (None, ""):
        session.execute(credit.delete().where(credit.c.account_id == account.id))
        return ["credit_limit"]
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValidationError("not a valid amount", field="credit_limit") from None
    if value < 0 or not value.is_finite():
        raise ValidationError("must be zero or more", field="credit_limit")
    _set_limit(account.id, value)
    return ["credit_limit"]


@hookimpl
def account_status_changing(account: Any, old: str, new: str, reason: str) -> None:
    """Finance's rule: an account with a zero credit limit may not be released from hold."""
    CALLS.append(("status_changing", (old, new, reason)))
    if old == "on_hold" and new == "active" and limit_of(account.id) == 0:
        raise DomainError(
            f"{account.name} has no credit: it stays on hold",
            code="CREDIT_HOLD",
            details={"status": ["credit limit is zero"]},
        )


@hookimpl
def account_changed(account: Any, action: str, changes: Any) -> None:
    """Remember what happened (the tests read CALLS)."""
    CALLS.append((action, dict(changes)))


@hookimpl
def contacts_merge_references(master_id: uuid.UUID, duplicate_id: uuid.UUID) -> int:
    """Move the duplicate's limit to the master unless it has one."""
    if limit_of(master_id) is not None:
        session.execute(credit.delete().where(credit.c.account_id == duplicate_id))
        return 0
    moved = session.execute(
        credit.update().where(credit.c.account_id == duplicate_id).values(account_id=master_id)
    )
    return int(getattr(moved, "rowcount", 0) or 0)
