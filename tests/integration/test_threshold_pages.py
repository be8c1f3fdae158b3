"""The partnership's suppression threshold (``LOCMAP_SUPPRESSION_THRESHOLD``) holds on
every page that shows a partner the places' incident counts, not the services' old
default of 5: the network map once showed 7 incidents as "about 5" when the
partnership withholds counts below 15.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from locmap.models import Incident
from tests import factories


def _places_on_the_page(html: str) -> dict[str, dict[str, Any]]:
    found = re.search(r'<script type="application/json" id="network-map-data">(.*?)</script>',
                      html, re.S)
    assert found, "no map data on the page"
    data = json.loads(found.group(1))
    return {f["properties"]["name"]: f["properties"] for f in data["places"]["features"]}


def test_the_network_map_withholds_below_the_configured_threshold(
        client: Any, auth: Any, app: Any, session: Session, world: factories.World) -> None:
    pid, cafe = world.pilot.id, world.places["cafe"]
    t0 = dt.datetime(2025, 1, 2, 16, tzinfo=dt.UTC)  # long before any partner's quarter end
    session.add_all(Incident(pilot_id=pid, location=from_shape(Point(-1.49, 52.505), srid=4326),
                             occurred_at=t0 + dt.timedelta(days=3 * i), time_precision="exact",
                             category="asb", severity=2) for i in range(7))
    session.commit()
    url = f"/pilots/{pid}/network/map"
    auth.login(world.users["partner_reviewer"].email)
    assert _places_on_the_page(client.get(url).get_data(as_text=True))[cafe.name][
        "incidents_label"] == "about 5"  # the default threshold: 7 rounds to 5
    app.config["LOCMAP_SUPPRESSION_THRESHOLD"] = 15
    shown = _places_on_the_page(client.get(url).get_data(as_text=True))[cafe.name]
    assert shown["incidents_label"] == "fewer than 15" and shown["incidents"] is None


def test_partner_notes_name_the_configured_threshold(
        client: Any, auth: Any, app: Any, session: Session, world: factories.World) -> None:
    """The note under a partner's review point says which counts are withheld: 1 to 4 by
    default, 1 to 14 where the partnership withholds counts below 15."""
    from locmap.services import accounts, timeline

    pid = world.pilot.id
    coord = accounts.actor_for(session, world.users["coordinator"])
    first = timeline.list_review_points(session, coord, pid)[0]["id"]
    url = f"/pilots/{pid}/review-points/{first}"
    auth.login(world.users["partner_reviewer"].email)
    assert "counts from 1 to 4," in client.get(url).get_data(as_text=True)
    app.config["LOCMAP_SUPPRESSION_THRESHOLD"] = 15
    page = client.get(url).get_data(as_text=True)
    assert "counts from 1 to 14," in page and "1 to 4" not in page
