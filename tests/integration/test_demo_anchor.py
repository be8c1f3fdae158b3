"""The demo town anchored to the day it is loaded: on any day the pilot is part-way, earlier
review points were held with minutes, the next is due, an assessment is approved and a plan
is in review; and one anchor always gives the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import Assessment, Incident, Membership, Pilot, Place, Plan, User
from locmap.services import timeline
from locmap.services.accounts import actor_for
from locmap.services.demo import load_demo
from locmap.timeline import pilot_end


@pytest.mark.parametrize("anchor", [None, dt.date(2026, 12, 1), dt.date(2031, 6, 30)])
def test_the_pilot_is_part_way_on_the_anchor_day(session: Session,
                                                 anchor: dt.date | None) -> None:
    day = anchor or clock.today()
    report = load_demo(session, anchor=anchor)
    pilot = session.scalars(select(Pilot).where(Pilot.name == report.pilot)).one()
    assert pilot.start_date < day < pilot_end(pilot.start_date, pilot.duration_months)
    assert pilot.start_date.weekday() == 0  # whole weeks: it still starts on a Monday
    coordinator = session.scalars(select(User).join(Membership).where(
        Membership.pilot_id == pilot.id, Membership.role == "coordinator")).one()
    points = timeline.list_review_points(session, actor_for(session, coordinator), pilot.id,
                                         today=day)
    statuses = [p["status"] for p in points]
    assert statuses == ["held", "held", "held", "due", "upcoming", "upcoming"]
    due = points[3]["due_on"]
    assert 0 <= (due - day).days <= 14
    for p in points[:3]:
        assert p["due_on"] <= p["held_on"] < day
        detail = timeline.review_point_detail(session, actor_for(session, coordinator),
                                              pilot.id, p["id"], today=day, threshold=5)
        assert detail["minutes"] and detail["decisions"] and detail["attendees"]
    # Nothing has happened after today.
    last = session.scalar(select(Incident.occurred_at).where(Incident.pilot_id == pilot.id)
                          .order_by(Incident.occurred_at.desc()).limit(1))
    assert last is not None and last.astimezone(clock.LOCAL_TZ).date() < day

    rows = session.execute(select(Place.name, Assessment.status, Assessment.approved_at,
                                  Assessment.indicators)
                           .join(Assessment, Assessment.place_id == Place.id)
                           .where(Place.pilot_id == pilot.id)).all()
    assert {(n, s) for n, s, _, _ in rows} == {("Burger Hub", "approved"),
                                               ("Eastbrook Library", "approved")}
    for _, _, approved_at, indicators in rows:
        assert approved_at.astimezone(clock.LOCAL_TZ).date() < day and indicators
    plans = dict(session.execute(
        select(Place.name, Plan.status).join(Assessment, Assessment.id == Plan.assessment_id)
        .join(Place, Place.id == Assessment.place_id).where(Place.pilot_id == pilot.id)).all())
    assert plans == {"Burger Hub": "approved", "Eastbrook Library": "in_review"}


def _dump(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered. Left out: salted password hashes, and the audit
    trail's ``at``, which the database stamps with the real time of the write (the trail
    says when the demo was really loaded, whatever day it is anchored to)."""
    tables = [r[0] for r in conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT IN ('alembic_version', 'spatial_ref_sys') ORDER BY tablename"))]
    out = {}
    for t in tables:
        cols = [r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = :t AND column_name <> 'password_hash' "
            # The time of each audit event, and the chain's hashes that cover it.
            "AND NOT (table_name = 'audit_event' AND column_name IN ('at', 'hash', 'prev_hash')) "
            "ORDER BY ordinal_position"),
            {"t": t})]
        sel = ", ".join(f'"{c}"::text' for c in cols)
        rows = conn.execute(text(f'SELECT {sel} FROM "{t}"'))  # noqa: S608 - catalogue names
        out[t] = sorted((tuple(r) for r in rows), key=lambda r: [(v is None, v or "") for v in r])
    return out


def _sequences(conn: Connection) -> list[tuple[str, int, bool]]:
    names = [r[0] for r in conn.execute(text(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))]
    return [(n, *conn.execute(text(f'SELECT last_value, is_called FROM "{n}"')).one())
            for n in names]


def _load_and_dump(connection: Connection, anchor: dt.date) -> dict[str, list[tuple[Any, ...]]]:
    sequences = _sequences(connection)
    savepoint = connection.begin_nested()
    try:
        with Session(bind=connection) as s:
            load_demo(s, anchor=anchor)
            s.flush()
            return _dump(connection)
    finally:
        savepoint.rollback()
        # Sequences ignore rollbacks: put them back so the next load gets the same ids.
        for name, value, called in sequences:
            connection.execute(text("SELECT setval(:n, :v, :c)"),
                               {"n": name, "v": value, "c": called})


@pytest.fixture
def owner_connection(database_url: str) -> Iterator[Connection]:
    """Resetting sequences (setval) is the owner's right, not the app's."""
    from sqlalchemy import create_engine

    from locmap.pgserver import OWNER_ROLE, role_url

    engine = create_engine(role_url(database_url, OWNER_ROLE))
    try:
        with engine.connect() as conn:
            outer = conn.begin()
            yield conn
            outer.rollback()
    finally:
        engine.dispose()


def test_one_anchor_gives_the_same_rows_byte_for_byte(owner_connection: Connection) -> None:
    connection = owner_connection
    anchor = dt.date(2028, 3, 15)
    first = _load_and_dump(connection, anchor)
    assert len(first["incident"]) > 2000 and first["review"]
    assert first == _load_and_dump(connection, anchor)
    later = _load_and_dump(connection, dt.date(2028, 3, 22))  # a week on: every date moves
    assert later["incident"] != first["incident"]
