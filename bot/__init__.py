"""rallybot: a chat bot that helps advocacy collectives answer online attacks together."""
