"""Dates on pages read as people write them ("6 Apr 2025"), never raw ISO (issue 16
"Numbers that disagree or mislead"): the pages this covers showed ``2025-04-06``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import (
    EngagementRecord,
    Incident,
    Person,
    Relationship,
    ReviewPoint,
    SafetyFactor,
)
from locmap.services import accounts, assessments, plans, reviews
from tests import factories

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
MONTH = re.compile(r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])\b")


def _visible(html: str) -> str:
    """The page's text: no scripts, tags (so no attribute or link) or form values."""
    html = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("who, url", [
    ("coordinator", "/"),
    ("coordinator", "/pilots/{pilot}/network"),
    ("coordinator", "/pilots/{pilot}/network/map"),
    ("admin", "/admin"),
    ("admin", "/admin/pilots/{pilot}"),
])
def test_pages_show_no_iso_dates(client: Any, auth: Any, session: Session,
                                 world: factories.World, who: str, url: str) -> None:
    session.add(ReviewPoint(pilot_id=world.pilot.id, number=99, due_on=world.pilot.start_date,
                            held_on=world.pilot.start_date))
    session.commit()
    auth.login(f"{who}@test.invalid")
    r = client.get(url.format(pilot=world.pilot.id))
    assert r.status_code == 200, url
    text = _visible(r.get_data(as_text=True))
    assert not ISO.findall(text), (url, ISO.findall(text)[:5])


# Counts of one read in the singular ("1 incident", never "1 incidents").
_NOUNS = ("incident", "relationship", "adult", "place", "month", "visit", "record", "factor",
          "gap", "action", "review", "map", "area", "group", "child", "contact")


_ONE_PLURAL = re.compile(r"\b1 (?:" + "|".join(_NOUNS) + r")s\b")


def _one_plurals(text: str) -> list[str]:
    return _ONE_PLURAL.findall(text)


def _incident(pilot_id: int, day: dt.date, *, where: str | None = None,
              place_id: int | None = None) -> Incident:
    return Incident(pilot_id=pilot_id, location=where or "SRID=4326;POINT(-1.49 52.505)",
                    place_id=place_id, time_precision="exact", category="asb", severity=2,
                    occurred_at=dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC))


def test_place_person_context_review_and_displacement_pages_read_as_people_write(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    """No ISO dates or months and no "1 …s" on the pages issue 16's audit listed: the
    place page (engagement labels), the person page (date of birth), a context page (its
    incidents by month), the plan diff on the review page, the displacement watch, the
    network (one relationship, one adult) and an assessment's counts."""
    pid, cafe, chat = world.pilot.id, world.places["cafe"], world.places["chat"]
    practitioner = accounts.actor_for(session, world.users["practitioner"])
    engagement = EngagementRecord(pilot_id=pid, held_on=dt.date(2025, 4, 6),
                                  with_group="children", summary="Spoke at the youth club")
    engagement.places.append(cafe)
    session.add(engagement)
    # Ten incidents at the cafe around January 2025 (the displacement watch checks it),
    # one in the ring; one at the online space in the last twelve months.
    session.add_all([_incident(pid, dt.date(2024, m, 3)) for m in range(7, 13)]
                    + [_incident(pid, dt.date(2025, m, 3)) for m in range(1, 5)]
                    + [_incident(pid, dt.date(2025, 2, 1),
                                 where="SRID=4326;POINT(-1.4935 52.5065)"),
                       _incident(pid, clock.today() - dt.timedelta(days=20),
                                 where="SRID=4326;POINT(-1.49 52.505)", place_id=chat.id)])
    # One relationship, one adult.
    adult = Person(pilot_id=pid, pseudonym="AD-001", kind="adult_of_concern", age_band="25+")
    session.add(adult)
    session.flush()
    assert world.person is not None
    session.add(Relationship(pilot_id=pid, person_a_id=world.person.id, person_b_id=adult.id,
                             type="associate", valence="harmful", strength=2,
                             since=dt.date(2025, 2, 1)))
    # Two plan versions whose diff has dates and an action status.
    a = assessments.start_assessment(session, practitioner, pid, cafe.id)
    session.add(SafetyFactor(place_id=cafe.id, assessment_id=a.id, quadrant="risk", weight=3,
                             statement="Dealing near the door", voice="professional"))
    session.flush()
    assessments.submit_assessment(session, practitioner, pid, a.id)
    v1 = plans.create_plan(session, practitioner, pid, a.id, starts_on=dt.date(2025, 1, 6))
    plans.add_action(session, practitioner, v1.id, {
        "description": "Light the door", "category": "do_things_differently",
        "due_on": "2025-03-01"}, pilot_id=pid)
    reviews.submit_plan(session, practitioner, pid, v1.id)
    v2 = plans.new_plan_version(session, practitioner, v1.id)
    v2.starts_on = dt.date(2025, 2, 3)
    act = v2.actions[0]
    act.due_on, act.status = dt.date(2025, 4, 1), "in_progress"
    reviews.submit_plan(session, practitioner, pid, v2.id)
    online = assessments.start_assessment(session, practitioner, pid, chat.id)
    session.commit()
    auth.login("practitioner@test.invalid")  # reads identities; the others read none
    urls = [f"/pilots/{pid}/places/{cafe.id}",
            f"/pilots/{pid}/people/{world.person.id}?identity=1",
            f"/pilots/{pid}/assessments/{online.id}",
            f"/pilots/{pid}/assessments/{a.id}",
            f"/pilots/{pid}/contexts",
            f"/pilots/{pid}/plans/{v2.id}/review",
            f"/pilots/{pid}/displacement?month=2025-01",
            f"/pilots/{pid}/network?as_of=2025-06-01"]
    seen = {}
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        text = _visible(r.get_data(as_text=True))
        seen[url] = text
        assert not ISO.findall(text), (url, ISO.findall(text)[:5])
        assert not MONTH.findall(text), (url, MONTH.findall(text)[:5])
        assert not _one_plurals(text), (url, _one_plurals(text))
        assert "in_progress" not in text, url
    assert "1 May 2010" in seen[urls[1]]  # the date of birth
    assert "6 Apr 2025 · " in seen[urls[0]] or "6 Apr 2025" in seen[urls[0]]
    assert "By month since" in seen[urls[2]]
    review = seen[urls[5]]
    assert "Plan start: 6 Jan 2025 → 3 Feb 2025" in review
    assert "due on 1 Mar 2025 → 1 Apr 2025" in review and "In progress" in review
    assert re.search(r"from (?:January|February) 2025", seen[urls[6]])  # month or plan
    assert "1 relationship" in seen[urls[7]] and "1 adult" in seen[urls[7]]
