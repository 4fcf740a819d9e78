"""Persistence: models, migrations, tenant-scoped repositories (the only package that knows SQL)."""
