"""Working in-memory fakes of the core's ports, for tests that need no database or platform."""

from .memory import (
    FakeClock,
    InboxRequest,
    IntegrityError,
    MemoryChat,
    MemoryStore,
    MemoryUnitOfWork,
    SeqIds,
    Tables,
)

__all__ = [
    "FakeClock",
    "InboxRequest",
    "IntegrityError",
    "MemoryChat",
    "MemoryStore",
    "MemoryUnitOfWork",
    "SeqIds",
    "Tables",
]
