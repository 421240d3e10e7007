"""Outbox: the replies of a stored turn until Telegram has them (written with the turn, then cleared).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.BigInteger(), primary_key=True),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbox_chat_id", "outbox", ["chat_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat_id", table_name="outbox")
    op.drop_table("outbox")
