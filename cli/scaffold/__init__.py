"""`pergola addon new`: write a pip-installable third-party addon from the templates here.

Templates are the files under `template/`; `$name`-style placeholders are filled in
(string.Template, so the Jinja templates they contain pass through untouched), path parts
`__package__`, `__name__` and `__revision__` are renamed, and `.tmpl` is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from core.errors import Conflict, ValidationError
from core.manifest import NAME_RE

TEMPLATE_DIR = Path(__file__).parent / "template"
MODEL_RE = re.compile(r"^[A-Z][A-Za-z0-9]{1,39}$")


@dataclass(frozen=True)
class Scaffolded:
    """What `new_addon` wrote."""

    root: Path
    package: str
    files: tuple[Path, ...]


def kernel_base() -> str:
    """The kernel revision that creates tenants and users, which a new addon's first
    migration needs (its table refers to both); stable, unlike the kernel's heads."""
    from alembic.script import ScriptDirectory

    from core.migrate import KERNEL_VERSIONS, MIGRATIONS_DIR

    script = ScriptDirectory(str(MIGRATIONS_DIR), version_locations=[str(KERNEL_VERSIONS)])
    bases = script.get_bases()
    if len(bases) != 1:
        raise RuntimeError(f"the kernel's migrations have {len(bases)} bases; expected one")
    return bases[0]


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _plural(word: str) -> str:
    """English plural, good enough for resource names (entry -> entries, box -> boxes)."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def variables(name: str, model: str) -> dict[str, str]:
    """The placeholders' values for addon `name` with main model class `model`."""
    from core import __version__

    model_snake = _snake(model)
    return {
        "name": name,
        "title": name.replace("_", " ").title(),
        "package": f"pergola_{name}",
        "project": f"pergola-{name.replace('_', '-')}",
        "Model": model,
        "model_snake": model_snake,
        "model_words": model_snake.replace("_", " "),
        "table": f"{name}_{model_snake}",
        "resource": _plural(model_snake),
        "resource_words": _plural(model_snake).replace("_", " "),
        "revision": uuid.uuid4().hex[:12],
        "kernel_base": kernel_base(),
        "create_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "pergola_version": __version__,
    }


def new_addon(name: str, dest: Path, model: str = "Item") -> Scaffolded:
    """Write the package `pergola-<name>` into `dest`; refuses to overwrite anything."""
    if not NAME_RE.match(name) or name == "core":
        raise ValidationError(
            f"invalid addon name {name!r}: use 2-40 lower-case letters, digits or '_', "
            "starting with a letter (and not 'core')",
            field="name",
        )
    if not MODEL_RE.match(model):
        raise ValidationError(
            f"invalid model name {model!r}: use a CamelCase class name", field="model"
        )
    values = variables(name, model)
    root = dest / values["project"]
    if root.exists():
        raise Conflict(f"{root} already exists; choose another --path or remove it")
    written = []
    for source in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        relative = str(source.relative_to(TEMPLATE_DIR))[: -len(".tmpl")]
        relative = (
            relative.replace("__package__", values["package"])
            .replace("__revision__", values["revision"])
            .replace("__name__", name)
        )
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = Template(source.read_text()).substitute(values)
        except (KeyError, ValueError) as exc:  # a broken template is our bug: say which
            raise RuntimeError(f"scaffold template {source}: {exc!r}") from exc
        target.write_text(text)
        written.append(target)
    return Scaffolded(root, values["package"], tuple(written))
