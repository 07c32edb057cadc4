"""A pytest plugin: the run fails when a hookspec is called by no test.

Every `Registry` built during the run (so every app) gets pluggy call monitoring; the
hookspecs those registries know (the kernel's, and those of every addon loaded) are the
ones to cover. Checked only when the whole suite ran: with `-k`, `-m`, `--lf`, deselected
tests, a subset of paths, or a run stopped early, nothing is reported. Works under
pytest-xdist: workers send what they saw to the controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import core.registry

WORKER_KEY = "pergola_hook_coverage"


class HookCoverage:
    """Records hookspecs and hook calls; reports uncalled hookspecs at the end of a full run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.specs: set[str] = set()
        self.called: set[str] = set()
        self.deselected = False
        self._original_init = core.registry.Registry.__init__
        coverage = self

        def init(registry: core.registry.Registry, *args: Any, **kwargs: Any) -> None:
            coverage._original_init(registry, *args, **kwargs)
            coverage.specs.update(registry.hookspec_names())
            registry.pm.add_hookcall_monitoring(coverage._before, coverage._after)

        core.registry.Registry.__init__ = init  # type: ignore[method-assign]

    def _before(self, hook_name: str, _impls: Any, _kwargs: Any) -> None:
        self.called.add(hook_name)

    def _after(self, *_args: Any) -> None:
        pass

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        core.registry.Registry.__init__ = self._original_init  # type: ignore[method-assign]

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if items:
            self.deselected = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: merge what a worker saw."""
        seen = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if seen:
            self.specs.update(seen["specs"])
            self.called.update(seen["called"])

    def partial_run(self, session: pytest.Session) -> str | None:
        """Why this run is not the whole suite, or None when it is."""
        option = self.config.option
        if getattr(option, "keyword", ""):
            return "-k"
        if getattr(option, "markexpr", ""):
            return "-m"
        if getattr(option, "lf", False):
            return "--lf"
        if getattr(option, "deselect", None) or self.deselected:
            return "deselected tests"
        if session.shouldstop or session.shouldfail:
            return "stopped early"
        root = self.config.rootpath
        wanted = [root / p for p in self.config.getini("testpaths")] or [root]
        given = []
        for arg in self.config.args:
            if "::" in arg:
                return "single tests"
            given.append(Path(arg).resolve())
        for path in wanted:
            if not any(path.resolve().is_relative_to(g) for g in given):
                return f"{path.name}/ not run"
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = {"specs": sorted(self.specs), "called": sorted(self.called)}
            return
        if self.partial_run(session) is not None or exitstatus not in (0, 1):
            return
        uncalled = sorted(self.specs - self.called)
        if not uncalled:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"hookspec called by no test: {name}" for name in uncalled]
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep("=", "hook coverage", red=True)
            for line in lines:
                reporter.write_line(line, red=True)
            reporter.write_line(
                "write a test that makes the kernel or an addon call each "
                "of them (see docs/hooks.md)"
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
