"""purchase: suppliers, purchase orders, receiving into stock, purchase cost tracking."""
