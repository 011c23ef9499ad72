"""Uninstall, secrets at rest, channel checks and fast recovery.

spaces.removed_at and spaces.delete_at: a platform removed rallybot from the space, and when
its data goes. spaces.check_at, check_digest and check_told_at: the daily check of who can
read the rally and leads channels. outbox.claimed_by: the worker holding a row's lease, so a
restarted worker takes its rows back at once. Slack's token columns hold encrypted tokens,
longer than the 200 characters slack_sdk gives them; OAuth states are found by expiry.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


def upgrade() -> None:
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delete_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("check_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("check_told_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_spaces_delete_at"), ["delete_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_spaces_check_at"), ["check_at"], unique=False)
    # Every space already set up gets its first check on the next tick.
    op.execute(sa.text("UPDATE spaces SET check_at = CURRENT_TIMESTAMP"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
    for table, columns in TOKENS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=200),
                    type_=sa.Text(),
                    existing_nullable=True,
                )
    op.create_index(
        "ix_slack_oauth_states_expire_at", "slack_oauth_states", ["expire_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_slack_oauth_states_expire_at", table_name="slack_oauth_states")
    for table, columns in TOKENS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.Text(),
                    type_=sa.String(length=200),
                    existing_nullable=True,
                )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spaces_check_at"))
        batch_op.drop_index(batch_op.f("ix_spaces_delete_at"))
        batch_op.drop_column("check_told_at")
        batch_op.drop_column("check_digest")
        batch_op.drop_column("check_at")
        batch_op.drop_column("delete_at")
        batch_op.drop_column("removed_at")
