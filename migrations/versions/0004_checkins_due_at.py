"""Check-ins by due time alone: the digest's week of check-ins without the whole history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_checkins_due_at"), "checkins", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_checkins_due_at"), table_name="checkins")
