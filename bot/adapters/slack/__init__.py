"""The Slack adapter: Bolt listeners, Block Kit rendering, the Chat port, Socket Mode and HTTP."""
