"""Privacy: whom an unsent message is about, and the idle clock of open alerts.

outbox.about holds the ids of the members a message mentions or names and of the things its
key names, so forget-me finds the unsent messages about a person; alerts.idle_notice_at and
alerts.kept_open_at drive the closing of alerts left open with no activity.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle_notice_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("kept_open_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("about", JSON, server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("about")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("kept_open_at")
        batch_op.drop_column("idle_notice_at")
