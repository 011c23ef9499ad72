"""The inbox: every acknowledged Slack and Discord request, written before the acknowledgement.

Workers claim its rows (FOR UPDATE SKIP LOCKED on PostgreSQL), work them in the order each
person sent them and answer through the row's response_url or interaction token (a DM once
that has expired). Answered rows keep only the platform's request id, to recognise a retry,
and are deleted an hour later.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("respond_to", sa.Text(), nullable=True),
        sa.Column("respond_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", JSON, nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("platform", "request_id", name=op.f("uq_inbox_platform_request_id")),
    )
    op.create_index(op.f("ix_inbox_done_at_next_try"), "inbox", ["done_at", "next_try"])
    op.create_index(
        op.f("ix_inbox_platform_workspace_user_created_at"),
        "inbox",
        ["platform", "workspace", "user", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_platform_workspace_user_created_at"), table_name="inbox")
    op.drop_index(op.f("ix_inbox_done_at_next_try"), table_name="inbox")
    op.drop_table("inbox")
