"""The light of a site visit, from the sun's elevation (locmap.sun)."""

from __future__ import annotations

import datetime as dt

import pytest

from locmap.clock import LOCAL_TZ
from locmap.sun import light_at, sun_times

COVENTRY = (-1.51, 52.41)


@pytest.mark.parametrize("when, light", [
    (dt.datetime(2025, 12, 10, 12, 0, tzinfo=LOCAL_TZ), "daylight"),
    # Sunset in Coventry on 10 December 2025 is about 15:53; civil dusk ends about 16:35.
    (dt.datetime(2025, 12, 10, 15, 45, tzinfo=LOCAL_TZ), "daylight"),
    (dt.datetime(2025, 12, 10, 16, 10, tzinfo=LOCAL_TZ), "dusk"),
    (dt.datetime(2025, 12, 10, 19, 10, tzinfo=LOCAL_TZ), "dark"),
    # Midsummer: still light at 21:00 BST, dark at 23:30.
    (dt.datetime(2025, 6, 21, 21, 0, tzinfo=LOCAL_TZ), "daylight"),
    (dt.datetime(2025, 6, 21, 23, 30, tzinfo=LOCAL_TZ), "dark"),
])
def test_light_follows_the_sun(when: dt.datetime, light: str) -> None:
    assert light_at(*COVENTRY, when) == light


def test_the_same_instant_in_any_zone_gives_the_same_light() -> None:
    local = dt.datetime(2025, 12, 10, 16, 10, tzinfo=LOCAL_TZ)
    assert light_at(*COVENTRY, local.astimezone(dt.UTC)) == light_at(*COVENTRY, local)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        light_at(*COVENTRY, dt.datetime(2025, 12, 10, 16, 10))


def test_sunrise_and_sunset_in_uk_local_time() -> None:
    times = sun_times(*COVENTRY, dt.date(2025, 12, 10))
    assert times is not None
    rise, down = times
    assert (rise.hour, down.hour) == (8, 15)
    # In summer the clocks go forward: sunset after 21:00 BST.
    _, summer = sun_times(*COVENTRY, dt.date(2025, 6, 21)) or (None, None)
    assert summer is not None and summer.hour == 21 and summer.utcoffset() == dt.timedelta(hours=1)


def test_polar_night_has_no_sun_times() -> None:
    assert sun_times(15.6, 78.2, dt.date(2025, 12, 10)) is None
