"""The Discord adapter: the /rally command group, persistent buttons, DMs and the outbox port."""
