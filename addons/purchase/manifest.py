"""Manifest of the purchase addon: suppliers, purchase orders, receiving, cost tracking."""

from core.manifest import Manifest, MenuItem

manifest = Manifest(
    name="purchase",
    version="1.0.0",
    summary="Suppliers, purchase orders, receiving into stock and purchase cost tracking",
    application=True,
    depends=("contacts", "inventory"),
    permissions={
        "purchase.orders:read": "See purchase orders, receipts and purchase costs",
        "purchase.orders:create": "Create draft purchase orders (and reorder suggestions)",
        "purchase.orders:update": "Edit draft purchase orders and delete drafts",
        "purchase.orders:confirm": "Send purchase orders to suppliers and confirm them",
        "purchase.orders:receive": "Receive goods against purchase orders and return them",
        "purchase.orders:cancel": "Cancel and close purchase orders",
        "purchase.suppliers:read": "See supplier terms and supplier prices",
        "purchase.suppliers:manage": "Edit supplier terms, supplier prices and purchase settings",
    },
    default_grants={
        "purchasing": ("purchase.*",),
        "manager": ("purchase.*",),
        "storekeeper": (
            "purchase.orders:read",
            "purchase.orders:receive",
            "purchase.suppliers:read",
        ),
    },
    menus=(MenuItem("Purchases", "purchase_web.order_list", "purchase.orders:read", order=30),),
    plugins=("addons.purchase.hooks",),
    hookspecs=("addons.purchase.hookspecs",),
)
