"""docs/hooks.md documents every hookspec the app knows, exactly, with examples that run."""

from __future__ import annotations

import inspect
import re
import types
from typing import Any

import pluggy
import pytest

from core.config import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "hooks.md"
HEADING = re.compile(r"^### `(?P<name>\w+)\((?P<rest>.*)`$", re.M)
EXAMPLE = re.compile(r"```python\n(?P<code>.*?)```", re.S)


def entries() -> dict[str, tuple[str, str]]:
    """Hook name → (heading signature, the entry's text), from docs/hooks.md."""
    text = DOC.read_text()
    found: dict[str, tuple[str, str]] = {}
    matches = list(HEADING.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end() : end].split("\n## ", 1)[0]
        found[m.group("name")] = (f"{m.group('name')}({m.group('rest')}", body)
    return found


def signature(name: str, function: Any) -> str:
    """`name(arg: type, ...) -> type` as the code declares it (annotations as written)."""
    sig = inspect.signature(function)
    params = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {p.annotation}"
        for p in sig.parameters.values()
    )
    ret = "" if sig.return_annotation is inspect.Signature.empty else f" -> {sig.return_annotation}"
    return f"{name}({params}){ret}"


def published_specs(app) -> dict[str, Any]:
    """Hook name → HookSpec, for the kernel and every installed addon (not test fixtures)."""
    registry = app.extensions["pergola.registry"]
    specs = {n: getattr(registry.pm.hook, n).spec for n in registry.hookspec_names()}
    return {n: s for n, s in specs.items() if not s.namespace.__name__.startswith("tests.")}


def test_every_hookspec_has_an_entry_with_its_exact_signature(app):
    documented = entries()
    specs = published_specs(app)

    missing = sorted(set(specs) - set(documented))
    assert not missing, f"docs/hooks.md has no entry for: {', '.join(missing)}"
    wrong = {
        n: (documented[n][0], signature(n, s.function))
        for n, s in specs.items()
        if documented[n][0] != signature(n, s.function)
    }
    assert not wrong, "docs/hooks.md headings differ from the code (doc, code): " + repr(wrong)


def test_every_entry_documents_a_hookspec_that_exists(app):
    stale = sorted(set(entries()) - set(published_specs(app)))
    assert not stale, f"docs/hooks.md documents hooks that no longer exist: {stale}"


@pytest.mark.parametrize("name", sorted(entries()))
def test_entry_says_when_parameters_returns_with_an_example(app, name):
    spec = published_specs(app).get(name)
    if spec is None:
        pytest.skip("not a hookspec of this app (see the stale-entry test)")
    body = entries()[name][1]
    for section in ("**When.**", "**Parameters.**", "**Returns.**", "**Example.**"):
        assert section in body, f"{name}: no {section} section"
    for arg in spec.argnames:
        assert f"`{arg}`" in body, f"{name}: parameter {arg!r} is not described"
    assert EXAMPLE.search(body), f"{name}: no python example"


@pytest.mark.parametrize("name", sorted(entries()))
def test_example_runs_and_implements_the_hook_as_specified(app, name):
    specs = published_specs(app)
    if name not in specs:
        pytest.skip("not a hookspec of this app (see the stale-entry test)")
    code = EXAMPLE.search(entries()[name][1]).group("code")
    module = types.ModuleType(f"docs_example_{name}")
    exec(compile(code, f"docs/hooks.md ({name})", "exec"), module.__dict__)

    # Validate it as the registry would: names and arguments against the real specs.
    pm = pluggy.PluginManager("pergola")
    for namespace in {id(s.namespace): s.namespace for s in specs.values()}.values():
        pm.add_hookspecs(namespace)
    pm.register(module)
    pm.check_pending()
    implemented = {
        impl.function.__name__
        for caller in pm.get_hookcallers(module) or []
        for impl in caller.get_hookimpls()
    }
    assert name in implemented, f"the example for {name} does not implement it"
