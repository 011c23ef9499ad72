"""On PostgreSQL, wake the workers only for an inbox row they can claim now.

0011's statement-level trigger sent NOTIFY rallybot_inbox for every INSERT and every change of
next_try: a Discord interaction written held (before its deferral) and a retry put off to
later woke every listening worker for a claim that found nothing, beside the acknowledgements
they compete with for the CPU. Two row-level triggers now notify when a row is written due
(next_try no later than created_at, both from the writer's clock) or its next try moves
earlier (a held row released). PostgreSQL delivers one notification per transaction for the
same channel and payload, however many rows fire it. A held row that is never released is
found by the workers' poll when its hold ends, as before. Nothing on SQLite.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_notify ON inbox")
    op.execute(
        """
        CREATE TRIGGER inbox_notify_due
        AFTER INSERT ON inbox
        FOR EACH ROW WHEN (NEW.next_try <= NEW.created_at)
        EXECUTE FUNCTION rallybot_inbox_notify()
        """
    )
    op.execute(
        """
        CREATE TRIGGER inbox_notify_sooner
        AFTER UPDATE OF next_try ON inbox
        FOR EACH ROW WHEN (NEW.next_try < OLD.next_try)
        EXECUTE FUNCTION rallybot_inbox_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_notify_sooner ON inbox")
    op.execute("DROP TRIGGER IF EXISTS inbox_notify_due ON inbox")
    op.execute(
        """
        CREATE TRIGGER inbox_notify
        AFTER INSERT OR UPDATE OF next_try ON inbox
        FOR EACH STATEMENT EXECUTE FUNCTION rallybot_inbox_notify()
        """
    )
