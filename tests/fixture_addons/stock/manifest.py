"""The `stock` fixture addon's manifest."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="stock",
    version="1.2.0",
    summary="Fixture: stock levels, publishes stock_moved",
    permissions={"stock.levels:read": "See stock levels"},
    default_grants={"storekeeper": ("stock.*",)},
    menus=(MenuItem("Stock", "stock_levels", permission="stock.levels:read", order=20),),
    plugins=("tests.fixture_addons.stock.hooks",),
    hookspecs=("tests.fixture_addons.stock.hookspecs",),
    package="tests.fixture_addons.stock",
)
