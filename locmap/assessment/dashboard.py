"""The partnership dashboard: counts of young people, as the partnership board sees them.

Plain records in (one per young person: exploitation category, case status, date of the
last risk assessment, the day their record was created, their district), count tables out.
Each table is then *published*: exactly for the owning team, or, for partners, all the
tables of one quarter end together through :func:`locmap.assessment.disclosure.protect`
(:func:`publish_all`): every count rounded to base 5, small counts withheld, and enough
others withheld that, jointly across the tables, no withheld count can be narrowed to an
interval narrower than the threshold.

Rules (also printed on the page):

- *Up to date*: the last risk assessment lies within the month before the "as of" date
  (on or after the same day one calendar month earlier, and not after the date itself).
  An assessment dated after the "as of" date was not known then; the young person counts
  as *overdue* on that date, or *not recorded* when there is no assessment at all.
- *Counted on a date*: a young person whose record was created on or before that date.
- *Partner figures*: at calendar quarter ends only (:func:`partner_quarter_end`), so that
  two pictures a few days apart cannot be differenced into one young person.
- *Trend*: at each calendar quarter end, the young people recorded by then, by their
  current category. Categories have no history yet, so a change of category moves a young
  person in every quarter; the trend shows who the partnership knew of, not how
  categories moved.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from locmap.assessment import disclosure
from locmap.assessment.suppression import PUBLISHED, SuppressedTable

__all__ = [
    "YoungPersonRecord", "CountTable", "PublishedTable", "UNKNOWN_DISTRICT", "NOT_RECORDED",
    "RISK_STATUSES", "one_month_before", "risk_assessment_status", "quarter_ends",
    "crosstab", "dashboard_tables", "publish", "publish_all", "last_quarter_end",
    "partner_quarter_end", "dashboard_links", "PARTNER_RULE",
]

UNKNOWN_DISTRICT = "Unknown district"
NOT_RECORDED = "not_recorded"
RISK_STATUSES = ("up_to_date", "overdue", NOT_RECORDED)
PARTNER_RULE = ("Figures at quarter ends, rounded to the nearest 5, small numbers withheld. "
                "Counts from 1 to {small} are withheld, and so are some others, so that none "
                "can be worked out from totals or from the other tables; a withheld number "
                "shows as \"{mark}\". Totals are rounded on their own, so rounded numbers "
                "need not add up.")
_EXACT_RULE = ("Exact numbers, visible only to the pilot's own team. Partners see this table "
               "with small numbers withheld.")


@dataclass(frozen=True)
class YoungPersonRecord:
    """What the dashboard knows of one young person (no pseudonym: it only counts)."""

    exploitation_category: str | None
    case_status: str | None
    last_risk_assessment_on: dt.date | None
    recorded_on: dt.date
    district: str | None


@dataclass(frozen=True)
class CountTable:
    """Exact counts with their labels, before publication."""

    key: str
    title: str
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    show_row_totals: bool = True
    note: str = ""


@dataclass(frozen=True)
class PublishedTable:
    """A count table as a reader sees it: exact, or suppressed."""

    key: str
    title: str
    table: SuppressedTable
    suppressed: bool
    show_row_totals: bool
    note: str
    percent_column: tuple[str, ...] | None = None
    percent_label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"key": self.key, "title": self.title, "suppressed": self.suppressed,
                "show_row_totals": self.show_row_totals, "note": self.note,
                "percent_label": self.percent_label,
                "percent": list(self.percent_column) if self.percent_column else None,
                **self.table.to_dict()}

    def rows(self) -> list[list[str]]:
        """Header then body rows of display strings, as a reader sees them."""
        cols = list(self.table.col_labels)
        keep = range(len(cols) if self.show_row_totals else len(cols) - 1)
        header = [""] + [cols[j] for j in keep]
        if self.percent_column:
            header.append(self.percent_label)
        out = [header]
        for i, label in enumerate(self.table.row_labels):
            row = [label] + [self.table.display[i][j] for j in keep]
            if self.percent_column:
                row.append(self.percent_column[i])
            out.append(row)
        return out


def one_month_before(day: dt.date) -> dt.date:
    """The same day one calendar month earlier, clamped to the month's end.

    Examples
    --------
    >>> one_month_before(dt.date(2026, 3, 31)), one_month_before(dt.date(2026, 1, 15))
    (datetime.date(2026, 2, 28), datetime.date(2025, 12, 15))
    """
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def risk_assessment_status(last: dt.date | None, as_of: dt.date) -> str:
    """``"up_to_date"``, ``"overdue"`` or ``"not_recorded"`` on `as_of` (module rules).

    Examples
    --------
    >>> d = dt.date(2026, 11, 22)
    >>> [risk_assessment_status(x, d) for x in (dt.date(2026, 10, 22), dt.date(2026, 10, 21),
    ...                                          dt.date(2026, 11, 23), None)]
    ['up_to_date', 'overdue', 'overdue', 'not_recorded']
    """
    if last is None:
        return NOT_RECORDED
    return "up_to_date" if one_month_before(as_of) <= last <= as_of else "overdue"


def quarter_ends(start: dt.date, as_of: dt.date, *, limit: int = 8) -> list[dt.date]:
    """Calendar quarter ends from `start` to `as_of` inclusive, the last `limit` of them.

    Examples
    --------
    >>> quarter_ends(dt.date(2025, 2, 1), dt.date(2025, 12, 30))
    [datetime.date(2025, 3, 31), datetime.date(2025, 6, 30), datetime.date(2025, 9, 30)]
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    ends = []
    year, quarter = start.year, (start.month - 1) // 3 + 1
    while True:
        month = quarter * 3
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        if end > as_of:
            break
        ends.append(end)
        year, quarter = (year, quarter + 1) if quarter < 4 else (year + 1, 1)
    return ends[-limit:]


