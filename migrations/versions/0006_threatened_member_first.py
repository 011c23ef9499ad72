"""Issue 17: the target's crowd choice and last notice, a lead taking an alert on, and
check-ins asked together.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_choice_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("target_told_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("taken_by_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_checkins_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_group_id"))
        batch_op.drop_column("group_id")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("taken_by_id")
        batch_op.drop_column("target_told_at")
        batch_op.drop_column("target_choice_at")
