"""The core's repository ports over an AsyncSession, one module per aggregate; each method is
one SQL statement. What every repository shares lives in `base`."""

from bot.store.repositories.alerts import SqlAlertRepo
from bot.store.repositories.audit import SqlAuditRepo
from bot.store.repositories.checkins import SqlCheckInRepo
from bot.store.repositories.collectives import SqlCollectiveRepo, SqlSpaceRepo
from bot.store.repositories.evidence import SqlEvidenceRepo
from bot.store.repositories.inbox import SqlInboxRepo
from bot.store.repositories.library import SqlLibraryRepo
from bot.store.repositories.members import SqlIdentityRepo, SqlLinkCodeRepo, SqlMemberRepo
from bot.store.repositories.outbox import SqlOutboxRepo
from bot.store.repositories.responses import SqlRalliedRepo, SqlResponseRepo

__all__ = [
    "SqlAlertRepo",
    "SqlAuditRepo",
    "SqlCheckInRepo",
    "SqlCollectiveRepo",
    "SqlEvidenceRepo",
    "SqlIdentityRepo",
    "SqlInboxRepo",
    "SqlLibraryRepo",
    "SqlLinkCodeRepo",
    "SqlMemberRepo",
    "SqlOutboxRepo",
    "SqlRalliedRepo",
    "SqlResponseRepo",
    "SqlSpaceRepo",
]