def last_quarter_end(day: dt.date) -> dt.date:
    """The latest calendar quarter end on or before `day`.

    Examples
    --------
    >>> last_quarter_end(dt.date(2026, 11, 22)), last_quarter_end(dt.date(2026, 9, 30))
    (datetime.date(2026, 9, 30), datetime.date(2026, 9, 30))
    >>> last_quarter_end(dt.date(2026, 2, 1))
    datetime.date(2025, 12, 31)
    """
    tomorrow = day + dt.timedelta(days=1)
    if tomorrow.day == 1 and tomorrow.month in (1, 4, 7, 10):
        return day
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1) - dt.timedelta(days=1)


def partner_quarter_end(requested: dt.date | None, today: dt.date) -> dt.date:
    """The quarter end partners are shown for a `requested` date.

    Partner figures exist at completed quarter ends only: the last quarter end on or
    before `requested`, and never later than the last one before `today` (a quarter that
    ends today is still being recorded). No date asks for the latest.

    Examples
    --------
    >>> today = dt.date(2026, 11, 22)
    >>> [partner_quarter_end(d, today).isoformat() for d in (
    ...     None, dt.date(2026, 8, 15), dt.date(2026, 6, 30), dt.date(2027, 5, 1))]
    ['2026-09-30', '2026-06-30', '2026-06-30', '2026-09-30']
    """
    latest = last_quarter_end(today - dt.timedelta(days=1))
    return latest if requested is None else min(last_quarter_end(requested), latest)


def crosstab(pairs: Iterable[tuple[str, str]], rows: Sequence[str],
             cols: Sequence[str]) -> tuple[tuple[int, ...], ...]:
    """Count (row, column) pairs into a ``len(rows) × len(cols)`` table.

    Raises
    ------
    ValueError
        For a pair whose row or column is not among the labels (nothing is dropped
        silently: a total that misses someone would mislead the board).
    """
    r_index = {r: i for i, r in enumerate(rows)}
    c_index = {c: j for j, c in enumerate(cols)}
    counts = [[0] * len(cols) for _ in rows]
    for r, c in pairs:
        if r not in r_index or c not in c_index:
            raise ValueError(f"({r!r}, {c!r}) is not a cell of the table")
        counts[r_index[r]][c_index[c]] += 1
    return tuple(tuple(row) for row in counts)


def _present(values: Iterable[str | None], vocabulary: Sequence[str]) -> list[str]:
    """The vocabulary, plus ``not_recorded`` when some value is missing."""
    return [*vocabulary, *([NOT_RECORDED] if any(v is None for v in values) else [])]


