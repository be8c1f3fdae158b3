"""The one clock: moved by LOCMAP_CLOCK or set_clock, frozen in tests, London dates."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from locmap import clock


@pytest.fixture(autouse=True)
def _restore() -> object:
    yield
    clock.reset_clock()


def test_set_clock_moves_now_and_today_and_time_keeps_running() -> None:
    clock.set_clock("2031-06-30")
    first = clock.now()
    assert first.astimezone(clock.LOCAL_TZ).date() == dt.date(2031, 6, 30)
    assert first.tzinfo is not None and first.utcoffset() == dt.timedelta(0)
    second = clock.now()
    assert second >= first  # an offset, not a frozen instant


def test_frozen_stops_the_clock_and_restores_it() -> None:
    before = clock.now()
    with clock.frozen("2030-01-15T23:30:00+00:00") as at:
        assert clock.now() == at == clock.now()
        assert clock.today() == dt.date(2030, 1, 15)  # GMT in January
    assert abs(clock.now() - before) < dt.timedelta(minutes=5)


def test_today_is_the_london_date_not_the_utc_date() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
    with clock.frozen("2031-06-30T23:30:00+00:00"):
        assert clock.today() == dt.date(2031, 7, 1)
        assert clock.now().date() == dt.date(2031, 6, 30)


def test_a_date_keeps_the_real_time_of_day() -> None:
    real = dt.datetime.now(clock.LOCAL_TZ)
    moved = clock.parse_clock("2031-06-30").astimezone(clock.LOCAL_TZ)
    assert moved.date() == dt.date(2031, 6, 30)
    assert abs((moved.hour * 60 + moved.minute) - (real.hour * 60 + real.minute)) <= 61


def test_the_environment_moves_a_whole_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from locmap import clock; print(clock.today())"],
        env={"LOCMAP_CLOCK": "2031-06-30", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "2031-06-30"


def test_a_bad_clock_is_refused_with_a_clear_message() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import locmap.clock"],
        env={"LOCMAP_CLOCK": "next tuesday", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )
    assert out.returncode != 0
    assert "LOCMAP_CLOCK must be an ISO date or timestamp" in out.stderr


def test_no_module_reads_the_machine_clock_directly() -> None:
    """Every now/today goes through locmap.clock (the seam tests and the demo move)."""
    from pathlib import Path

    import locmap

    root = Path(locmap.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "clock.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("date.today()", "datetime.now(", "datetime.utcnow(", "datetime.today("):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
