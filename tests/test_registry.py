"""The addon registry: manifests validated at boot, per-tenant enablement, per-tenant hooks.

Most tests use the fixture addons in tests/fixture_addons (`stock` <- `shop` <- `reports`)
through an app that loads only them (`fx`, `fx_tenant`, `fx_client`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from core import create_app
from core.config import PROJECT_ROOT
from core.db import get_db, session
from core.errors import Conflict, NotFound, TenantContextError
from core.manifest import Manifest, MenuItem
from core.registry import Registry, RegistryError, RegistryFrozen, current_registry, hook
from core.tenancy import system_context, tenant_context
from tests.fixture_addons import CALLS, calls
from tests.fixture_addons.broken_hooks import Fine, Typo
from tests.fixture_addons.fixtures import FIXTURE_MANIFESTS
from tests.fixture_addons.shop.hooks import DEFAULTS, DEMO
from tests.kernel_models import Project


def bare(name: str, *depends: str, **kw) -> Manifest:
    """A manifest with no code behind it (validation fails before anything is imported)."""
    return Manifest(name=name, version="1.0", depends=depends, package=f"nowhere.{name}", **kw)


def with_plugin(name: str, plugin: str) -> Manifest:
    """A manifest whose one plugin is `tests.fixture_addons.broken_hooks:<plugin>`."""
    return Manifest(
        name=name,
        version="1.0",
        package="tests.fixture_addons",
        plugins=(f"tests.fixture_addons.broken_hooks:{plugin}",),
    )


def projects() -> list[str]:
    """Names of the current tenant's projects."""
    return list(session.scalars(select(Project.name).order_by(Project.name)))


# --- validation at boot ----------------------------------------------------------------


def test_unknown_dependency_is_rejected_naming_addon_and_dependency():
    with pytest.raises(RegistryError, match="addon 'sales' depends on unknown addon 'contacts'"):
        Registry([bare("sales", "contacts")])


def test_dependency_cycle_is_rejected_showing_the_cycle():
    with pytest.raises(RegistryError) as err:
        Registry([bare("sales", "invoicing"), bare("invoicing", "sales")])
    assert str(err.value) == "dependency cycle: invoicing -> sales -> invoicing"


def test_longer_cycle_shows_only_the_loop():
    with pytest.raises(RegistryError) as err:
        Registry(
            [
                bare("crm", "sales"),
                bare("sales", "invoicing"),
                bare("invoicing", "stock"),
                bare("stock", "sales"),
            ]
        )
    assert str(err.value) == "dependency cycle: sales -> invoicing -> stock -> sales"


def test_addon_depending_on_itself_is_a_cycle():
    with pytest.raises(RegistryError, match="dependency cycle: sales -> sales"):
        Registry([bare("sales", "sales")])


def test_duplicate_name_is_rejected_naming_both_packages():
    one = Manifest(name="sales", version="1.0", package="addons.sales")
    other = Manifest(name="sales", version="2.0", package="acme_sales")
    with pytest.raises(RegistryError) as err:
        Registry([one, other])
    assert "duplicate addon name 'sales'" in str(err.value)
    assert "addons.sales" in str(err.value) and "acme_sales" in str(err.value)


@pytest.mark.parametrize("name", ["Sales", "s", "core", "9lives", "sales-orders", "x" * 41, ""])
def test_invalid_name_is_rejected_naming_it(name):
    with pytest.raises(RegistryError, match=re.escape(f"invalid addon name {name!r}")):
        Registry([bare(name)])


def test_permission_outside_the_addon_namespace_is_rejected():
    with pytest.raises(RegistryError) as err:
        Registry([bare("shop", permissions={"sales.orders:read": "x"})])
    assert "addon 'shop' declares invalid permission 'sales.orders:read'" in str(err.value)


def test_menu_needing_an_undeclared_permission_is_rejected():
    menu = MenuItem("Orders", "shop.index", permission="shop.orders:read")
    with pytest.raises(RegistryError, match="menu 'Orders' needs undeclared permission"):
        Registry([bare("shop", menus=(menu,))])


def test_hookimpl_without_hookspec_is_rejected_naming_addon_and_hook():
    with pytest.raises(RegistryError) as err:
        Registry([with_plugin("typo", "Typo")])
    assert "addon 'typo'" in str(err.value)
    assert "addon_enable" in str(err.value)


def test_hookimpl_argument_not_in_spec_is_rejected_naming_addon_and_argument():
    with pytest.raises(RegistryError) as err:
        Registry([with_plugin("extra", "ExtraArgument")])
    assert "addon 'extra'" in str(err.value)
    assert "user" in str(err.value)


