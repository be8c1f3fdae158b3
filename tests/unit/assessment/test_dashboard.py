"""The dashboard's counting rules, checked on records built so the answer is known."""

from __future__ import annotations

import datetime as dt

import pytest

from locmap.assessment.dashboard import (
    UNKNOWN_DISTRICT,
    YoungPersonRecord,
    crosstab,
    dashboard_links,
    dashboard_tables,
    last_quarter_end,
    one_month_before,
    partner_quarter_end,
    publish,
    publish_all,
    quarter_ends,
    risk_assessment_status,
)

AS_OF = dt.date(2026, 11, 22)
CATS = ("cse_1", "cce", "none")
STATUSES = ("open_case", "not_open")


def yp(cat: str | None, dist: str | None, *, status: str | None = "open_case",
       last: dt.date | None = None, recorded: dt.date = dt.date(2025, 2, 1)) -> YoungPersonRecord:
    return YoungPersonRecord(cat, status, last, recorded, dist)


def tables(records: list[YoungPersonRecord], **kw: object) -> dict[str, object]:
    out = dashboard_tables(records, as_of=AS_OF, pilot_start=dt.date(2025, 1, 6),
                           districts=("North", "South"), categories=CATS,
                           case_statuses=STATUSES, **kw)  # type: ignore[arg-type]
    return {t.key: t for t in out}


def test_one_month_before_clamps_to_month_end_and_crosses_years() -> None:
    assert one_month_before(dt.date(2026, 3, 31)) == dt.date(2026, 2, 28)
    assert one_month_before(dt.date(2024, 3, 30)) == dt.date(2024, 2, 29)
    assert one_month_before(dt.date(2026, 1, 10)) == dt.date(2025, 12, 10)


def test_risk_assessment_window_is_the_month_up_to_and_including_as_of() -> None:
    assert risk_assessment_status(dt.date(2026, 10, 22), AS_OF) == "up_to_date"
    assert risk_assessment_status(AS_OF, AS_OF) == "up_to_date"
    assert risk_assessment_status(dt.date(2026, 10, 21), AS_OF) == "overdue"
    assert risk_assessment_status(dt.date(2026, 11, 23), AS_OF) == "overdue"  # not known yet
    assert risk_assessment_status(None, AS_OF) == "not_recorded"


def test_quarter_ends_start_at_the_pilot_and_stop_at_as_of() -> None:
    assert quarter_ends(dt.date(2025, 1, 6), dt.date(2025, 9, 29)) == [
        dt.date(2025, 3, 31), dt.date(2025, 6, 30)]
    assert quarter_ends(dt.date(2025, 1, 6), dt.date(2025, 9, 30))[-1] == dt.date(2025, 9, 30)
    ends = quarter_ends(dt.date(2020, 1, 1), AS_OF, limit=8)
    assert len(ends) == 8 and ends[-1] == dt.date(2026, 9, 30) and ends[0] == dt.date(2024, 12, 31)
    with pytest.raises(ValueError, match="limit"):
        quarter_ends(AS_OF, AS_OF, limit=0)


def test_crosstab_counts_and_refuses_unknown_cells() -> None:
    assert crosstab([("a", "x"), ("a", "x"), ("b", "y")], ["a", "b"], ["x", "y"]) == (
        (2, 0), (0, 1))
    with pytest.raises(ValueError, match="not a cell"):
        crosstab([("c", "x")], ["a", "b"], ["x", "y"])


def test_tables_by_construction() -> None:
    records = (
        [yp("cse_1", "North")] * 3 + [yp("cce", "South", status="not_open")] * 7
        + [yp("cce", None)] * 2 + [yp(None, "North", status=None)]
        + [yp("none", "South", recorded=dt.date(2026, 12, 1))]  # after as_of: not counted
    )
    t = tables(records)
    by_d = t["by_district"]
    assert by_d.col_labels == ("North", "South", UNKNOWN_DISTRICT)  # type: ignore[attr-defined]
    assert by_d.row_labels == ("cse_1", "cce", "none", "not_recorded")  # type: ignore[attr-defined]
    assert by_d.counts == ((3, 0, 0), (0, 7, 2), (0, 0, 0), (1, 0, 0))  # type: ignore[attr-defined]
    by_s = t["by_case_status"]
    assert by_s.counts == ((3, 0, 0), (2, 7, 0), (0, 0, 0), (0, 0, 1))  # type: ignore[attr-defined]


def test_risk_assessment_table_and_percentages() -> None:
    fresh, stale = dt.date(2026, 11, 1), dt.date(2026, 6, 1)
    records = [yp("cce", "North", last=fresh)] * 6 + [yp("cce", "North", last=stale)] * 6 \
        + [yp("cce", "South", last=fresh)] * 2 + [yp("none", "South")] * 8
    ra = tables(records)["risk_assessment"]
    assert ra.counts == ((6, 6, 0), (2, 0, 8))  # type: ignore[attr-defined]
    exact = publish(ra, suppressed=False, threshold=5)  # type: ignore[arg-type]
    assert exact.percent_column == ("50%", "20%", "36%")
    partner = publish(ra, suppressed=True, threshold=5)  # type: ignore[arg-type]
    # South's 2 up-to-date is withheld, so South's percentage is too.
    assert partner.table.display[1][0] == "[c]"
    assert partner.percent_column is not None and partner.percent_column[1] == "–"
    assert "<5" not in "".join(partner.percent_column)


