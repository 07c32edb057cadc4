"""Each installed addon with tables keeps its own Alembic branch, following its manifest.

Generic over whatever is installed (built-in addons and entry points alike), so a new addon
is checked the day it is installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import Script, ScriptDirectory

from core import migrate
from core.db import Base


@pytest.fixture(scope="module")
def script(app) -> ScriptDirectory:
    """The Alembic scripts of the kernel and every installed addon."""
    return ScriptDirectory.from_config(migrate.alembic_config(app))


def addons_of(app):
    """The installed addons (fixtures given to test apps are not in the session app)."""
    return list(app.extensions["pergola.registry"].addons.values())


def tables_of(addon) -> set[str]:
    """Tables mapped by models defined in the addon's package."""
    package = addon.manifest.package
    return {
        m.local_table.name
        for m in Base.registry.mappers
        if m.class_.__module__ == package or m.class_.__module__.startswith(package + ".")
    }


def revisions_in(script: ScriptDirectory, folder: Path) -> list[Script]:
    """The revisions whose files live in `folder`."""
    return [r for r in script.walk_revisions() if Path(r.path).resolve().parent == folder.resolve()]


def test_addons_with_tables_have_their_own_branch_named_after_them(app, script):
    for addon in addons_of(app):
        versions = addon.path / "migrations" / "versions"
        tables = tables_of(addon)
        if not tables:
            continue
        assert versions.is_dir(), f"addon {addon.name!r} has tables but no migrations/versions"
        assert all(t.startswith(f"{addon.name}_") for t in tables), (
            f"addon {addon.name!r}: tables must be named {addon.name}_<entity>: {sorted(tables)}"
        )
        mine = revisions_in(script, versions)
        bases = [r for r in mine if not r.down_revision]
        assert len(bases) == 1, f"addon {addon.name!r}: one first revision, got {len(bases)}"
        assert addon.name in bases[0].branch_labels
        assert all(addon.name in r.branch_labels for r in mine), (
            f"addon {addon.name!r}: every revision in its folder belongs to its branch"
        )


def test_addon_branches_depend_on_what_their_manifest_depends_on_and_nothing_else(app, script):
    registry = app.extensions["pergola.registry"]
    branched = {a.name for a in addons_of(app) if (a.path / "migrations" / "versions").is_dir()}
    for name in sorted(branched):
        needed = {r.revision for r in script.iterate_revisions(f"{name}@head", "base")}
        closure = set(registry.dependency_closure([name]))
        for dep in sorted(set(registry.addons[name].manifest.depends) & branched):
            theirs = {
                r.revision
                for r in script.iterate_revisions(f"{dep}@head", "base")
                if dep in r.branch_labels
            }
            assert needed & theirs, (
                f"addon {name!r} depends on {dep!r}: its migrations must depend on {dep}'s"
            )
        foreign = {
            label
            for rev in needed
            for label in script.get_revision(rev).branch_labels
            if label != "core" and label not in closure
        }
        assert not foreign, (
            f"addon {name!r}: its migrations need {sorted(foreign)}, not in its manifest's depends"
        )
