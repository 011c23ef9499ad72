"""The Alembic migrations, installed as the package `bot.migrations` (see pyproject.toml)."""
