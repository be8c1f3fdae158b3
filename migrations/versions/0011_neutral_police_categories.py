"""neutral harm categories for police open data

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Issue 16: police open data has no ages, so its "Violence and sexual offences" and
"Robbery" are no longer mapped to "serious youth violence" by default but to two new,
neutral harm categories, ``violence_and_sexual_offences`` and ``robbery``; the coordinator
decides whether to count them as serious youth violence. The CHECK constraints of
``incident`` and ``crime_type_mapping`` accept the two words. Existing rows are left as
they are (a pilot's mapping may be its coordinator's choice: the crime-types page changes
it). Downgrading maps the two words back to ``serious_youth_violence``, the old default.
"""

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_OLD = ("'cse', 'cce', 'trafficking', 'missing', 'serious_youth_violence', 'asb', 'drugs', "
        "'weapons', 'peer_on_peer', 'radicalisation', 'online_harm', 'other'")
_NEW = _OLD + ", 'violence_and_sexual_offences', 'robbery'"
_TABLES = ("incident", "crime_type_mapping")


def _check(words: str) -> None:
    for table in _TABLES:
        name = op.f(f"ck_{table}_category_vocab")
        op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(name, table, f"category IN ({words})")


def upgrade() -> None:
    _check(_NEW)


def downgrade() -> None:
    for table in _TABLES:  # constant table names only
        op.execute(f"UPDATE {table} SET category = 'serious_youth_violence' "  # noqa: S608
                   "WHERE category IN ('violence_and_sexual_offences', 'robbery')")
    _check(_OLD)