def dashboard_tables(
    records: Sequence[YoungPersonRecord], *, as_of: dt.date, pilot_start: dt.date,
    districts: Sequence[str], categories: Sequence[str], case_statuses: Sequence[str],
    label: Any = str,
) -> list[CountTable]:
    """The four tables of the dashboard from the young people recorded by `as_of`.

    Parameters
    ----------
    records : sequence of YoungPersonRecord
    as_of : date
    pilot_start : date
        The trend starts at the first quarter end on or after it.
    districts : sequence of str
        District names, in order; ``UNKNOWN_DISTRICT`` is added when someone has none.
    categories, case_statuses : sequence of str
        Vocabularies, in order; ``not_recorded`` is added when a value is missing.
    label : callable
        Turns a vocabulary word into its row or column label.

    Returns
    -------
    list of CountTable
        ``by_district`` (category × district), ``by_case_status`` (category × case status),
        ``risk_assessment`` (district × up to date / overdue / not recorded) and ``trend``
        (category × quarter end, no row totals: a young person is in every quarter).
    """
    current = [r for r in records if r.recorded_on <= as_of]
    cats = _present([r.exploitation_category for r in current], categories)
    statuses = _present([r.case_status for r in current], case_statuses)
    dists = [*districts, *([UNKNOWN_DISTRICT] if not districts or any(
        r.district not in districts for r in current) else [])]

    def cat(r: YoungPersonRecord) -> str:
        return r.exploitation_category or NOT_RECORDED

    def dist(r: YoungPersonRecord) -> str:
        return r.district if r.district in districts else UNKNOWN_DISTRICT  # type: ignore[return-value]

    cat_labels = tuple(label(c) for c in cats)
    ends = quarter_ends(pilot_start, as_of)
    trend_counts = tuple(
        tuple(sum(1 for r in records if cat(r) == c and r.recorded_on <= end) for end in ends)
        for c in cats)
    tables = [
        CountTable("by_district", "Young people by exploitation category and district",
                   cat_labels, tuple(dists),
                   crosstab(((cat(r), dist(r)) for r in current), cats, dists),
                   note="A young person's district is the district containing the centre of "
                        "the places they spend time at; with no place on the map, "
                        "\"Unknown district\"."),
        CountTable("by_case_status", "Young people by exploitation category and case status",
                   cat_labels, tuple(label(s) for s in statuses),
                   crosstab(((cat(r), r.case_status or NOT_RECORDED) for r in current),
                            cats, statuses)),
        CountTable("risk_assessment", "Risk assessments up to date, by district",
                   tuple(dists), ("Up to date", "Overdue", "Not recorded"),
                   crosstab(((dist(r), risk_assessment_status(r.last_risk_assessment_on,
                                                              as_of)) for r in current),
                            dists, RISK_STATUSES),
                   note=f"Up to date: a risk assessment on or after "
                        f"{one_month_before(as_of).isoformat()} (within the month before "
                        f"{as_of.isoformat()})."),
    ]
    if ends:
        tables.append(CountTable(
            "trend", "Young people recorded by each quarter end, by current category",
            cat_labels, tuple(e.isoformat() for e in ends), trend_counts,
            show_row_totals=False,
            note="Counts the young people whose record was created by each quarter end, by "
                 "their category today (categories have no history yet)."))
    return tables


def _exact(table: CountTable) -> SuppressedTable:
    counts = [list(r) for r in table.counts]
    row_totals = [sum(r) for r in counts]
    col_totals = [sum(c) for c in zip(*counts, strict=True)] if counts else []
    full = [r + [t] for r, t in zip(counts, row_totals, strict=True)]
    full.append(col_totals + [sum(row_totals)])
    return SuppressedTable(
        row_labels=(*table.row_labels, "Total"), col_labels=(*table.col_labels, "Total"),
        display=tuple(tuple(str(v) for v in r) for r in full),
        values=tuple(tuple(r) for r in full),
        flags=tuple(tuple(PUBLISHED for _ in r) for r in full),
        threshold=0, zeros="show", rule_text=_EXACT_RULE,
    )