def test_trend_counts_people_recorded_by_each_quarter_end_by_current_category() -> None:
    records = [yp("cce", "North", recorded=dt.date(2025, 2, 1)),
               yp("cce", "North", recorded=dt.date(2025, 5, 1)),
               yp("cse_1", "North", recorded=dt.date(2025, 5, 1))]
    out = dashboard_tables(records, as_of=dt.date(2025, 7, 1), pilot_start=dt.date(2025, 1, 6),
                           districts=("North",), categories=CATS, case_statuses=STATUSES)
    trend = {t.key: t for t in out}["trend"]
    assert trend.col_labels == ("2025-03-31", "2025-06-30")
    assert trend.counts == ((0, 1), (1, 2), (0, 0))
    assert trend.show_row_totals is False
    published = publish(trend, suppressed=False, threshold=5)
    assert published.rows()[0] == ["", "2025-03-31", "2025-06-30"]  # no row-total column
    assert published.rows()[-1] == ["Total", "1", "3"]


def test_no_trend_before_the_first_quarter_end() -> None:
    out = dashboard_tables([yp("cce", "North")], as_of=dt.date(2025, 3, 1),
                           pilot_start=dt.date(2025, 1, 6), districts=("North",),
                           categories=CATS, case_statuses=STATUSES)
    assert [t.key for t in out] == ["by_district", "by_case_status", "risk_assessment"]


def test_no_districts_layer_puts_everyone_in_unknown() -> None:
    out = dashboard_tables([], as_of=AS_OF, pilot_start=AS_OF, districts=(),
                           categories=CATS, case_statuses=STATUSES)
    assert out[0].col_labels == (UNKNOWN_DISTRICT,)
    assert publish(out[0], suppressed=True, threshold=5).table.display[-1][-1] == "0"


def test_exact_publication_keeps_every_number_and_says_so() -> None:
    t = tables([yp("cse_1", "North")] * 2 + [yp("cce", "South")] * 9)["by_district"]
    exact = publish(t, suppressed=False, threshold=5)  # type: ignore[arg-type]
    assert exact.table.display[0][:2] == ("2", "0")
    assert exact.table.display[-1][-1] == "11"
    assert "own team" in exact.table.rule_text
    partner = publish(t, suppressed=True, threshold=5)  # type: ignore[arg-type]
    assert partner.table.display[0][0] == "[c]" and "[c]" in partner.table.rule_text
    assert "rounded to the nearest 5" in partner.table.rule_text
    assert partner.table.display[-1][-1] == "10"  # 11, rounded to base 5


def test_partner_figures_are_at_completed_quarter_ends_only() -> None:
    today = dt.date(2026, 12, 6)
    assert partner_quarter_end(None, today) == dt.date(2026, 9, 30)
    assert partner_quarter_end(dt.date(2026, 11, 22), today) == dt.date(2026, 9, 30)
    assert partner_quarter_end(dt.date(2026, 7, 1), today) == dt.date(2026, 6, 30)
    assert partner_quarter_end(dt.date(2026, 3, 31), today) == dt.date(2026, 3, 31)
    # a quarter that ends today is still being recorded
    assert partner_quarter_end(None, dt.date(2026, 12, 31)) == dt.date(2026, 9, 30)
    assert partner_quarter_end(None, dt.date(2027, 1, 1)) == dt.date(2026, 12, 31)
    assert last_quarter_end(dt.date(2026, 1, 1)) == dt.date(2025, 12, 31)


def test_tables_sharing_margins_are_protected_together() -> None:
    # Category totals are in both category tables: a small count hidden in one table must
    # not be recoverable through the other. The joint release withholds the shared total
    # in both or neither.
    records = ([yp("cse_1", "North", status="open_case")] * 3
               + [yp("cce", "South", status="not_open")] * 9
               + [yp("none", "North", status="open_case")] * 7)
    out = dashboard_tables(records, as_of=dt.date(2026, 9, 30), pilot_start=dt.date(2025, 1, 6),
                           districts=("North", "South"), categories=CATS,
                           case_statuses=STATUSES)
    links = dashboard_links(out, dt.date(2026, 9, 30))
    assert len(links) == 4 + 3 + 4  # categories + total; districts + total; trend column
    pub = {t.key: t for t in publish_all(out, suppressed=True, threshold=5,
                                         as_of=dt.date(2026, 9, 30))}
    for (ka, ia, ja), (kb, ib, jb) in links:
        assert pub[ka].table.values[ia][ja] == pub[kb].table.values[ib][jb]
        assert pub[ka].table.flags[ia][ja] == pub[kb].table.flags[ib][jb]
    assert pub["by_district"].table.flags[0][0] == "withheld"  # the 3 CSE
    assert pub["trend"].table.flags[0][-1] == "absent"  # no row totals across quarters
    exact = publish_all(out, suppressed=False, threshold=5, as_of=dt.date(2026, 9, 30))
    assert exact[0].table.display[0][0] == "3"
