"""The hook-coverage plugin: a full run fails when a hookspec is called by no test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT

CONFTEST = """
from tests.hook_coverage import HookCoverage


def pytest_configure(config):
    config.pluginmanager.register(HookCoverage(config), "pergola-hook-coverage")
"""

CALLS_ONE = """
import uuid

from core.registry import Registry
from core.tenancy import system_context


def test_demo_data_only():
    registry = Registry([])
    with system_context():
        registry.hook.load_demo_data(tenant_id=uuid.uuid4())


def test_nothing():
    pass
"""

CALLS_ALL = """
from core.registry import Registry
from core.tenancy import system_context


def test_every_hook():
    registry = Registry([])
    with system_context():
        for name in registry.hookspec_names():
            spec = getattr(registry.pm.hook, name).spec
            getattr(registry.hook, name)(**{arg: None for arg in spec.argnames})
"""


def run_suite(folder: Path, tests: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on a one-file suite in `folder`, with the plugin as our conftest has it."""
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_suite.py").write_text(tests)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_full_run_fails_naming_each_uncalled_hookspec(tmp_path):
    result = run_suite(tmp_path, CALLS_ONE)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    for name in ("addon_enabled", "addon_disabled", "register_blueprints", "register_commands"):
        assert f"hookspec called by no test: {name}" in result.stdout
    assert "called by no test: load_demo_data" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args", [["-k", "nothing"], ["--deselect", "test_suite.py::test_nothing"]])
def test_partial_runs_are_not_judged(tmp_path, args):
    result = run_suite(tmp_path, CALLS_ONE, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "called by no test" not in result.stdout


@pytest.mark.slow
def test_full_run_that_calls_every_hook_passes(tmp_path):
    result = run_suite(tmp_path, CALLS_ALL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "called by no test" not in result.stdout
