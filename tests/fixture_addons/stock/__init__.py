"""Fixture addon `stock`: publishes the `stock_moved` hookspec."""
