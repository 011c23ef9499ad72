"""A fake Slack for the real slack_sdk and Bolt: Web API, Socket Mode, signed inbound requests."""

from tests.fakes.slack.limits import Limits
from tests.fakes.slack.sender import Sent, SlackSender
from tests.fakes.slack.server import Call, FakeSlack, Fault, Posted, User, Workspace

__all__ = [
    "Call",
    "FakeSlack",
    "Fault",
    "Limits",
    "Posted",
    "Sent",
    "SlackSender",
    "User",
    "Workspace",
]
