"""`pergola addons ...`: see the installed addons and enable or disable them per tenant."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from cli.util import domain_errors
from core import services
from core.db import session
from core.errors import DomainError
from core.registry import Registry, addon_origin, current_registry
from core.tenancy import system_context

# Below this many tenants a progress bar is noise.
PROGRESS_FROM = 10


@click.group()
def addons() -> None:
    """List the installed addons; enable or disable them per tenant."""


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _known(registry: Registry, names: Sequence[str]) -> None:
    """Refuse unknown addon names before anything is written."""
    registry.dependency_closure(names)


@addons.command("list")
@click.option("--tenant", "slug", default=None, help="Show the state for this tenant.")
@with_appcontext
@domain_errors
def addons_list(slug: str | None) -> None:
    """List installed addons: name, version, depends and state per tenant."""
    registry = current_registry()
    if not registry.addons:
        click.echo("no addons installed")
        return
    with system_context():
        if slug is not None:
            enabled = registry.enabled_addons(services.get_tenant(slug).id)
            header = f"STATE ({slug})"

            def state(name: str) -> str:
                return "enabled" if name in enabled else "disabled"
        else:
            counts = registry.enabled_counts()
            total = len(services.list_tenants())
            header = "TENANTS"

            def state(name: str) -> str:
                return f"enabled for {counts[name]} of {total}"

        rows = [["NAME", "VERSION", "DEPENDS", header]]
        for addon in registry.addons.values():
            m = addon.manifest
            rows.append([m.name, m.version, ", ".join(m.depends) or "-", state(m.name)])
    _table(rows)


@addons.command("info")
@click.argument("name")
@with_appcontext
@domain_errors
def addons_info(name: str) -> None:
    """Show everything about addon NAME."""
    registry = current_registry()
    _known(registry, [name])
    addon = registry.addons[name]
    m = addon.manifest
    with system_context():
        count = registry.enabled_counts()[name]
        total = len(services.list_tenants())
    implements = sorted(
        {
            impl.function.__name__
            for plugin in addon.plugins
            for caller in (registry.pm.get_hookcallers(plugin) or [])
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        }
    )
    published = registry.published_by(name)
    versions = addon.path / "migrations" / "versions"
    lines = [
        ("name", m.name),
        ("version", m.version),
        ("summary", m.summary or "-"),
        ("application", "yes" if m.application else "no"),
        ("package", f"{m.package} ({addon.path})"),
        ("installed as", addon_origin(addon)),
        ("depends on", ", ".join(m.depends) or "-"),
        ("needed by", ", ".join(registry.dependants_of(name)) or "-"),
        ("enabled for", f"{count} of {total} tenants"),
        ("implements", ", ".join(implements) or "-"),
        ("publishes", ", ".join(published) or "-"),
        (
            "blueprints",
            ", ".join(f"{bp.name} ({bp.url_prefix or '/'})" for bp in addon.blueprints) or "-",
        ),
        ("migrations", f"branch {m.name!r} in {versions}" if versions.is_dir() else "none"),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<14}{value}")
    _section("permissions", [f"{p}  {d}" for p, d in m.permissions.items()])
    _section(
        "default grants", [f"{role}: {', '.join(pats)}" for role, pats in m.default_grants.items()]
    )
    _section(
        "menus",
        [
            f"{i.label} -> {i.endpoint}" + (f" (needs {i.permission})" if i.permission else "")
            for i in m.menus
        ],
    )


def _section(title: str, items: list[str]) -> None:
    click.echo(f"{title + ':':<14}{'-' if not items else ''}")
    for item in items:
        click.echo(f"  {item}")


@addons.command("graph")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT instead of a text tree.")
@with_appcontext
def addons_graph(dot: bool) -> None:
    """Print the dependency graph: each addon above the addons it depends on."""
    registry = current_registry()
    if dot:
        click.echo("digraph addons {")
        for addon in registry.addons.values():
            click.echo(f'  "{addon.name}";')
            for dep in addon.manifest.depends:
                click.echo(f'  "{addon.name}" -> "{dep}";')
        click.echo("}")
        return
    if not registry.addons:
        click.echo("no addons installed")
        return
    needed = {d for a in registry.addons.values() for d in a.manifest.depends}
    roots = [n for n in registry.addons if n not in needed]
    shown: set[str] = set()

    def draw(name: str, prefix: str, last: bool, top: bool) -> None:
        m = registry.addons[name].manifest
        branch = "" if top else ("└── " if last else "├── ")
        seen = name in shown and m.depends
        click.echo(f"{prefix}{branch}{name} {m.version}{' (see above)' if seen else ''}")
        if seen:
            return
        shown.add(name)
        child_prefix = prefix if top else prefix + ("    " if last else "│   ")
        deps = sorted(m.depends)
        for i, dep in enumerate(deps):
            draw(dep, child_prefix, i == len(deps) - 1, False)

    for root in sorted(roots):
        draw(root, "", True, True)


def _tenant_ids(slug: str | None, all_tenants: bool) -> list[tuple[str, uuid.UUID]]:
    if bool(slug) == all_tenants:
        raise click.UsageError("give exactly one of --tenant SLUG or --all-tenants")
    with system_context():
        if slug:
            return [(slug, services.get_tenant(slug).id)]
        return [(t.slug, t.id) for t in services.list_tenants()]


@addons.command("enable")
@click.argument("names", nargs=-1, required=True)
@click.option("--tenant", "slug", default=None, help="The tenant to enable them for.")
@click.option("--all-tenants", is_flag=True, help="Enable them for every tenant.")
@with_appcontext
@domain_errors
def addons_enable(names: tuple[str, ...], slug: str | None, all_tenants: bool) -> None:
    """Enable addons NAMES (and the addons they depend on) for a tenant or for all.

    All or nothing: if any tenant fails, no tenant is changed.
    """
    registry = current_registry()
    tenants = _tenant_ids(slug, all_tenants)
    _known(registry, names)
    pulled: dict[str, int] = {}
    changed = 0
    bar = tqdm(
        tenants,
        desc="enabling",
        unit="tenant",
        file=sys.stderr,
        disable=len(tenants) < PROGRESS_FROM,
        leave=False,
    )
    for tenant_slug, tenant_id in bar:
        try:
            new = registry.enable(tenant_id, names)
        except DomainError as err:
            err.message = f"tenant {tenant_slug!r}: {err.message}; no tenant was changed"
            raise
        changed += bool(new)
        extra = [n for n in new if n not in names]
        for dep in extra:
            pulled[dep] = pulled.get(dep, 0) + 1
        if not all_tenants:
            if new:
                click.echo(
                    f"enabled {', '.join(n for n in new if n in names)} for tenant {tenant_slug}"
                )
            if extra:
                click.echo(f"also enabled, as dependencies: {', '.join(extra)}")
            if not new:
                click.echo(f"{', '.join(names)} already enabled for tenant {tenant_slug}")
    session.commit()
    if all_tenants:
        click.echo(
            f"enabled {', '.join(names)} for {changed} of {len(tenants)} tenants "
            f"({len(tenants) - changed} had them already)"
        )
        if pulled:
            click.echo(
                "also enabled, as dependencies: "
                + ", ".join(f"{dep} ({n} tenants)" for dep, n in pulled.items())
            )


@addons.command("disable")
@click.argument("names", nargs=-1, required=True)
@click.option("--tenant", "slug", required=True, help="The tenant to disable them for.")
@click.option(
    "--cascade", is_flag=True, help="Also disable the enabled addons that depend on them."
)
@with_appcontext
@domain_errors
def addons_disable(names: tuple[str, ...], slug: str, cascade: bool) -> None:
    """Disable addons NAMES for a tenant; its data stays and comes back when re-enabled."""
    registry = current_registry()
    _known(registry, names)
    with system_context():
        tenant_id = services.get_tenant(slug).id
    before = registry.enabled_addons(tenant_id)
    gone = registry.disable(tenant_id, names, cascade=cascade)
    session.commit()
    for name in names:
        if name not in before:
            click.echo(f"{name} was not enabled for tenant {slug}")
    if gone:
        click.echo(f"disabled {', '.join(gone)} for tenant {slug} (their data is kept)")


@click.group("addon")
def addon() -> None:
    """Develop addons: scaffold a new one."""


@addon.command("new")
@click.argument("name")
@click.option(
    "--path",
    "dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Folder to create the package in.",
)
@click.option(
    "--model",
    default="Item",
    show_default=True,
    help="Class name of the addon's first model (CamelCase).",
)
def addon_new(name: str, dest: Path, model: str) -> None:
    """Scaffold NAME as a pip-installable package pergola-NAME (needs no database)."""
    from cli.scaffold import new_addon

    try:
        made = new_addon(name, dest, model)
    except DomainError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"created {made.root} ({len(made.files)} files, package {made.package})")
    click.echo("next:")
    click.echo(f"  pip install -e {made.root}")
    click.echo("  pergola db upgrade")
    click.echo(f"  pergola addons enable {name} --tenant SLUG")
    click.echo(f"  (cd {made.root} && pytest)")
