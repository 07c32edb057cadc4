"""`pergola audit show`: read the audit log from the shell."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

import click
from flask.cli import with_appcontext

from cli.util import domain_errors
from core import services
from core.audit import DEFAULT_LIMIT, AuditEntry, audit_entries
from core.tenancy import system_context, tenant_context


def _who(entry: AuditEntry) -> str:
    if entry.api_key_id:
        return f"key:{entry.api_key_id}"
    if entry.user_id:
        return f"user:{entry.user_id}"
    return "system"


def _changes(changes: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    return "; ".join(
        f"{k}: {show(c.get('old'))} -> {show(c.get('new'))}" for k, c in sorted(changes.items())
    )


@click.group()
def audit() -> None:
    """Read the audit log (who changed what, when)."""


@audit.command("show")
@click.option(
    "--tenant", "tenant_slug", default=None, help="Slug of the tenant (default: every tenant)."
)
@click.option("--model", default=None, help="Table name, e.g. sales_order.")
@click.option("--record", default=None, help="Record id.")
@click.option(
    "--limit",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=int,
    help="How many entries, newest first.",
)
@with_appcontext
@domain_errors
def show(tenant_slug: str | None, model: str | None, record: str | None, limit: int) -> None:
    """Show audit entries, newest first: time, tenant, who, action, model, record, changes."""
    with system_context():
        slugs = {t.id: t.slug for t in services.list_tenants()}
        scope: AbstractContextManager[None] = system_context()
        if tenant_slug is not None:
            scope = tenant_context(services.get_tenant(tenant_slug).id)
    with scope:
        entries = audit_entries(model=model, record=record, limit=limit)
    if not entries:
        click.echo("no audit entries")
    for e in entries:
        click.echo(
            f"{e.created_at:%Y-%m-%d %H:%M:%S}  {slugs.get(e.tenant_id, e.tenant_id)}  "
            f"{_who(e)}  {e.action}  {e.table_name}  {e.record_id}  {_changes(e.changes)}"
        )
