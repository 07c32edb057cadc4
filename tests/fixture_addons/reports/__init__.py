"""Fixture addon `reports`: depends on `shop` (so, through it, on `stock`)."""
