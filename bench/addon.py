"""`benchkit`: a bench-only addon declaring toolkit resources over contacts and inventory.

The bench declares the two resources its workloads need, each backed by the owning addon's
service, exactly as an addon would: products (bulk create through `inventory.services`) and
people (listed with their account's name through `expand=account`). They were written when
no built-in addon was on the toolkit; inventory's products now are, and the workloads could
move to `/api/v1/inventory/products` (kept here so figures stay comparable across runs).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from core.api import Resource
from core.hookspecs import hookimpl
from core.manifest import Manifest

manifest = Manifest(
    name="benchkit",
    version="1.0.0",
    summary="Benchmark resources over contacts and inventory (bench only)",
    depends=("contacts", "inventory"),
    plugins=("bench.addon:plugin",),
    package="bench",
)


class AccountNameSchema(Schema):
    """The related names an expanded account shows."""

    id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)


class PersonOutSchema(Schema):
    """A person as the bench resource lists them."""

    id = fields.UUID(dump_only=True)
    account_id = fields.UUID(required=True)
    first_name = fields.String()
    last_name = fields.String(required=True)
    email = fields.String(allow_none=True)
    version = fields.Integer(dump_only=True)


def _create_product(data: dict[str, Any]) -> Any:
    from addons.inventory import services

    return services.create_product(data)


class _Plugin:
    """The hook implementation that declares the resources."""

    __name__ = "benchkit"

    @hookimpl
    def register_api_resources(self) -> list[Resource]:
        """Products (bulk create via the inventory service) and people (expand account)."""
        from addons.contacts.models import Person
        from addons.inventory.models import Product
        from addons.inventory.schemas import ProductSchema

        return [
            Resource(
                "products",
                Product,
                ProductSchema,
                "inventory.products",
                create=_create_product,
                sortable=("sku",),
                default_sort=("sku",),
            ),
            Resource(
                "people",
                Person,
                PersonOutSchema,
                "contacts.people",
                expandable={"account": AccountNameSchema},
                sortable=("last_name",),
                default_sort=("last_name", "id"),
            ),
        ]


plugin = _Plugin()
