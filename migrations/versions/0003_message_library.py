"""The message library: entries and their uses; topics on collectives and alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:18:17.406526
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "library_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("collective_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_id", sa.String(length=64), nullable=True),
        sa.Column(
            "topics", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "venues", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "alert_kinds", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "sources", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("approved_by_id", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collective_id"],
            ["collectives.id"],
            name=op.f("fk_library_entries_collective_id_collectives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_entries")),
        sa.UniqueConstraint(
            "collective_id", "number", name=op.f("uq_library_entries_collective_id_number")
        ),
    )
    with op.batch_alter_table("library_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_entries_added_by_id"), ["added_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_library_entries_approved_by_id"), ["approved_by_id"], unique=False
        )

    op.create_table(
        "library_uses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("collective_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_library_uses_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collective_id"],
            ["collectives.id"],
            name=op.f("fk_library_uses_collective_id_collectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["library_entries.id"],
            name=op.f("fk_library_uses_entry_id_library_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_uses")),
        sa.UniqueConstraint(
            "entry_id",
            "alert_id",
            "member_id",
            name=op.f("uq_library_uses_entry_id_alert_id_member_id"),
        ),
    )
    with op.batch_alter_table("library_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_uses_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_library_uses_collective_id_at"), ["collective_id", "at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_library_uses_member_id"), ["member_id"], unique=False)

    # Existing alerts and collectives have no topics: an empty list.
    for table in ("alerts", "collectives"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "topics",
                    sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                    nullable=False,
                    server_default=sa.text("'[]'"),
                )
            )


def downgrade() -> None:
    with op.batch_alter_table("collectives", schema=None) as batch_op:
        batch_op.drop_column("topics")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("topics")

    with op.batch_alter_table("library_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_uses_member_id"))
        batch_op.drop_index(batch_op.f("ix_library_uses_collective_id_at"))
        batch_op.drop_index(batch_op.f("ix_library_uses_alert_id"))

    op.drop_table("library_uses")
    with op.batch_alter_table("library_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_entries_approved_by_id"))
        batch_op.drop_index(batch_op.f("ix_library_entries_added_by_id"))

    op.drop_table("library_entries")
