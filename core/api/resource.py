"""Resource declarations: what an addon states about a model to get a full JSON API for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema
from marshmallow.fields import Field

ACTIONS = ("read", "create", "update", "delete")


@dataclass(frozen=True)
class Action:
    """A custom action: `POST /<resource>/<id>/<name>` calls `handler(obj, data)`.

    The handler is a service function; it returns the record (dumped with the resource's
    schema) or any JSON-able value. `schema` validates the request body when given.
    """

    name: str
    handler: Callable[[Any, dict[str, Any]], Any]
    permission: str
    schema: type[Schema] | None = None
    summary: str = ""
    status: int = 200


@dataclass(frozen=True)
class Resource:
    """A model exposed under `/api/v1/<addon>/<name>`: list, get, create, update, delete,
    bulk create and custom actions, each guarded by its own permission.

    `permissions` maps read/create/update/delete to permission names, or is a prefix
    (`"contacts.accounts"` → `contacts.accounts:read` ...). `create`, `update` and `delete`
    are the addon's service functions; the defaults do plain ORM work (soft delete when
    the model has `deleted_at`). A `read_only` resource has only list, get and its actions
    (and needs only a `read` permission). `q=` searches the `searchable` text fields for a
    substring, unless `search` is given: a service function turning the text into a WHERE
    clause (an addon's full-text search), which may raise a ValidationError on `q`.
    `load` names relationships the output schema always shows (an order's lines): they are
    loaded for a whole page in one query, not one query per record. `extra_fields` returns
    the fields that the caller's enabled addons add to the records (name → marshmallow
    field; called per request, the tenant in context): the OpenAPI document shows them on
    the record and in the create and update bodies. Dumping and validating them stays the
    schemas' and services' job.
    """

    name: str
    model: type
    schema: type[Schema]
    permissions: str | Mapping[str, str]
    create_schema: type[Schema] | None = None
    update_schema: type[Schema] | None = None
    filterable: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ()
    searchable: tuple[str, ...] = ()
    search: Callable[[str], Any] | None = None
    load: tuple[str, ...] = ()
    extra_fields: Callable[[], Mapping[str, Field]] | None = None
    expandable: Mapping[str, type[Schema]] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    default_sort: tuple[str, ...] = ("id",)
    create: Callable[[dict[str, Any]], Any] | None = None
    update: Callable[[Any, dict[str, Any]], Any] | None = None
    delete: Callable[[Any], None] | None = None
    summary: str = ""
    read_only: bool = False

    def permission(self, action: str) -> str:
        """The permission guarding `action` (read, create, update or delete)."""
        if isinstance(self.permissions, str):
            return f"{self.permissions}:{action}"
        return self.permissions[action]

    @property
    def input_create(self) -> type[Schema]:
        """The schema that validates a create (and a PUT)."""
        return self.create_schema or self.schema

    @property
    def input_update(self) -> type[Schema]:
        """The schema that validates an update (PATCH loads it partially)."""
        return self.update_schema or self.create_schema or self.schema

    @property
    def has_search(self) -> bool:
        """True when the list takes `q=`."""
        return bool(self.searchable) or self.search is not None

    @property
    def has_version(self) -> bool:
        """True when the model carries an optimistic-lock `version` (ETags come from it)."""
        return hasattr(self.model, "version")

    @property
    def soft_deletes(self) -> bool:
        """True when deleting only hides the row."""
        return hasattr(self.model, "soft_delete")

    def __post_init__(self) -> None:
        names = [a.name for a in self.actions]
        if len(set(names)) != len(names) or "bulk" in names:
            raise ValueError(f"resource {self.name!r}: action names must be unique, not 'bulk'")
        unknown = [rel for rel in self.load if not hasattr(self.model, rel)]
        if unknown:
            raise ValueError(f"resource {self.name!r}: load names no relationship {unknown}")
