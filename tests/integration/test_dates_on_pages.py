"""Dates on pages read as people write them ("6 Apr 2025"), never raw ISO (issue 16
"Numbers that disagree or mislead"): the pages this covers showed ``2025-04-06``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from locmap.models import ReviewPoint
from tests import factories

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


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
