"""The console adapter: the /rally language on a terminal or a piped script."""
