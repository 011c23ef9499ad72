"""On PostgreSQL, a new or released inbox row wakes every listening worker at once.

A statement-level trigger sends NOTIFY rallybot_inbox when rows are inserted (an
acknowledged request) or their next try moves (a Discord row released, a retry): PostgreSQL
delivers it at commit, once per transaction. Workers LISTEN and claim at once instead of at
their next poll; the poll stays as the safety net. Nothing on SQLite, where one process
writes and works.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION rallybot_inbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('rallybot_inbox', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER inbox_notify
        AFTER INSERT OR UPDATE OF next_try ON inbox
        FOR EACH STATEMENT EXECUTE FUNCTION rallybot_inbox_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_notify ON inbox")
    op.execute("DROP FUNCTION IF EXISTS rallybot_inbox_notify()")
