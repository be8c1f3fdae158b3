"""map cell counts at zoom 14

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07

Issue 13 (load). Under 50 users the zoom-14 incident tiles took 76 of PostgreSQL's 85
CPU-seconds a minute: the neighbourhood view (Leaflet zoom 15 asks for 512-px tiles of
zoom 14) and every partner tile from zoom 14 on (partners see cells no finer than zoom 14's
grid) counted up to ~100,000 incidents per tile, because ``map_cell_count`` (revision
0008) stopped at zoom 13. This revision counts zoom 14 as well: the trigger functions now
work out each incident's cell at zoom 14 and roll it up to 13 … 6 as before, and the
existing incidents are counted once at zoom 14. Downgrading deletes the zoom-14 rows and
puts 0008's functions back.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

# Keep in step with locmap.queries.incidents.AGG_ZOOMS.
MAP_CELL_ZOOMS = range(6, 15)
BEFORE = range(6, 14)


def _revision_0008() -> ModuleType:
    """Revision 0008, whose SQL this one generates at another finest zoom."""
    path = Path(__file__).with_name("0008_map_cell_count.py")
    spec = importlib.util.spec_from_file_location("locmap_revision_0008", path)
    assert spec is not None and spec.loader is not None  # noqa: S101 - the file is ours
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    r0008 = _revision_0008()
    op.execute(r0008.counting_functions(MAP_CELL_ZOOMS, "CREATE OR REPLACE"))
    finest = range(MAP_CELL_ZOOMS[-1], MAP_CELL_ZOOMS[-1] + 1)
    op.execute(f"INSERT INTO map_cell_count ({r0008._KEY}, n, sx, sy) "
               f"{r0008._delta('incident', '+', finest)} ORDER BY 1, 2, 3, 4, 5, 6, 7")


def downgrade() -> None:
    r0008 = _revision_0008()
    op.execute(r0008.counting_functions(BEFORE, "CREATE OR REPLACE"))
    op.execute(f"DELETE FROM map_cell_count WHERE zoom > {BEFORE[-1]}")  # noqa: S608
