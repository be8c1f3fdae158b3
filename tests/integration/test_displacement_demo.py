"""The demo town's story through the displacement watch and the impact measures:
Burger Hub turns its WiFi off (2025-01-01 in the files, moved with the demo's anchor) and
the harm, and groups A and B, move to the library ~350 m away. The story must hold
whatever day the demo is loaded on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import Membership, Pilot, Place, User
from locmap.services.accounts import actor_for
from locmap.services.demo import load_demo
from locmap.services.displacement import watch
from locmap.services.impact import place_impact

WIFI_OFF = dt.date(2025, 1, 1)  # in the files (geodata/make_demo.py)
FIRST_DAY = dt.date(2024, 1, 1)


@pytest.fixture(params=["today", "2031-06-30", "2027-02-28"])
def demo(session: Session, request: pytest.FixtureRequest) -> dict[str, Any]:
    anchor = clock.today() if request.param == "today" else dt.date.fromisoformat(request.param)
    report = load_demo(session, anchor=anchor)
    assert report.shift is not None
    session.flush()
    pilot = session.scalars(select(Pilot).where(Pilot.name.like("Eastbrook%"))).one()
    places = {p.name: p for p in session.scalars(select(Place).where(Place.pilot_id == pilot.id))}
    coord = session.scalars(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.pilot_id == pilot.id, Membership.role == "coordinator")).first()
    return {"pilot": pilot, "places": places, "actor": actor_for(session, coord, None),
            "shift": report.shift, "wifi_off": report.shift.date(WIFI_OFF)}


def test_demo_burger_hub_to_library_is_flagged_with_moved_pseudonyms(
        session: Session, demo: dict[str, Any]) -> None:
    wifi_off = demo["wifi_off"]
    out = watch(session, demo["actor"], demo["pilot"].id, month=wifi_off)
    # Burger Hub's plan starts on the day its WiFi went off, so the watch scans it from then
    # (places without a plan are watched around the month set, at the same time).
    assert out["selection"] in ("plans", "plans_and_incidents")
    labels = {f["label"]: f for f in out["flags"]}
    flag = labels["Burger Hub → Eastbrook Library"]
    assert flag["month"] == f"{wifi_off:%Y-%m}"
    # The story: ~60% drop at Burger Hub, ~2.8x at the library, the control flat.
    w = flag["wdq"]
    assert w["success_measure"] < 0 and -1 < w["wdq"] < 0
    assert w["band"] == "displacement_less_than_benefit"
    assert w["buffer"]["count_after"] > 2 * w["buffer"]["count_before"]
    assert flag["source_level_change"]["ci_high"] < 1 < flag["dest_level_change"]["ci_low"]
    # Nothing is flagged *from* the library: it rose, it did not drop.
    assert not any(f["source"]["name"] == "Eastbrook Library" for f in out["flags"])
    # Groups A and B moved (YP-001..022); group C was at the library all along.
    moved = {m["pseudonym"] for m in flag["moved_people"] if m["kind"] == "young_person"}
    assert moved == {f"YP-{i:03d}" for i in range(1, 23)}


def test_demo_impact_of_burger_hub(session: Session, demo: dict[str, Any]) -> None:
    out = place_impact(session, demo["actor"], demo["pilot"].id,
                       demo["places"]["Burger Hub"].id, intervention=demo["wifi_off"])
    wifi_off, shift = demo["wifi_off"], demo["shift"]
    assert out["intervention"] == {"date": wifi_off.isoformat(), "month": f"{wifi_off:%Y-%m}",
                                   "source": "user"}
    # Two years of data; month-precision rows move by whole months, timed ones by weeks,
    # so the first and last months may be only partly covered.
    first = min(shift.month(FIRST_DAY), shift.date(FIRST_DAY).replace(day=1))
    assert out["months"][0] == f"{first:%Y-%m}" and len(out["months"]) in (24, 25)
    t = out["wdq"]["target"]
    assert t["count_after"] < 0.55 * t["count_before"]  # about 60% down
    assert out["wdq"]["band"] == "displacement_less_than_benefit"  # the library is in the ring
    assert out["its"]["level_change"]["ci_high"] < 1
    assert any("36 months" in x for x in out["limits"])
