"""The `notes` addon's Alembic branch (versions/); `pergola db upgrade` runs it."""
