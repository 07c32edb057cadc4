"""The third-party example, examples/pergola-notes, end to end.

`make install` pip-installs it (editable) into the test environment, like any third-party
addon: found through its `pergola.addons` entry point, so every app the suite builds has it.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.scaffold import new_addon
from core import services
from core.config import PROJECT_ROOT
from core.db import session
from core.registry import addon_origin, current_registry, hook
from core.tenancy import system_context, tenant_context
from tests.test_migrations import drift, fresh_app, fresh_url, table_names  # noqa: F401

EXAMPLE = PROJECT_ROOT / "examples" / "pergola-notes"
NOT_INSTALLED = (
    "examples/pergola-notes is not installed in this environment: run `make install` "
    "(or `.venv/bin/pip install --no-build-isolation -e examples/pergola-notes`)"
)


@pytest.fixture(scope="module")
def entry_point() -> importlib.metadata.EntryPoint:
    """The example's entry point; the test fails, saying how to fix it, when it is missing."""
    found = [
        ep for ep in importlib.metadata.entry_points(group="pergola.addons") if ep.name == "notes"
    ]
    if not found:
        pytest.fail(NOT_INSTALLED)
    return found[0]


@pytest.fixture()
def notes(entry_point):
    """The example's modules (imported only once we know it is installed)."""
    from pergola_notes import models, views
    from pergola_notes import services as notes_services

    return models, notes_services, views


def titles(tenant) -> list[str]:
    """The tenant's notes, by title."""
    from pergola_notes.models import Note

    with tenant_context(tenant.id):
        return sorted(session.scalars(select(Note.title)))


def test_discovered_through_its_entry_point(app, entry_point):
    assert entry_point.value == "pergola_notes.manifest:manifest"
    assert entry_point.dist is not None and entry_point.dist.name == "pergola-notes"
    addon = app.extensions["pergola.registry"].addons["notes"]
    assert addon_origin(addon).startswith("entry point 'notes' of distribution pergola-notes")
    assert addon.manifest.package == "pergola_notes"


def test_migrated_by_db_upgrade_with_no_drift(fresh_app, entry_point):  # noqa: F811
    from cli.main import cli

    result = fresh_app.test_cli_runner().invoke(cli, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert "notes_note" in table_names(fresh_app)
    assert drift(fresh_app) == []
    notes = fresh_app.extensions["pergola.registry"].addons["notes"]
    assert notes.path / "migrations" / "versions" in fresh_app.extensions["pergola.migration_dirs"]


def test_enabled_per_tenant_and_its_hooks_reach_only_those_tenants(session, notes):
    with system_context():
        with_notes = services.create_tenant("with-notes", "With notes", addons=["notes"])
        without = services.create_tenant("without-notes", "Without notes", addons=[])
    registry = current_registry()

    assert registry.is_enabled("notes", with_notes.id)
    assert not registry.is_enabled("notes", without.id)
    for t in (with_notes, without, with_notes):
        with tenant_context(t.id):
            hook.load_demo_data(tenant_id=t.id)

    _models, notes_services, _views = notes
    assert titles(with_notes) == sorted([notes_services.WELCOME, *notes_services.DEMO_TITLES])
    assert titles(without) == []


def test_its_route_declares_a_permission_and_404s_for_tenants_without_it(
    app, client, session, notes
):
    from core.login import create_api_key

    _models, _services, views = notes
    assert views.index.pergola_permission == "notes.notes:read"
    assert "notes.notes:read" in current_registry().permissions()
    with system_context():
        with_notes = services.create_tenant("with-notes", "With notes", addons=["notes"])
        without = services.create_tenant("without-notes", "Without notes", addons=[])
        keys = {
            t.slug: create_api_key(t, "test", ["notes.notes:read"])[1]
            for t in (with_notes, without)
        }

    def get(slug: str):
        return client.get("/notes/", headers={"Authorization": f"Bearer {keys[slug]}"})

    assert get("with-notes").status_code == 200
    assert get("without-notes").status_code == 404
    assert get("with-notes").status_code == 200


@pytest.mark.slow
def test_its_own_generated_tests_pass(entry_point):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERGOLA_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_the_example_is_the_scaffold_output(tmp_path: Path):
    """The example stays what `pergola addon new notes --model Note` writes."""
    made = new_addon("notes", tmp_path, "Note")
    mine = {p.relative_to(made.root): p for p in made.files}
    theirs = {
        p.relative_to(EXAMPLE): p
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" or part.endswith(".egg-info")
            for part in p.relative_to(EXAMPLE).parts
        )
    }
    assert sorted(p.name for p in theirs if p.name.endswith("_initial.py")) != []
    for generated in (mine, theirs):
        for path in [p for p in generated if p.name.endswith("_initial.py")]:
            generated[Path("MIGRATION")] = generated.pop(path)
    assert sorted(map(str, mine)) == sorted(map(str, theirs))
    for rel, path in mine.items():
        ours, example = path.read_text(), theirs[rel].read_text()
        if rel == Path("MIGRATION"):
            # Only the revision id and date differ from one run to the next.
            ours = [
                line
                for line in ours.splitlines()
                if "revision" not in line.lower() and not line.startswith("Create Date")
            ]
            example = [
                line
                for line in example.splitlines()
                if "revision" not in line.lower() and not line.startswith("Create Date")
            ]
        assert ours == example, f"examples/pergola-notes/{rel} differs from the scaffold"
