"""Numbers that agreed nowhere (issue 16): analysis pages on sparse data, one rule for "an
incident is at the place", review points per period, the displacement watch's two inputs,
neutral police categories and strengths that need no action."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from locmap.models import Incident
from tests import factories

CAFE = "SRID=4326;POINT(-1.49 52.505)"
CORNER = "SRID=4326;POINT(-1.4995 52.5088)"


def _incidents(session: Session, pilot_id: int, where: str, *days: dt.date) -> None:
    session.execute(insert(Incident), [
        {"pilot_id": pilot_id, "location": where, "time_precision": "exact",
         "occurred_at": dt.datetime(d.year, d.month, d.day, 15, tzinfo=dt.UTC),
         "category": "asb", "severity": 2} for d in days])


def _alert(page: str) -> str:
    m = re.search(r'role="alert"[^>]*>([^<]*)<', page)
    return html.unescape(m.group(1)) if m else ""


def test_impact_page_on_sparse_data_shows_no_interval_instead_of_a_500(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    pid, cafe, park = world.pilot.id, world.places["cafe"].id, world.places["park"].id
    # Three incidents at the cafe, all before the change, one in the control after it:
    # the time series cannot be estimated with intervals.
    _incidents(session, pid, CAFE, dt.date(2024, 3, 3), dt.date(2024, 5, 3),
               dt.date(2024, 9, 3))
    _incidents(session, pid, CORNER, dt.date(2025, 4, 3))
    session.commit()
    auth.login("practitioner@test.invalid")
    for place in (cafe, park):  # park: no incident at it at all
        for query in ("", "?intervention=2025-01-01"):
            r = client.get(f"/pilots/{pid}/places/{place}/impact{query}")
            assert r.status_code == 200, (place, query)
            page = r.get_data(as_text=True)
            assert 'id="area-table"' in page and "None" not in page
    page = client.get(f"/pilots/{pid}/places/{cafe}/impact?intervention=2025-01-01"
                      ).get_data(as_text=True)
    assert "no interval: too few incidents on one side of the date" in page


def test_impact_page_with_no_incidents_at_all_says_what_is_missing(
        client: Any, auth: Any, world: factories.World) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = client.get(f"/pilots/{pid}/places/{world.places['cafe'].id}/impact")
    assert r.status_code == 422
    assert _alert(r.get_data(as_text=True)) == (
        "There are no incidents in this pilot's area to compare.")
    r = client.get(f"/pilots/{pid}/places/{world.places['chat'].id}/impact")
    assert r.status_code == 422 and "no map location" in _alert(r.get_data(as_text=True))
    for url in (f"/pilots/{pid}/displacement", f"/pilots/{pid}/dashboard",
                f"/pilots/{pid}/places/{world.places['cafe'].id}/assessments/new"):
        assert client.get(url).status_code == 200, url
