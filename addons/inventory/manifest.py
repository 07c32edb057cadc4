"""Manifest of the inventory addon: the master of products, warehouses and stock."""

from core.manifest import Manifest, MenuItem

_PRODUCTS = (
    "inventory.products:read",
    "inventory.products:create",
    "inventory.products:update",
    "inventory.products:delete",
)

manifest = Manifest(
    name="inventory",
    version="1.0.0",
    summary="Products, warehouses, a stock ledger that never goes negative, reorder alerts",
    application=True,
    depends=("contacts",),
    permissions={
        "inventory.products:read": "See products, categories, units and kits",
        "inventory.products:create": "Create and import products",
        "inventory.products:update": "Edit products, categories, units and kits",
        "inventory.products:delete": "Archive products",
        "inventory.stock:read": "See stock levels and the movement ledger",
        "inventory.stock:receive": "Receive goods into a warehouse",
        "inventory.stock:issue": "Issue goods out of a warehouse, reserve and release stock",
        "inventory.stock:transfer": "Move stock between warehouses",
        "inventory.stock:adjust": "Correct stock levels by hand (with a reason)",
        "inventory.stock:count": "Enter stock counts (differences become adjustments)",
        "inventory.warehouses:read": "See warehouses",
        "inventory.warehouses:manage": "Create and edit warehouses, assign their users, "
        "set reorder points",
        "inventory.reports:read": "See low stock and the stock valuation",
    },
    # Seed 004: only managers adjust stock by hand; storekeepers correct stock through
    # counts, which leave the counted figure as the reason.
    default_grants={
        "storekeeper": (
            *_PRODUCTS,
            "inventory.stock:read",
            "inventory.stock:receive",
            "inventory.stock:issue",
            "inventory.stock:transfer",
            "inventory.stock:count",
            "inventory.warehouses:read",
            "inventory.reports:read",
        ),
        "sales": ("inventory.products:read", "inventory.stock:read"),
        "purchasing": (
            "inventory.products:read",
            "inventory.stock:read",
            "inventory.stock:receive",
            "inventory.warehouses:read",
        ),
        "manager": ("inventory.*",),
        "accountant": ("inventory.products:read", "inventory.reports:read"),
    },
    menus=(
        MenuItem("Products", "inventory_web.product_list", "inventory.products:read", order=20),
        MenuItem("Stock", "inventory_web.low_stock", "inventory.reports:read", order=21),
        MenuItem(
            "Warehouses", "inventory_web.warehouse_list", "inventory.warehouses:read", order=22
        ),
    ),
    plugins=("addons.inventory.hooks",),
    hookspecs=("addons.inventory.hookspecs",),
)
