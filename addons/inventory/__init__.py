"""inventory: products, warehouses, and a stock ledger that never goes negative."""
