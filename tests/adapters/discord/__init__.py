"""The Discord adapter with the real discord.py against the fake Discord in tests/fakes."""

import warnings

with warnings.catch_warnings():
    # discord.py imports audioop for voice, deprecated since Python 3.11 (rallybot has no
    # voice); the suite turns warnings into errors, so import it once with this one muted.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401
