"""`pergola inventory ...`: CSV import and export of products (thin: the services decide)."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click
from flask.cli import with_appcontext

from addons.inventory import services
from core.db import session
from core.errors import DomainError


@click.group("inventory")
def inventory_cli() -> None:
    """Inventory: import and export products."""


def _tenant(slug: str) -> Any:
    from core.registry import current_registry

    return current_registry().require_enabled("inventory", slug)


def _explain(exc: DomainError) -> str:
    """The error with the fields it names, as one line."""
    if isinstance(exc.details, dict) and exc.details:
        return "; ".join(
            f"{field}: {' '.join(map(str, msgs))}" for field, msgs in exc.details.items()
        )
    return exc.message


@inventory_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--tenant", "tenant_slug", required=True, help="the tenant's slug")
@with_appcontext
def import_products(file: Any, tenant_slug: str) -> None:
    """Create or update products from a CSV FILE (header row; `sku` and `name` required)."""
    from tqdm import tqdm

    from core.tenancy import system_context, tenant_context

    with system_context():
        tenant_id = _tenant(tenant_slug)
    rows = list(csv.DictReader(file))
    created = updated = 0
    errors: list[str] = []
    with tenant_context(tenant_id):
        for line, row in enumerate(
            tqdm(rows, desc="products", unit="row", file=sys.stderr, disable=None), start=2
        ):
            try:
                outcome = services.import_row(row)
            except DomainError as exc:
                errors.append(f"line {line}: {_explain(exc)}")
                continue
            created += outcome == "created"
            updated += outcome == "updated"
        if errors:
            session.rollback()
            for e in errors[:20]:
                click.echo(e, err=True)
            raise click.ClickException(f"{len(errors)} bad row(s): nothing imported")
        session.commit()
    click.echo(f"{created} created, {updated} updated")


@inventory_cli.command("export")
@click.option("--tenant", "tenant_slug", required=True, help="the tenant's slug")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@with_appcontext
def export_products(tenant_slug: str, output: Any) -> None:
    """Write every product as CSV (the format `import` reads)."""
    from core.tenancy import system_context, tenant_context

    with system_context():
        tenant_id = _tenant(tenant_slug)
    with tenant_context(tenant_id):
        output.write(services.export_csv())
