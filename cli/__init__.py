"""The `pergola` command line."""
