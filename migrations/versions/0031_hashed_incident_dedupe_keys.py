"""police dedupe keys hashed

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07

Issue 15 (retention). A police import keyed each incident by ``police:<Crime ID>``, so the
police reference that the retention rule ``incident_text_months`` clears from
``external_ref`` stayed in ``dedupe_key``. Imports now key by ``sha256:`` and the SHA-256
of that same text (``locmap.io.police``), and retention hashes any plain key it finds; this
revision rewrites the keys already stored, so re-importing a month still adds nothing.

Downgrading leaves the keys hashed: a hash cannot be turned back into the reference. The
older import would then add again the crimes it imported before (their keys no longer
match); restore a backup rather than downgrade a database with imported police data.
"""

from __future__ import annotations

from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE incident SET dedupe_key = 'sha256:' || "
        "encode(sha256(convert_to(dedupe_key, 'UTF8')), 'hex') "
        "WHERE dedupe_key LIKE 'police:%'"
    )


def downgrade() -> None:
    pass  # one-way: see the docstring
