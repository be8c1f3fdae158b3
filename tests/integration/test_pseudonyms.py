"""Pseudonyms are never reused within a pilot, even after erasure (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from locmap.db import downgrade, upgrade
from locmap.pgserver import drop_database
from locmap.services import accounts, network, people
from tests.conftest import _fresh_database
from tests.factories import World


def _team(session: Session, world: World) -> accounts.Actor:
    who = accounts.actor_for(session, world.users["peer_assessor"])
    network.set_purpose(session, who, world.pilot.id, purpose="Synthetic test purpose",
                        lawful_basis="Public task (test)")
    return who


def test_an_erased_pseudonym_is_never_issued_again(session: Session, world: World) -> None:
    who = _team(session, world)
    pid = world.pilot.id
    first = people.create_person(session, who, pid, kind="young_person")
    second = people.create_person(session, who, pid, kind="young_person")
    assert (first.pseudonym, second.pseudonym) == ("YP-002", "YP-003")  # YP-001 is the world's
    people.delete_person(session, who, pid, second.id)
    third = people.create_person(session, who, pid, kind="young_person")
    assert third.pseudonym == "YP-004"
    adult = people.create_person(session, who, pid, kind="adult_of_concern")
    assert adult.pseudonym.endswith("-001")  # each prefix counts on its own
    # Another pilot's numbers are its own.
    other = accounts.actor_for(session, world.users["outsider"])
    network.set_purpose(session, other, world.other_pilot.id, purpose="Synthetic purpose",
                        lawful_basis="Public task (test)")
    assert people.create_person(session, other, world.other_pilot.id,
                                kind="young_person").pseudonym == "YP-001"


def test_people_written_directly_raise_the_counter_too(session: Session, world: World) -> None:
    """The demo loader and imports insert people without the service: the trigger counts."""
    who = _team(session, world)
    session.execute(text("INSERT INTO person (pilot_id, pseudonym, kind, age_band, version) "
                         "VALUES (:p, 'YP-040', 'young_person', 'unknown', 1)"),
                    {"p": world.pilot.id})
    session.execute(text("DELETE FROM person WHERE pseudonym = 'YP-040'"))
    assert people.create_person(session, who, world.pilot.id,
                                kind="young_person").pseudonym == "YP-041"


@pytest.fixture
def url_at_0005() -> Iterator[str]:
    url = _fresh_database("pseud")
    upgrade(url, "0005")
    yield url
    drop_database(url)


def test_the_migration_seeds_counters_from_existing_people(url_at_0005: str) -> None:
    eng = create_engine(url_at_0005)
    try:
        with eng.begin() as c:
            pid = c.execute(text(
                "INSERT INTO pilot (name, description, locality, start_date, duration_months, "
                "review_interval_months, status, approval_rule, version) VALUES ('Seed', '', "
                "ST_Multi(ST_MakeEnvelope(-1.5, 52.5, -1.49, 52.51, 4326)), '2025-01-06', 18, "
                "3, 'active', 'all_named', 1) RETURNING id")).scalar_one()
            for p in ("YP-007", "YP-012", "AD-003", "legacy name"):
                c.execute(text("INSERT INTO person (pilot_id, pseudonym, kind, age_band, "
                               "version) VALUES (:p, :s, 'young_person', 'unknown', 1)"),
                          {"p": pid, "s": p})
        upgrade(url_at_0005, "0006")
        with eng.connect() as c:
            rows = dict(c.execute(text("SELECT prefix, last_number FROM pseudonym_counter "
                                       "WHERE pilot_id = :p"), {"p": pid}).all())
            people_after = c.execute(text("SELECT count(*) FROM person")).scalar_one()
        assert rows == {"YP": 12, "AD": 3}
        assert people_after == 4  # nothing lost on the way
        downgrade(url_at_0005, "0005")
        with eng.connect() as c:
            assert c.execute(text("SELECT to_regclass('pseudonym_counter')")).scalar() is None
            assert c.execute(text("SELECT count(*) FROM person")).scalar_one() == 4
    finally:
        eng.dispose()
