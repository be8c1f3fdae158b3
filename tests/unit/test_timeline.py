import datetime as dt

import pytest

from locmap.timeline import add_months, pilot_end, review_dates


def test_an_18_month_pilot_has_six_quarterly_reviews() -> None:
    dates = review_dates(dt.date(2025, 1, 6), 18, 3)
    assert dates == [dt.date(2025, 4, 6), dt.date(2025, 7, 6), dt.date(2025, 10, 6),
                     dt.date(2026, 1, 6), dt.date(2026, 4, 6), dt.date(2026, 7, 6)]
    assert dates[-1] == pilot_end(dt.date(2025, 1, 6), 18)


def test_month_ends_are_clamped() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 11, 30), 3) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 3, 15), -3) == dt.date(2024, 12, 15)


def test_bad_timeline_is_refused() -> None:
    with pytest.raises(ValueError):
        review_dates(dt.date(2025, 1, 1), 0, 3)
