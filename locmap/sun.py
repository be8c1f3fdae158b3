"""Daylight at a place and time, from the sun's position (astral).

A site visit records the light it was made in. Left to the form's default, a visit at
19:10 in December was recorded as "daylight"; the sun knows better. The light is read
from the sun's elevation at the place's centre: above the horizon (allowing for
refraction and the sun's radius, -0.833°, the definition of sunrise and sunset) it is
daylight; down to -6° (civil twilight, when street lights come on) it is dusk; below
that it is dark.
"""

from __future__ import annotations

import datetime as dt

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from locmap.clock import LOCAL_TZ

__all__ = ["HORIZON", "CIVIL_TWILIGHT", "light_at", "sun_times"]

HORIZON = -0.833
CIVIL_TWILIGHT = -6.0


def light_at(lon: float, lat: float, when: dt.datetime) -> str:
    """``daylight``, ``dusk`` or ``dark`` at (lon, lat) at the aware time ``when``."""
    if when.tzinfo is None:
        raise ValueError("light_at needs an aware datetime")
    height = elevation(Observer(latitude=lat, longitude=lon), when.astimezone(dt.UTC))
    if height > HORIZON:
        return "daylight"
    if height > CIVIL_TWILIGHT:
        return "dusk"
    return "dark"


def sun_times(lon: float, lat: float, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    """Sunrise and sunset at (lon, lat) on ``day`` in UK local time; None where the sun
    does not rise or set that day (never in the UK, but the function is general).
    """
    where = Observer(latitude=lat, longitude=lon)
    try:
        return (sunrise(where, day, tzinfo=LOCAL_TZ), sunset(where, day, tzinfo=LOCAL_TZ))
    except ValueError:
        return None
