"""The shipped configuration, installed as the package `bot.defaults` (see pyproject.toml)."""
