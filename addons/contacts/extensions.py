"""What other addons contribute to contacts' pages: panels and form sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Panel:
    """A box on the account page: a title and either pre-rendered HTML or a template."""

    title: str
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    html: str = ""
    order: int = 100


@dataclass(frozen=True)
class FormField:
    """One input of a contributed form section."""

    name: str
    label: str
    value: Any = ""
    type: str = "text"
    help: str = ""


@dataclass(frozen=True)
class FormSection:
    """A fieldset another addon adds to the account form (saved through its own hook)."""

    title: str
    fields: tuple[FormField, ...] = ()
    order: int = 100


@dataclass(frozen=True)
class MergeReport:
    """What an addon's contacts_merge_references did: rows moved to the master, and what
    it did not keep (sentences shown to the person who merged, sent with the event)."""

    moved: int = 0
    dropped: tuple[str, ...] = ()
