"""`pergola addons ...` on the fixture addons (`stock` <- `shop` <- `reports`)."""

from __future__ import annotations

import pytest

from core.registry import current_registry
from core.tenancy import system_context


@pytest.fixture()
def acme(fx_tenant):
    """Tenant acme with the shop (so stock too)."""
    return fx_tenant("acme", "shop")


def enabled(tenant) -> set[str]:
    """What `tenant` has enabled, read back from the database."""
    return set(current_registry().enabled_addons(tenant.id))


def test_list_shows_version_depends_and_how_many_tenants(fx_runner, acme, fx_tenant):
    fx_tenant("globex")
    result = fx_runner.invoke(["addons", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert lines[0] == ["NAME", "VERSION", "DEPENDS", "TENANTS"]
    assert lines[1:] == [
        ["stock", "1.2.0", "-", "enabled", "for", "1", "of", "2"],
        ["shop", "2.0.1", "stock", "enabled", "for", "1", "of", "2"],
        ["reports", "0.3.0", "shop", "enabled", "for", "0", "of", "2"],
    ]


def test_list_for_a_tenant_shows_its_state(fx_runner, acme):
    result = fx_runner.invoke(["addons", "list", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    states = {line.split()[0]: line.split()[-1] for line in result.output.splitlines()[1:]}
    assert states == {"stock": "enabled", "shop": "enabled", "reports": "disabled"}


def test_list_for_an_unknown_tenant_is_a_one_line_error(fx_runner):
    result = fx_runner.invoke(["addons", "list", "--tenant", "nope"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown tenant 'nope'"


def test_info_shows_the_manifest_hooks_and_dependants(fx_runner, acme):
    result = fx_runner.invoke(["addons", "info", "shop"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "version:      2.0.1" in out
    assert "depends on:   stock" in out
    assert "needed by:    reports" in out
    assert "enabled for:  1 of 1 tenants" in out
    assert "given to the app factory" in out
    assert "shop.orders:read  See orders" in out
    assert "sales: shop.orders:*" in out
    assert "Orders -> shop.index (needs shop.orders:read)" in out
    assert "blueprints:   shop (/shop)" in out
    for hook in ("addon_enabled", "register_blueprints", "stock_moved", "load_demo_data"):
        assert hook in out
    stock = fx_runner.invoke(["addons", "info", "stock"]).output
    assert "publishes:    stock_moved" in stock


def test_info_of_unknown_addon_fails_naming_it(fx_runner):
    result = fx_runner.invoke(["addons", "info", "nope"])
    assert result.exit_code == 1
    assert "unknown addon 'nope'" in result.output


def test_graph_draws_each_addon_above_its_dependencies(fx_runner):
    result = fx_runner.invoke(["addons", "graph"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "reports 0.3.0",
        "└── shop 2.0.1",
        "    └── stock 1.2.0",
    ]
    dot = fx_runner.invoke(["addons", "graph", "--dot"]).output
    assert '"shop" -> "stock";' in dot and '"reports" -> "shop";' in dot


def test_enable_for_a_tenant_says_which_dependencies_came_along(fx_runner, fx_tenant):
    t = fx_tenant("acme")
    result = fx_runner.invoke(["addons", "enable", "reports", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "enabled reports for tenant acme",
        "also enabled, as dependencies: stock, shop",
    ]
    assert enabled(t) == {"stock", "shop", "reports"}

    again = fx_runner.invoke(["addons", "enable", "reports", "--tenant", "acme"])
    assert again.output.strip() == "reports already enabled for tenant acme"


def test_enable_for_all_tenants_shows_progress_and_a_summary(fx_runner, fx_tenant):
    tenants = [fx_tenant(f"t{i:02d}") for i in range(12)]
    current_registry().enable(tenants[0].id, ["shop"])

    result = fx_runner.invoke(["addons", "enable", "shop", "--all-tenants"])

    assert result.exit_code == 0, result.output
    assert "enabling" in result.stderr  # the progress bar
    assert result.stdout.splitlines() == [
        "enabled shop for 11 of 12 tenants (1 had them already)",
        "also enabled, as dependencies: stock (11 tenants)",
    ]
    assert all(enabled(t) == {"stock", "shop"} for t in tenants)


@pytest.mark.parametrize("args", [["shop"], ["shop", "--tenant", "acme", "--all-tenants"]])
def test_enable_needs_exactly_one_target(fx_runner, acme, args):
    result = fx_runner.invoke(["addons", "enable", *args])
    assert result.exit_code == 2
    assert "exactly one of --tenant SLUG or --all-tenants" in result.output


def test_enable_without_names_is_a_usage_error(fx_runner, acme):
    result = fx_runner.invoke(["addons", "enable", "--tenant", "acme"])
    assert result.exit_code == 2


def test_enable_unknown_addon_fails_and_enables_nothing(fx_runner, fx_tenant):
    t = fx_tenant("acme")
    result = fx_runner.invoke(["addons", "enable", "shop", "nope", "--tenant", "acme"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown addon 'nope'"
    assert enabled(t) == set()


def test_disable_is_refused_naming_the_dependants(fx_runner, fx_tenant):
    t = fx_tenant("acme", "reports")
    result = fx_runner.invoke(["addons", "disable", "stock", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "shop, reports" in result.output
    assert "cascade" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert enabled(t) == {"stock", "shop", "reports"}


def test_disable_with_cascade(fx_runner, fx_tenant):
    t = fx_tenant("acme", "reports")
    result = fx_runner.invoke(["addons", "disable", "stock", "--tenant", "acme", "--cascade"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        == "disabled reports, shop, stock for tenant acme (their data is kept)"
    )
    assert enabled(t) == set()


def test_disable_of_an_addon_that_is_not_enabled_says_so(fx_runner, acme):
    result = fx_runner.invoke(["addons", "disable", "reports", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "reports was not enabled for tenant acme"


def test_disable_needs_a_tenant(fx_runner):
    result = fx_runner.invoke(["addons", "disable", "shop"])
    assert result.exit_code == 2
    assert "--tenant" in result.output


def test_disable_for_unknown_tenant_fails(fx_runner):
    result = fx_runner.invoke(["addons", "disable", "shop", "--tenant", "nope"])
    assert result.exit_code == 1
    assert "unknown tenant 'nope'" in result.output


def test_list_on_the_real_app_includes_every_installed_addon(runner, app):
    result = runner.invoke(["addons", "list"])
    assert result.exit_code == 0, result.output
    with app.app_context(), system_context():
        names = list(current_registry().addons)
    listed = [line.split()[0] for line in result.output.splitlines()[1:]]
    assert listed == names or (not names and "no addons installed" in result.output)