def test_plugin_that_cannot_be_imported_names_the_addon():
    broken = Manifest(
        name="ghost",
        version="1.0",
        package="tests.fixture_addons",
        plugins=("tests.fixture_addons.no_such_module",),
    )
    with pytest.raises(RegistryError, match="addon 'ghost': cannot import"):
        Registry([broken])


def test_manifest_without_package_is_rejected_naming_the_addon():
    with pytest.raises(RegistryError, match="addon 'orphan': its manifest names no package"):
        Registry([Manifest(name="orphan", version="1.0")])


def test_addons_load_in_dependency_order():
    registry = Registry(list(reversed(FIXTURE_MANIFESTS)))
    assert list(registry.addons) == ["stock", "shop", "reports"]


def test_manifest_is_immutable():
    manifest = FIXTURE_MANIFESTS[1]
    with pytest.raises(FrozenInstanceError):
        manifest.version = "9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.permissions["shop.orders:delete"] = "x"  # type: ignore[index]


def test_importing_an_addon_manifest_registers_nothing():
    # A fresh interpreter: whatever this process imported before cannot hide a side effect.
    script = (
        "import sys\n"
        "import tests.fixture_addons.shop.manifest as m\n"
        "loaded = [n for n in sys.modules if n.startswith('tests.fixture_addons.shop.')]\n"
        "assert loaded == ['tests.fixture_addons.shop.manifest'], loaded\n"
        "assert 'pluggy' not in sys.modules and 'flask' not in sys.modules, 'imported machinery'\n"
        "print(m.manifest.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "shop"


def test_each_app_builds_its_own_plugin_manager(fx_app, db_url, tmp_path):
    other = create_app(
        {
            "database_url": db_url,
            "testing": True,
            "secret_key": "x",
            "instance_path": str(tmp_path),
            "only_addons": [FIXTURE_MANIFESTS[0]],
        }
    )
    try:
        mine = fx_app.extensions["pergola.registry"]
        theirs = other.extensions["pergola.registry"]
        assert mine.pm is not theirs.pm
        assert list(theirs.addons) == ["stock"]
        assert "shop" in mine.addons
    finally:
        get_db(other).dispose()


def test_registration_is_frozen_once_the_app_is_built(fx_app):
    registry = fx_app.extensions["pergola.registry"]
    with pytest.raises(RegistryFrozen, match="frozen"):
        registry.register_plugin(Fine(), owner="shop")
    assert not any(isinstance(p, Fine) for p in registry.pm.get_plugins())


def test_plugins_may_be_registered_until_the_app_is_built():
    registry = Registry(list(FIXTURE_MANIFESTS))
    registry.register_plugin(Fine(), owner="shop")
    assert any(isinstance(p, Fine) for p in registry.addons["shop"].plugins)
    with pytest.raises(RegistryError, match="addon 'core'"):
        registry.register_plugin(Typo())
    assert not any(isinstance(p, Typo) for p in registry.pm.get_plugins())


def test_addon_hookspecs_join_the_kernel_ones(fx_app):
    names = fx_app.extensions["pergola.registry"].hookspec_names()
    assert {"addon_enabled", "addon_disabled", "register_blueprints", "stock_moved"} <= set(names)


# --- enabling and disabling per tenant ---------------------------------------------------


def test_enable_pulls_in_dependencies_and_says_which(fx, fx_tenant):
    t = fx_tenant("acme")
    registry = current_registry()

    newly = registry.enable(t.id, ["reports"])

    assert newly == ["stock", "shop", "reports"]
    assert registry.enabled_addons(t.id) == {"stock", "shop", "reports"}
    # Each addon is told once enabled itself: of itself and of what came after it.
    assert [c["addon"] for c in calls("addon_enabled", "stock")] == ["stock", "shop", "reports"]
    assert [c["addon"] for c in calls("addon_enabled", "shop")] == ["shop", "reports"]
    assert registry.enable(t.id, ["shop"]) == []


def test_enable_unknown_addon_is_refused_and_enables_nothing(fx, fx_tenant):
    t = fx_tenant("acme")
    registry = current_registry()
    with pytest.raises(NotFound, match="unknown addon 'nope'"):
        registry.enable(t.id, ["shop", "nope"])
    assert registry.enabled_addons(t.id) == frozenset()


def test_enable_runs_no_ddl(fx, fx_tenant):
    t = fx_tenant("acme")
    statements: list[str] = []
    engine = get_db().engine

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", capture)
    try:
        current_registry().enable(t.id, ["reports"])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements, "enable wrote nothing?"
    assert not {"CREATE", "ALTER", "DROP"} & set(statements)


def test_disable_is_refused_while_an_enabled_addon_depends_on_it(fx, fx_tenant):
    t = fx_tenant("acme", "reports")
    registry = current_registry()

    with pytest.raises(Conflict) as err:
        registry.disable(t.id, ["stock"])

    assert "shop, reports" in err.value.message
    assert err.value.details == {"dependants": ["shop", "reports"]}
    assert registry.enabled_addons(t.id) == {"stock", "shop", "reports"}
    assert calls("addon_disabled") == []


def test_disable_with_cascade_disables_the_dependants_first(fx, fx_tenant):
    t = fx_tenant("acme", "reports")
    other = fx_tenant("globex", "reports")
    registry = current_registry()

    gone = registry.disable(t.id, ["stock"], cascade=True)

    assert gone == ["reports", "shop", "stock"]
    assert registry.enabled_addons(t.id) == frozenset()
    assert registry.enabled_addons(other.id) == {"stock", "shop", "reports"}
    # Each addon still hears about its own disabling: it is told before it goes.
    assert [c["addon"] for c in calls("addon_disabled", "reports")] == ["reports"]
    assert [c["addon"] for c in calls("addon_disabled", "shop")] == ["reports", "shop"]
    assert [c["addon"] for c in calls("addon_disabled", "stock")] == ["reports", "shop", "stock"]


def test_disable_of_a_leaf_needs_no_cascade(fx, fx_tenant):
    t = fx_tenant("acme", "reports")
    assert current_registry().disable(t.id, ["reports"]) == ["reports"]
    assert current_registry().enabled_addons(t.id) == {"stock", "shop"}


def test_disable_unknown_addon_is_refused(fx, fx_tenant):
    t = fx_tenant("acme", "shop")
    with pytest.raises(NotFound, match="unknown addon 'nope'"):
        current_registry().disable(t.id, ["nope"])


def test_disable_keeps_data_and_enable_brings_it_back(fx, fx_tenant, fx_client):
    t = fx_tenant("acme", "shop")
    with tenant_context(t.id):
        session.add(Project(name="Order 1", budget=Decimal("12.50")))
        session.flush()
    registry = current_registry()

    registry.disable(t.id, ["shop"])

    assert fx_client.get("/shop/", tenant=t).status_code == 404
    with tenant_context(t.id):
        assert projects() == ["Order 1", DEFAULTS]
        assert session.scalar(select(Project.budget).where(Project.name == "Order 1")) == Decimal(
            "12.50"
        )

    registry.enable(t.id, ["shop"])

    answer = fx_client.get("/shop/", tenant=t)
    assert answer.status_code == 200
    assert answer.json["projects"] == ["Order 1", DEFAULTS]


def test_enable_disable_enable_seeds_defaults_once(fx, fx_tenant):
    t = fx_tenant("acme")
    registry = current_registry()

    registry.enable(t.id, ["shop"])
    registry.disable(t.id, ["shop"])
    registry.enable(t.id, ["shop"])

    assert [c["addon"] for c in calls("addon_enabled", "shop")] == ["shop", "shop"]
    with tenant_context(t.id):
        assert (
            session.scalar(
                select(func.count()).select_from(Project).where(Project.name == DEFAULTS)
            )
            == 1
        )


def test_new_tenant_gets_the_default_addons(fx_app, db_url, tmp_path):
    from tests.fixture_addons.fixtures import build_fixture_app

    application = build_fixture_app(db_url, tmp_path, default_addons="shop")
    database = get_db(application)
    conn = database.engine.connect()
    trans = conn.begin()
    database.bind_to(conn)
    try:
        with application.app_context(), system_context():
            from core import services

            t = services.create_tenant("acme", "Acme")
            assert current_registry().enabled_addons(t.id) == {"stock", "shop"}
    finally:
        database.bind_to(database.engine)
        trans.rollback()
        conn.close()
        database.dispose()


# --- tenant-aware dispatch ---------------------------------------------------------------


def test_hooks_reach_only_the_tenants_that_enabled_the_addon(fx, fx_tenant):
    with_shop = fx_tenant("acme", "shop")
    without = fx_tenant("globex", "stock")
    CALLS.clear()

    answers = []
    for t in (with_shop, without, with_shop, without):  # interleaved in one process
        with tenant_context(t.id):
            answers.append(hook.stock_moved(tenant_id=t.id, sku="A-1", quantity=Decimal("2")))

    shop_says = "shop saw 2 x A-1"
    assert answers == [[shop_says, "kernel saw it"], ["kernel saw it"]] * 2
    assert [c["tenant_id"] for c in calls("stock_moved", "shop")] == [with_shop.id] * 2
    # The kernel's own implementations are called for every tenant.
    assert [c["tenant_id"] for c in calls("stock_moved", "kernel")] == [
        with_shop.id,
        without.id,
    ] * 2


def test_dispatch_follows_enable_and_disable_at_once(fx, fx_tenant):
    t = fx_tenant("acme", "stock")
    registry = current_registry()

    def reached() -> list[str]:
        with tenant_context(t.id):
            return hook.stock_moved(tenant_id=t.id, sku="B", quantity=Decimal("1"))

    assert reached() == ["kernel saw it"]
    registry.enable(t.id, ["shop"])
    assert reached() == ["shop saw 1 x B", "kernel saw it"]
    registry.disable(t.id, ["shop"])
    assert reached() == ["kernel saw it"]


def test_system_context_reaches_every_addon(fx, fx_tenant):
    with system_context():
        answers = current_registry().hook.stock_moved(
            tenant_id=None, sku="C", quantity=Decimal("1")
        )
    assert "shop saw 1 x C" in answers


def test_hook_call_without_a_tenant_fails_closed(fx):
    with pytest.raises(TenantContextError):
        hook.stock_moved(tenant_id=None, sku="D", quantity=Decimal("1"))


def test_two_tenants_interleaved_routes_hooks_and_menus_follow_each(fx, fx_tenant, fx_client):
    acme = fx_tenant("acme", "shop")
    globex = fx_tenant("globex", "stock")
    registry = current_registry()

    for _ in range(2):
        mine = fx_client.get("/shop/", tenant=acme)
        theirs = fx_client.get("/shop/", tenant=globex)
        assert mine.status_code == 200
        assert mine.json["tenant"] == str(acme.id)
        assert mine.json["notes"] == ["shop saw 1 x X-1", "kernel saw it"]
        assert theirs.status_code == 404

    assert [c["tenant_id"] for c in calls("stock_moved", "shop")] == [acme.id, acme.id]
    assert [m.label for m in registry.menus(acme.id)] == ["Orders", "Stock", "Shop help"]
    assert [m.label for m in registry.menus(globex.id)] == ["Stock"]
    assert [m.label for m in registry.menus(acme.id, allowed=lambda p: p.startswith("stock."))] == [
        "Stock",
        "Shop help",
    ]
    assert set(registry.permissions(registry.enabled_addons(globex.id))) == {"stock.levels:read"}
    assert "shop.orders:read" in registry.permissions(registry.enabled_addons(acme.id))


def test_addon_route_without_a_tenant_is_not_served(fx, fx_client):
    assert fx_client.get("/shop/").status_code in (401, 302, 404)


def test_addon_templates_are_found(fx, fx_tenant, fx_client):
    t = fx_tenant("acme", "shop")
    page = fx_client.get("/shop/page", tenant=t)
    assert page.status_code == 200
    assert f"Shop page for tenant {t.id}" in page.text


def test_blueprints_and_commands_come_from_the_addons(fx_app):
    registry = fx_app.extensions["pergola.registry"]
    assert registry.blueprint_owner("shop") == "shop"
    assert registry.blueprint_owner("shop.index") == "shop"
    assert registry.blueprint_owner(None) is None
    assert [bp.name for bp in registry.addons["shop"].blueprints] == ["shop"]
    assert "shop-projects" in fx_app.cli.commands


def test_addon_command_refuses_for_a_tenant_without_the_addon(fx, fx_tenant, fx_runner):
    fx_tenant("acme", "shop")
    fx_tenant("globex", "stock")

    ok = fx_runner.invoke(["shop-projects", "--tenant", "acme"])
    refused = fx_runner.invoke(["shop-projects", "--tenant", "globex"])

    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == DEFAULTS
    assert refused.exit_code == 1
    assert "addon 'shop' is not enabled for tenant 'globex'" in refused.output


def test_demo_loads_each_enabled_addons_demo_data_once(fx, fx_runner, monkeypatch):
    monkeypatch.setenv("PERGOLA_DEMO_PASSWORD", "demo-password-1")
    with system_context():
        from core import services

        services.create_tenant("demo", "Demo Company", addons=["shop"])

    for _ in range(2):
        result = fx_runner.invoke(["demo"])
        assert result.exit_code == 0, result.output

    demo = calls("load_demo_data", "shop")
    assert len(demo) == 2
    with tenant_context(demo[0]["tenant_id"]):
        assert projects() == [DEMO, DEFAULTS]
