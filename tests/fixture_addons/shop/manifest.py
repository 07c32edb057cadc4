"""The `shop` fixture addon's manifest."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="shop",
    version="2.0.1",
    summary="Fixture: a shop that reacts to stock moves",
    depends=("stock",),
    application=True,
    permissions={
        "shop.orders:read": "See orders",
        "shop.orders:create": "Take orders",
    },
    default_grants={"sales": ("shop.orders:*",)},
    menus=(
        MenuItem("Orders", "shop.index", permission="shop.orders:read", order=10),
        MenuItem("Shop help", "shop.page", order=95),
    ),
    plugins=("tests.fixture_addons.shop.hooks",),
    package="tests.fixture_addons.shop",
)
