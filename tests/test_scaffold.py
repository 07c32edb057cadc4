"""`pergola addon new`: a pip-installable addon package whose own tests pass."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.scaffold import kernel_base
from core.config import PROJECT_ROOT

EXPECTED = {
    "README.md",
    "pyproject.toml",
    "ruff.toml",
    "setup.cfg",
    "pergola_widgets/__init__.py",
    "pergola_widgets/api.py",
    "pergola_widgets/hooks.py",
    "pergola_widgets/manifest.py",
    "pergola_widgets/models.py",
    "pergola_widgets/services.py",
    "pergola_widgets/views.py",
    "pergola_widgets/templates/widgets/index.html",
    "pergola_widgets/migrations/__init__.py",
    "pergola_widgets/migrations/versions/__init__.py",
    "tests/conftest.py",
    "tests/test_widgets.py",
}


def scaffold(dest: Path, *args: str):
    """Run `pergola addon new` (it needs no app or database)."""
    return CliRunner().invoke(cli, ["addon", "new", *args, "--path", str(dest)])


def files_of(root: Path) -> set[str]:
    """Every file under `root`, relative, except the migration (its name is random)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith("_initial.py")
    }


def migration_of(root: Path, package: str) -> Path:
    """The one first revision the scaffold wrote."""
    (found,) = (root / package / "migrations" / "versions").glob("*_initial.py")
    return found


def test_new_writes_a_package_with_entry_point_model_migration_hooks_route_and_tests(tmp_path):
    result = scaffold(tmp_path, "widgets", "--model", "Widget")

    assert result.exit_code == 0, result.output
    root = tmp_path / "pergola-widgets"
    assert f"created {root}" in result.output
    assert files_of(root) == EXPECTED
    setup = (root / "setup.cfg").read_text()
    assert "pergola.addons =\n    widgets = pergola_widgets.manifest:manifest" in setup
    assert "setuptools.build_meta" in (root / "pyproject.toml").read_text()
    views = (root / "pergola_widgets" / "views.py").read_text()
    assert '@require_permission("widgets.widgets:read")' in views
    models = (root / "pergola_widgets" / "models.py").read_text()
    assert "class Widget(BusinessModel, Base):" in models
    assert '__tablename__ = "widgets_widget"' in models
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))  # every file is valid Python


def test_first_migration_is_its_own_branch_depending_on_the_kernel(tmp_path):
    scaffold(tmp_path, "widgets")
    source = migration_of(tmp_path / "pergola-widgets", "pergola_widgets")
    values = {
        node.targets[0].id if isinstance(node, ast.Assign) else node.target.id: ast.literal_eval(
            node.value
        )
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
    }
    assert source.name == f"{values['revision']}_widgets_initial.py"
    assert values["down_revision"] is None
    assert values["branch_labels"] == ("widgets",)
    assert values["depends_on"] == kernel_base()


@pytest.mark.parametrize(
    "args, message",
    [
        (["Widgets"], "invalid addon name 'Widgets'"),
        (["core"], "invalid addon name 'core'"),
        (["w"], "invalid addon name 'w'"),
        (["widgets", "--model", "widget"], "invalid model name 'widget'"),
    ],
)
def test_bad_names_are_refused_naming_them(tmp_path, args, message):
    result = scaffold(tmp_path, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "pergola-widgets").mkdir()
    (tmp_path / "pergola-widgets" / "mine.txt").write_text("keep me")
    result = scaffold(tmp_path, "widgets")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [p.name for p in (tmp_path / "pergola-widgets").iterdir()] == ["mine.txt"]


@pytest.mark.slow
def test_scaffolded_package_installs_with_pip_and_passes_its_own_tests(tmp_path):
    assert scaffold(tmp_path, "widgets", "--model", "Widget").exit_code == 0
    root = tmp_path / "pergola-widgets"
    site = tmp_path / "site"
    # A real pip install (into a folder of its own, so the test environment stays as it
    # was): the entry point comes from the installed metadata, as for any third party.
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert list(site.glob("pergola_widgets-*.dist-info"))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PROJECT_ROOT)])}
    env.pop("PERGOLA_DATABASE_URL", None)
    # Run the tests against the installed copy, not the source folder.
    tests = tmp_path / "tests-only"
    (root / "tests").rename(tests)
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m; "
            "print([e.value for e in m.entry_points(group='pergola.addons') if e.name=='widgets'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert check.stdout.strip() == "['pergola_widgets.manifest:manifest']", check.stderr
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "core.testing",
            str(tests),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tests,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "12 passed" in result.stdout
