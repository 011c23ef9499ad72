"""A fake Discord for the real discord.py: REST, gateway, rate limits, deadlines and faults."""

from tests.fakes.discord.limits import Fault, Limits
from tests.fakes.discord.model import Channel, Guild, Role, Upload, User
from tests.fakes.discord.server import FakeDiscord, Interaction, Ping, Recorded

__all__ = [
    "Channel",
    "FakeDiscord",
    "Fault",
    "Guild",
    "Interaction",
    "Limits",
    "Ping",
    "Recorded",
    "Role",
    "Upload",
    "User",
]
