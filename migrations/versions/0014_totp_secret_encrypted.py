"""TOTP secrets encrypted at rest

Revision ID: 0014
Revises: 0018
Create Date: 2026-12-06

Issue 14: ``user_account.totp_secret`` held each user's base32 secret in the clear, so a
database dump (or a read-only role) was enough to compute anyone's codes. It now holds a
Fernet token under a key derived from the app's secret key (:mod:`locmap.crypto`); the
column widens to fit it. Upgrading encrypts the secrets already there, downgrading decrypts
them back — both need the same secret key as the app (``SECRET_KEY`` or the key file in the
data folder, which backups carry). A value that is already encrypted (or, downgrading, one
that is not) is left alone, so either step can be run again.
"""

from alembic import op
import sqlalchemy as sa

from locmap.config import load_settings
from locmap.crypto import FieldBox, Unreadable

revision = '0014'
down_revision = '0018'
branch_labels = None
depends_on = None


def _box() -> FieldBox:
    return FieldBox(load_settings().secret_key)


def _rows() -> list[tuple[int, str]]:
    return [(int(r[0]), str(r[1])) for r in op.get_bind().execute(sa.text(
        "SELECT id, totp_secret FROM user_account WHERE totp_secret IS NOT NULL"))]


def _write(user_id: int, value: str | None) -> None:
    op.get_bind().execute(sa.text("UPDATE user_account SET totp_secret = :v WHERE id = :id"),
                          {"v": value, "id": user_id})


def upgrade() -> None:
    op.alter_column('user_account', 'totp_secret', type_=sa.String(length=512),
                    existing_type=sa.String(length=64), existing_nullable=True)
    box = _box()
    for user_id, value in _rows():
        if not FieldBox.is_encrypted(value):
            _write(user_id, box.encrypt(value))


def downgrade() -> None:
    box = _box()
    for user_id, value in _rows():
        if FieldBox.is_encrypted(value):
            try:
                plain: str | None = box.decrypt(value)
            except Unreadable:
                plain = None  # another key's secret: two-factor must be set up again
                op.get_bind().execute(sa.text(
                    "UPDATE user_account SET totp_enabled_at = NULL, totp_last_step = NULL "
                    "WHERE id = :id"), {"id": user_id})
            _write(user_id, plain)
    op.alter_column('user_account', 'totp_secret', type_=sa.String(length=64),
                    existing_type=sa.String(length=512), existing_nullable=True)
