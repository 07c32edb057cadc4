"""`pergola contacts import|export`: CSV in and out for one tenant."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import with_appcontext

from cli.util import domain_errors


@click.group("contacts")
def contacts() -> None:
    """Contacts: import and export accounts with their people and addresses."""


def _tenant_id(slug: str) -> Any:
    from core.registry import current_registry
    from core.tenancy import system_context

    with system_context():
        return current_registry().require_enabled("contacts", slug)


@contacts.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--tenant", "tenant_slug", required=True, help="the tenant's slug")
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="import the good rows and report the bad ones (default: all or nothing)",
)
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@with_appcontext
@domain_errors
def import_command(file: Any, tenant_slug: str, skip_bad_rows: bool, dry_run: bool) -> None:
    """Import accounts from a CSV FILE (see docs/addons/contacts.md for the columns).

    A progress bar of the rows goes to standard error; the summary to standard output.
    """
    from tqdm import tqdm

    from addons.contacts import transfer
    from core.db import session
    from core.tenancy import tenant_context

    tenant_id = _tenant_id(tenant_slug)
    text = file.read()
    with tenant_context(tenant_id):
        _header, rows = transfer.read_rows(text)
        with tqdm(
            total=len(rows),
            unit="row",
            desc="import",
            file=sys.stderr,
            disable=len(rows) < 2,
            leave=False,
        ) as bar:
            try:
                result = transfer.import_accounts(
                    text, skip_bad_rows=skip_bad_rows, dry_run=dry_run, progress=bar.update
                )
            except transfer.ImportFailed as err:
                session.rollback()
                for e in err.result.errors:
                    click.echo(str(e), err=True)
                raise click.ClickException(
                    f"{len(err.result.errors)} bad row(s): nothing imported "
                    "(fix them, or use --skip-bad-rows)"
                ) from err
        session.commit()
    for e in result.errors:
        click.echo(f"skipped {e}", err=True)
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {result.accounts} account(s), {result.people} person(s), "
        f"{result.addresses} address(es)"
        + (f"; skipped {len(set(result.skipped_lines))} line(s)" if result.skipped_lines else "")
    )


@contacts.command("export")
@click.option("--tenant", "tenant_slug", required=True, help="the tenant's slug")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="file to write (default: standard output)",
)
@with_appcontext
@domain_errors
def export_command(tenant_slug: str, output: Any) -> None:
    """Export the tenant's accounts as CSV (the import's format)."""
    from addons.contacts import services, transfer
    from core.tenancy import tenant_context

    with tenant_context(_tenant_id(tenant_slug)):
        accounts = []
        offset = 0
        while True:
            page = services.list_accounts(limit=200, offset=offset)
            accounts.extend(page.items)
            offset += 200
            if offset >= page.total:
                break
        output.write(transfer.export_csv(accounts))
