"""Fixture addon `shop`: depends on `stock`, serves routes, seeds a default record."""
