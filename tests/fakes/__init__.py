"""Working in-memory fakes of the core's ports, for tests that need no database or platform."""

from .memory import (
    FakeClock,
    IntegrityError,
    MemoryChat,
    MemoryStore,
    MemoryUnitOfWork,
    SeqIds,
    Tables,
)

__all__ = [
    "FakeClock",
    "IntegrityError",
    "MemoryChat",
    "MemoryStore",
    "MemoryUnitOfWork",
    "SeqIds",
    "Tables",
]