def _percent_first_column(t: SuppressedTable) -> tuple[str, ...]:
    """Share of the row in the first column, only where both numbers are published."""
    out = []
    for row in t.values:
        part, whole = row[0], row[-1]
        out.append("–" if part is None or whole is None or whole == 0
                   else f"{round(100 * part / whole)}%")
    return tuple(out)


def _partner_table(table: CountTable, released: disclosure.ReleasedTable,
                   threshold: int) -> SuppressedTable:
    return SuppressedTable(
        row_labels=(*table.row_labels, "Total"), col_labels=(*table.col_labels, "Total"),
        display=released.display(), values=released.values, flags=released.flags,
        threshold=threshold, zeros="show",
        rule_text=PARTNER_RULE.format(small=threshold - 1, mark=disclosure.MARK))


def _published(table: CountTable, t: SuppressedTable, suppressed: bool) -> PublishedTable:
    percent = _percent_first_column(t) if table.key == "risk_assessment" else None
    return PublishedTable(
        key=table.key, title=table.title, table=t, suppressed=suppressed,
        show_row_totals=table.show_row_totals, note=table.note, percent_column=percent,
        percent_label="% up to date" if percent else "",
    )


def dashboard_links(tables: Sequence[CountTable],
                    as_of: dt.date) -> list[tuple[disclosure.CellRef, disclosure.CellRef]]:
    """Cells that are the same number in two of the dashboard's tables.

    The young people of a category are the row total of ``by_district`` and
    ``by_case_status`` and, when `as_of` is the trend's last quarter end, its last column;
    a district's young people are a column total of ``by_district`` and a row total of
    ``risk_assessment``; all four share the grand total.
    """
    by = {t.key: t for t in tables}
    links: list[tuple[disclosure.CellRef, disclosure.CellRef]] = []
    d = by.get("by_district")
    if d is None:
        return links
    n_cat, n_dist = len(d.row_labels), len(d.col_labels)
    s = by.get("by_case_status")
    if s is not None and s.row_labels == d.row_labels:
        links += [(("by_district", i, n_dist), ("by_case_status", i, len(s.col_labels)))
                  for i in range(n_cat + 1)]
    r = by.get("risk_assessment")
    if r is not None and r.row_labels == d.col_labels:
        links += [(("by_district", n_cat, j), ("risk_assessment", j, len(r.col_labels)))
                  for j in range(n_dist + 1)]
    t = by.get("trend")
    if (t is not None and t.row_labels == d.row_labels and t.col_labels
            and t.col_labels[-1] == as_of.isoformat()):
        last = len(t.col_labels) - 1
        links += [(("by_district", i, n_dist), ("trend", i, last)) for i in range(n_cat + 1)]
    return links


def publish_all(tables: Sequence[CountTable], *, suppressed: bool, threshold: int,
                as_of: dt.date) -> list[PublishedTable]:
    """Every table as a reader sees it: exact for the team, or protected jointly.

    For partners the tables go through :func:`locmap.assessment.disclosure.protect`
    together, with the cells they share (:func:`dashboard_links`), so that no withheld
    count can be narrowed down by combining tables. A percentage is shown only when its
    numerator and denominator are both published (and then from the rounded numbers).
    """
    for table in tables:
        if not table.counts or not table.col_labels:
            raise ValueError(f"table {table.key!r} has no cells")
    if not suppressed:
        return [_published(t, _exact(t), False) for t in tables]
    specs = [disclosure.TableSpec(t.key, t.counts, row_totals=t.show_row_totals)
             for t in tables]
    release = disclosure.protect(specs, links=dashboard_links(tables, as_of),
                                 threshold=threshold)
    return [_published(t, _partner_table(t, release.tables[t.key], threshold), True)
            for t in tables]


def publish(table: CountTable, *, suppressed: bool, threshold: int) -> PublishedTable:
    """One table as a reader sees it (:func:`publish_all` with this table alone)."""
    if not table.counts or not table.col_labels:
        raise ValueError(f"table {table.key!r} has no cells")
    if not suppressed:
        return _published(table, _exact(table), False)
    spec = disclosure.TableSpec(table.key, table.counts, row_totals=table.show_row_totals)
    release = disclosure.protect([spec], threshold=threshold)
    return _published(table, _partner_table(table, release.tables[table.key], threshold),
                      True)
