"""The addon registry: discovery, validation, dependency order, per-tenant enablement and
tenant-aware hook dispatch. One registry per app, built by the app factory."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pluggy
from flask import Blueprint, Flask, current_app, has_app_context
from sqlalchemy import delete, select

from core import hookspecs
from core.db import scope_state, session
from core.errors import Conflict, DomainError, NotFound
from core.manifest import NAME_RE, PERMISSION_RE, Manifest
from core.mixins import utcnow
from core.tenancy import in_system_context, require_tenant_id, tenant_context

ENTRY_POINT_GROUP = "pergola.addons"
KERNEL = "core"
MAX_CALLERS = 4096


class RegistryError(Exception):
    """An addon set that cannot be loaded; the message names the culprit."""


class RegistryFrozen(RegistryError):
    """Raised when something tries to register after the app started serving."""


@dataclass
class Addon:
    """A loaded addon: its manifest, package, folder and plugin objects."""

    manifest: Manifest
    package: ModuleType
    path: Path
    source: str
    plugins: list[object] = field(default_factory=list)
    blueprints: list[Blueprint] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The addon's name."""
        return self.manifest.name


# --- discovery and validation ----------------------------------------------------------


def builtin_manifests() -> list[Manifest]:
    """The manifests of the packages under `addons/`."""
    import addons

    found = []
    for info in sorted(pkgutil.iter_modules(addons.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"addons.{info.name}.manifest")
        manifest = _manifest_of(module, f"addons.{info.name}.manifest")
        if manifest.name != info.name:
            raise RegistryError(
                f"addon folder addons/{info.name} declares name {manifest.name!r}; they must match"
            )
        found.append(_with_package(manifest, f"addons.{info.name}"))
    return found


def entry_point_manifests() -> list[Manifest]:
    """Manifests of third-party addons installed with an entry point in `pergola.addons`."""
    found = []
    seen: set[tuple[str, str]] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # One distribution visible twice on sys.path (an editable install run from its own
        # folder) lists its entry points twice: that is not a duplicate addon.
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        try:
            obj = ep.load()
        except Exception as exc:
            raise RegistryError(
                f"entry point {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        manifest = _manifest_of(obj, ep.value)
        package = manifest.package or ep.value.split(":")[0].rsplit(".", 1)[0]
        found.append(_with_package(manifest, package))
    return found


def _manifest_of(obj: Any, where: str) -> Manifest:
    manifest = getattr(obj, "manifest", obj)
    if not isinstance(manifest, Manifest):
        raise RegistryError(f"{where} does not provide a pergola Manifest")
    return manifest


def _with_package(manifest: Manifest, package: str) -> Manifest:
    if manifest.package:
        return manifest
    from dataclasses import replace

    return replace(manifest, package=package)


def validate_manifests(manifests: Sequence[Manifest]) -> list[Manifest]:
    """Check names, duplicates, dependencies and permissions; return them in dependency order."""
    by_name: dict[str, Manifest] = {}
    for m in manifests:
        if not NAME_RE.match(m.name) or m.name == KERNEL:
            raise RegistryError(
                f"invalid addon name {m.name!r}: use 2-40 lower-case letters, digits or '_', "
                "starting with a letter (and not 'core')"
            )
        if m.name in by_name:
            raise RegistryError(
                f"duplicate addon name {m.name!r}: provided by {by_name[m.name].package} "
                f"and {m.package}"
            )
        by_name[m.name] = m
    for m in manifests:
        for dep in m.depends:
            if dep not in by_name:
                raise RegistryError(f"addon {m.name!r} depends on unknown addon {dep!r}")
        for perm in m.permissions:
            if not PERMISSION_RE.match(perm) or perm.split(".", 1)[0] != m.name:
                raise RegistryError(
                    f"addon {m.name!r} declares invalid permission {perm!r}: "
                    f"use '{m.name}.<resource>:<action>'"
                )
        for item in m.menus:
            if item.permission and item.permission not in m.permissions:
                raise RegistryError(
                    f"addon {m.name!r} menu {item.label!r} needs undeclared permission "
                    f"{item.permission!r}"
                )
    return _topological(by_name)


def _topological(by_name: dict[str, Manifest]) -> list[Manifest]:
    """Dependency order (dependencies first, ties by name); a cycle is an error that shows it."""
    order: list[Manifest] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise RegistryError("dependency cycle: " + " -> ".join(cycle))
        state[name] = 1
        for dep in sorted(by_name[name].depends):
            visit(dep, [*path, name])
        state[name] = 2
        order.append(by_name[name])

    for name in sorted(by_name):
        visit(name, [])
    return order


def _import_target(path: str, addon: str) -> Any:
    """Import `module` or `module:attr`; a failure is a `RegistryError` naming the addon."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"addon {addon!r}: cannot import {path!r}: {exc}") from exc


# --- the registry ------------------------------------------------------------------------


class Registry:
    """The addons installed in this app, their plugin manager and per-tenant enablement."""

    def __init__(
        self, manifests: Sequence[Manifest], kernel_plugins: Iterable[object] = ()
    ) -> None:
        self.addons: dict[str, Addon] = {}
        self.pm = pluggy.PluginManager("pergola")
        self.pm.add_hookspecs(hookspecs)
        self.frozen = False
        self._plugin_owner: dict[int, str] = {}
        self._callers: dict[tuple[str, frozenset[str]], Any] = {}
        self._blueprint_owner: dict[str, str] = {}
        self.hook = TenantHooks(self)
        ordered = validate_manifests(manifests)
        for m in ordered:
            if not m.package:
                raise RegistryError(f"addon {m.name!r}: its manifest names no package")
            package = _import_target(m.package, m.name)
            path = Path(cast(str, package.__file__)).parent
            self.addons[m.name] = Addon(m, package, path, source=m.package)
        # Hookspecs first, from every addon, so any addon may implement any other's hooks.
        for addon in self.addons.values():
            for spec in addon.manifest.hookspecs:
                self.pm.add_hookspecs(_import_target(spec, addon.name))
        for plugin in kernel_plugins:
            self._register(plugin, KERNEL, f"{KERNEL}:{getattr(plugin, '__name__', id(plugin))}")
        for addon in self.addons.values():
            self._import_models(addon)
            for ref in addon.manifest.plugins:
                plugin = _import_target(ref, addon.name)
                self._register(plugin, addon.name, f"{addon.name}:{ref}")
                addon.plugins.append(plugin)
        self._check_pending()

    def _register(self, plugin: object, owner: str, name: str) -> None:
        if self.frozen:
            raise RegistryFrozen(
                f"cannot register {name}: the registry is frozen once the app serves"
            )
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise RegistryError(f"addon {owner!r}: {exc}") from exc
        except ValueError as exc:  # the same plugin object registered twice
            raise RegistryError(f"addon {owner!r}: {exc}") from exc
        self._plugin_owner[id(plugin)] = owner
        self._callers.clear()  # subset callers are computed from the plugins at hand

    def _check_pending(self) -> None:
        """A hookimpl whose name matches no hookspec is a typo, not a silent no-op."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            owner = self._plugin_owner.get(id(exc.plugin), "?")
            raise RegistryError(f"addon {owner!r}: {exc} (no such hookspec)") from exc

    @staticmethod
    def _import_models(addon: Addon) -> None:
        if (addon.path / "models.py").exists() or (addon.path / "models").is_dir():
            _import_target(f"{addon.manifest.package}.models", addon.name)

    # --- wiring into the app ---

    def init_app(self, app: Flask) -> None:
        """Register blueprints, commands, templates and migrations of every installed addon."""
        from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

        app.extensions["pergola.registry"] = self
        loaders: list[BaseLoader] = [app.jinja_loader] if app.jinja_loader else []
        dirs = list(app.extensions.get("pergola.migration_dirs", []))
        for addon in self.addons.values():
            if (addon.path / "templates").is_dir():
                loaders.append(FileSystemLoader(str(addon.path / "templates")))
            versions = addon.path / "migrations" / "versions"
            if versions.is_dir():
                dirs.append(versions)
        app.jinja_loader = ChoiceLoader(loaders)
        app.extensions["pergola.migration_dirs"] = dirs
        # One plugin at a time, through pluggy (so call monitoring sees it), to know whose
        # blueprints these are: the 404 guard needs the owner of each.
        for owner, blueprints in self.results_by_owner("register_blueprints"):
            for bp in blueprints or []:
                self._add_blueprint(app, bp, owner)
        from core.api import resource_blueprints

        for owner, bp in resource_blueprints(self):  # the API toolkit's, one per addon
            self._add_blueprint(app, bp, owner)
        self.pm.hook.register_commands(cli=app.cli)
        from core.rbac import install_record_rules

        install_record_rules(app, self.pm)
        self.frozen = True

    def results_by_owner(self, name: str) -> list[tuple[str, Any]]:
        """(owner, result) of hook `name` for each plugin implementing it, called one
        plugin at a time through pluggy (so call monitoring sees it)."""
        results: list[tuple[str, Any]] = []
        for impl in getattr(self.pm.hook, name).get_hookimpls():
            owner = self._plugin_owner.get(id(impl.plugin), KERNEL)
            others = [p for p in self.pm.get_plugins() if p is not impl.plugin]
            only_this = self.pm.subset_hook_caller(name, remove_plugins=others)
            results.extend((owner, result) for result in only_this())
        return results

    def _add_blueprint(self, app: Flask, bp: Blueprint, owner: str) -> None:
        from core.api.routes import adopt

        app.register_blueprint(bp)
        # Routes under /api/ share the API's rate limit and unit of work, by construction.
        adopt(app, bp)
        self._blueprint_owner[bp.name] = owner
        if owner in self.addons:
            self.addons[owner].blueprints.append(bp)

    def blueprint_owner(self, blueprint: str | None) -> str | None:
        """The addon that registered `blueprint` (None for the kernel's own)."""
        if blueprint is None:
            return None
        owner = self._blueprint_owner.get(blueprint.split(".")[0])
        return owner if owner in self.addons else None

    def register_plugin(self, plugin: object, owner: str = KERNEL) -> None:
        """Register one more plugin before the app serves (raises `RegistryFrozen` after)."""
        if owner != KERNEL and owner not in self.addons:
            raise RegistryError(f"cannot register a plugin for unknown addon {owner!r}")
        self._register(plugin, owner, f"{owner}:{getattr(plugin, '__name__', id(plugin))}")
        try:
            self._check_pending()
        except RegistryError:
            self.pm.unregister(plugin)
            raise
        if owner in self.addons:
            self.addons[owner].plugins.append(plugin)

    def hookspec_names(self) -> list[str]:
        """Names of every hookspec: the kernel's and those the installed addons publish."""
        return sorted(
            name
            for name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
        )

    def published_by(self, addon: str) -> list[str]:
        """Names of the hookspecs addon `addon` offers to others (its manifest's `hookspecs`)."""
        namespaces = [_import_target(ref, addon) for ref in self.addons[addon].manifest.hookspecs]
        return [
            n
            for n in self.hookspec_names()
            if any(getattr(self.pm.hook, n).spec.namespace is ns for ns in namespaces)
        ]

    # --- enablement ---

    def dependency_closure(self, names: Iterable[str]) -> list[str]:
        """`names` and everything they depend on, in load order."""
        wanted: set[str] = set()

        def add(name: str) -> None:
            if name not in self.addons:
                raise NotFound(f"unknown addon {name!r}", details={"addon": ["no such addon"]})
            if name in wanted:
                return
            wanted.add(name)
            for dep in self.addons[name].manifest.depends:
                add(dep)

        for n in names:
            add(n)
        return [n for n in self.addons if n in wanted]

    def dependants(self, names: Iterable[str], among: Iterable[str]) -> list[str]:
        """Addons in `among` that depend, directly or not, on any of `names`."""
        targets = set(names)
        result: list[str] = []
        for name in self.addons:  # load order: dependencies come first
            if name in targets or name not in set(among):
                continue
            deps = set(self.addons[name].manifest.depends)
            if deps & (targets | set(result)):
                result.append(name)
        return result

    def enabled_addons(self, tenant_id: uuid.UUID) -> frozenset[str]:
        """The installed addons `tenant_id` has enabled (cached for the app context)."""
        cache = scope_state().setdefault("enabled", {}) if has_app_context() else {}
        found = cache.get(tenant_id)
        if found is None:
            from core.models import TenantAddon

            rows = session.scalars(
                select(TenantAddon.addon).where(TenantAddon.tenant_id == tenant_id)
            ).all()
            found = cache[tenant_id] = frozenset(r for r in rows if r in self.addons)
        return cast(frozenset[str], found)

    def enabled_counts(self) -> dict[str, int]:
        """How many tenants have each installed addon enabled (for admin listings)."""
        from sqlalchemy import func

        from core.models import TenantAddon

        rows = session.execute(
            select(TenantAddon.addon, func.count()).group_by(TenantAddon.addon)
        ).all()
        counts = {name: 0 for name in self.addons}
        counts.update({name: n for name, n in rows if name in self.addons})
        return counts

    def dependants_of(self, name: str) -> list[str]:
        """Installed addons that depend on `name`, directly or not, in load order."""
        return self.dependants([name], among=self.addons)

    def is_enabled(self, name: str, tenant_id: uuid.UUID | None = None) -> bool:
        """Whether `name` is enabled for `tenant_id` (default: the tenant in context)."""
        return name in self.enabled_addons(tenant_id or require_tenant_id())

    def _forget(self, tenant_id: uuid.UUID) -> None:
        if has_app_context():
            scope_state().setdefault("enabled", {}).pop(tenant_id, None)

    def enable(
        self, tenant_id: uuid.UUID, names: Iterable[str], by: uuid.UUID | None = None
    ) -> list[str]:
        """Enable `names` and their missing dependencies, in dependency order.

        Returns what was newly enabled (the caller tells which were dependencies). Inserts
        rows and runs `addon_enabled` hooks only: no DDL.
        """
        from core.models import TenantAddon

        closure = self.dependency_closure(names)
        current = self.enabled_addons(tenant_id)
        new = [n for n in closure if n not in current]
        with tenant_context(tenant_id):
            # Dependencies first, one at a time: each addon hears about itself and about
            # the addons enabled after it, never about one enabled before it existed.
            for name in new:
                session.add(
                    TenantAddon(tenant_id=tenant_id, addon=name, enabled_at=utcnow(), enabled_by=by)
                )
                session.flush()
                self._forget(tenant_id)
                self.hook.addon_enabled(tenant_id=tenant_id, addon=name)
        return new

    def disable(
        self, tenant_id: uuid.UUID, names: Iterable[str], cascade: bool = False
    ) -> list[str]:
        """Disable `names` (and, with `cascade`, the enabled addons that depend on them).

        Refused while an enabled addon depends on one of them. Only the enablement rows
        go: business data stays, and comes back when the addon is enabled again.
        """
        from core.models import TenantAddon

        names = list(names)
        for n in names:
            if n not in self.addons:
                raise NotFound(f"unknown addon {n!r}", details={"addon": ["no such addon"]})
        current = self.enabled_addons(tenant_id)
        targets = [n for n in names if n in current]
        dependants = self.dependants(targets, among=current)
        if dependants and not cascade:
            raise Conflict(
                f"cannot disable {', '.join(targets)}: enabled addon(s) "
                f"{', '.join(dependants)} depend on it (disable them first, or cascade)",
                details={"dependants": dependants},
            )
        gone = set(targets) | set(dependants)
        order = [n for n in reversed(list(self.addons)) if n in gone]
        with tenant_context(tenant_id):
            # Dependants first, one at a time: each addon is told while it is still enabled
            # (so it hears about itself), and no addon hears of a dependency's removal
            # after it was removed itself.
            for name in order:
                self.hook.addon_disabled(tenant_id=tenant_id, addon=name)
                session.execute(
                    delete(TenantAddon).where(
                        TenantAddon.tenant_id == tenant_id, TenantAddon.addon == name
                    )
                )
                self._forget(tenant_id)
        return order

    # --- dispatch ---

    def caller(self, name: str) -> Any:
        """The hook `name` as the tenant in context sees it: enabled addons plus the kernel."""
        if in_system_context():
            return getattr(self.pm.hook, name)
        enabled = self.enabled_addons(require_tenant_id())
        key = (name, enabled)
        hook_caller = self._callers.get(key)
        if hook_caller is None:
            removed = [p for a in self.addons.values() if a.name not in enabled for p in a.plugins]
            hook_caller = (
                self.pm.subset_hook_caller(name, remove_plugins=removed)
                if removed
                else getattr(self.pm.hook, name)
            )
            if len(self._callers) >= MAX_CALLERS:
                self._callers.clear()  # bounded: tenants may enable any of 2**n subsets
            self._callers[key] = hook_caller
        return hook_caller

    def require_enabled(self, name: str, tenant_slug: str) -> uuid.UUID:
        """The id of tenant `tenant_slug`, if it has `name` enabled; else a clear error."""
        from core.services import get_tenant

        tenant = get_tenant(tenant_slug)
        if name not in self.enabled_addons(tenant.id):
            raise DomainError(
                f"addon {name!r} is not enabled for tenant {tenant_slug!r}", code="ADDON_DISABLED"
            )
        return tenant.id

    def permissions(self, enabled: Iterable[str] | None = None) -> dict[str, str]:
        """Permission name → description, of all addons or only the `enabled` ones."""
        wanted = set(enabled) if enabled is not None else set(self.addons)
        return {
            p: d
            for a in self.addons.values()
            if a.name in wanted
            for p, d in a.manifest.permissions.items()
        }

    def menus(
        self, tenant_id: uuid.UUID, allowed: Callable[[str], bool] = lambda _p: True
    ) -> list[Any]:
        """Menu items of the tenant's enabled addons that `allowed(permission)` lets through."""
        enabled = self.enabled_addons(tenant_id)
        items = [
            item
            for a in self.addons.values()
            if a.name in enabled
            for item in a.manifest.menus
            if not item.permission or allowed(item.permission)
        ]
        return sorted(items, key=lambda i: (i.order, i.label))


def addon_origin(addon: Addon) -> str:
    """Where an addon comes from: built in, a distribution's entry point, or the app config."""
    package = addon.manifest.package
    if package.startswith("addons."):
        return "built-in (addons/)"
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = ep.value.split(":")[0]
        if module == package or module.startswith(package + "."):
            dist = ep.dist
            where = f" of distribution {dist.name} {dist.version}" if dist else ""
            return f"entry point {ep.name!r}{where}"
    return "given to the app factory (only_addons / extra_addons)"


class TenantHooks:
    """`registry.hook.name(...)`: dispatch to the current tenant's enabled addons only."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __getattr__(self, name: str) -> Any:
        return self._registry.caller(name)


def current_registry() -> Registry:
    """The registry of the current app."""
    return cast(Registry, current_app.extensions["pergola.registry"])


class _HookProxy:
    def __getattr__(self, name: str) -> Any:
        return current_registry().caller(name)


hook: Any = _HookProxy()
"""`from core.registry import hook; hook.stock_moved(movement=m)` dispatches per tenant."""


def hook_signature(name: str, registry: Registry) -> list[str]:
    """The argument names of hookspec `name` (for documentation checks)."""
    spec = getattr(registry.pm.hook, name).spec
    return list(inspect.signature(spec.function).parameters)
