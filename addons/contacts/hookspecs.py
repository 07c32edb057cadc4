"""Hooks the contacts addon offers to others: veto or react to account changes, merge
references, and extend the account page, forms and API with their own data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.hookspecs import hookspec

if TYPE_CHECKING:
    from marshmallow.fields import Field

    from addons.contacts.extensions import FormSection, MergeReport, Panel
    from addons.contacts.models import Account


@hookspec
def account_status_changing(account: Account, old: str, new: str, reason: str) -> None:
    """Called before an account's status changes (e.g. put on hold); raise a DomainError
    to veto, and nothing is written. Returns nothing."""


@hookspec
def account_changed(account: Account, action: str, changes: Mapping[str, Any]) -> None:
    """Called in the caller's transaction after an account was created, updated,
    status_changed, deleted or merged (`action`); `changes` maps field → [old, new].
    Returns nothing; raising rolls the change back."""


@hookspec
def contacts_merge_references(
    master_id: uuid.UUID, duplicate_id: uuid.UUID
) -> int | MergeReport | None:
    """Called when `duplicate_id` is merged into `master_id`: repoint your rows that refer
    to the duplicate. Returns how many rows moved, or a `MergeReport` that also says what
    was not kept (or None); raise a DomainError to refuse the merge."""


@hookspec
def account_panels(account: Account) -> list[Panel] | None:
    """Called when the account page (the 360° view) renders; return `Panel`s to show."""


@hookspec
def account_form_sections(account: Account | None) -> list[FormSection] | None:
    """Called when the account form renders (`account` is None when creating); return
    extra `FormSection`s whose fields are saved through `account_extra_fields_received`."""


@hookspec
def account_extra_field_types() -> Mapping[str, Field] | None:
    """Called when contacts validates incoming extra fields or describes accounts in the
    OpenAPI document; return the fields you add to accounts as marshmallow fields by name."""


@hookspec
def account_extra_fields(
    accounts: Sequence[Account],
) -> Mapping[uuid.UUID, Mapping[str, Any]] | None:
    """Called when accounts are shown in the API or exported, once per page: return the extra
    fields (from your own extension table, read for the whole page at once) by account id,
    named so they cannot clash (`sales_...`); leave out accounts you add nothing to."""


@hookspec
def account_extra_fields_received(account: Account, data: Mapping[str, Any]) -> list[str] | None:
    """Called when an account is created or updated through the API or form with fields
    contacts does not know; save those you own (raise ValidationError naming a bad one)
    and return their names. Fields nobody claims are refused."""
