"""Police open-data street-level crime CSVs (data.police.uk) into a pilot's incidents.

Streaming and set-based: each CSV is read row by row with the ``csv`` module over a text
stream (memory stays flat whatever the file size), checked, and written with ``COPY`` into
a temporary staging table; one ``INSERT … SELECT … ON CONFLICT (pilot_id, dedupe_key) DO
NOTHING`` then maps crime types to harm categories and adds the new incidents. Everything
happens in the caller's transaction: nothing is visible until it commits, so a failure — or
``kill -9`` — half-way leaves nothing behind.

Dedupe keys make re-imports idempotent: ``sha256:`` and the SHA-256 of ``police:<Crime
ID>`` when the row has one (one-way, so the key never holds the police reference that
retention clears from ``external_ref``; revision 0031 rewrote the older plain keys); for
anti-social behaviour rows (which police.uk publishes without a Crime ID) the SHA-256 of
month, longitude, latitude, location, crime type and the row's occurrence index among
identical rows of the same file, so a month imported twice, or in two overlapping
downloads, adds nothing the second time while genuinely repeated rows are all kept.

Police data is monthly: ``occurred_at`` is the first of the month 00:00 UTC with
``time_precision = 'month'``. Cells are stored as text exactly as given; exporters
neutralise spreadsheet formulas (see :func:`locmap.io.export.neutralise_cell`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import Connection, text

from locmap import clock
from locmap.errors import InvalidData
from locmap.io.sources import Source

__all__ = [
    "REQUIRED_COLUMNS", "MAX_REPORT_ROWS", "PoliceResult", "detect_encoding", "preview",
    "stage_and_insert",
]

REQUIRED_COLUMNS = ("Crime ID", "Month", "Longitude", "Latitude", "Location", "Crime type")
OPTIONAL_COLUMNS = (
    "Reported by", "Falls within", "LSOA code", "LSOA name", "Last outcome category", "Context",
)
MAX_REPORT_ROWS = 10_000  # rejected rows listed one by one; beyond this they are counted
_MAX_CELL = 500
_MAX_CRIME_ID = 190
_BLOCK_ROWS = 4096  # rows per copy.write(): one call per block, not per row

_STAGE_DDL = """
CREATE TEMP TABLE police_stage (
    file_no int NOT NULL, line_no int NOT NULL, crime_id text, month date NOT NULL,
    lon float8 NOT NULL, lat float8 NOT NULL, location text NOT NULL,
    crime_type text NOT NULL, lsoa_code text NOT NULL, outcome text NOT NULL,
    context text NOT NULL
) ON COMMIT DROP
"""

# dedupe_key: a hash of the Crime ID (never the ID itself: see the module docstring), or a
# hash of the row's content and its occurrence index among identical rows of the same file
# (row_number() over them, in file order).
_INSERT = """
WITH staged AS (
    SELECT s.*, row_number() OVER (
        PARTITION BY s.file_no, s.month, s.lon, s.lat, s.location, s.crime_type
        ORDER BY s.line_no) AS occurrence
    FROM police_stage s
    WHERE s.crime_id IS NULL
), keyed AS (
    SELECT s.*, 'sha256:' || encode(sha256(convert_to('police:' || s.crime_id, 'UTF8')),
                                    'hex') AS dedupe_key FROM police_stage s
    WHERE s.crime_id IS NOT NULL
    UNION ALL
    SELECT file_no, line_no, crime_id, month, lon, lat, location, crime_type, lsoa_code,
           outcome, context,
           'row:' || encode(sha256(convert_to(concat_ws('|', to_char(month, 'YYYY-MM'),
               lon::text, lat::text, location, crime_type, occurrence::text), 'UTF8')), 'hex')
    FROM staged
)
INSERT INTO incident (pilot_id, location, place_derived, occurred_at, time_precision,
                      category, severity, data_import_id, external_ref, dedupe_key,
                      description, created_by_id, version)
SELECT :pilot_id, ST_SetSRID(ST_MakePoint(k.lon, k.lat), 4326), false,
       k.month::timestamp AT TIME ZONE 'UTC', 'month', coalesce(m.category, 'other'),
       :severity, :data_import_id, k.crime_id, k.dedupe_key,
       concat_ws('; ', k.crime_type || ': ' || k.location,
                 nullif('LSOA ' || k.lsoa_code, 'LSOA '),
                 nullif('outcome: ' || k.outcome, 'outcome: '), nullif(k.context, '')),
       :created_by_id, 1
FROM keyed k
LEFT JOIN crime_type_mapping m ON m.pilot_id = :pilot_id AND m.crime_type = k.crime_type
WHERE k.lon BETWEEN :west AND :east AND k.lat BETWEEN :south AND :north
ON CONFLICT (pilot_id, dedupe_key) DO NOTHING
"""


@dataclass
class PoliceResult:
    """What one import did, row by row and in total."""

    rows_read: int = 0
    rows_staged: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_outside: int = 0
    rows_place_derived: int = 0
    rows_duplicate: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    unmapped_crime_types: list[str] = field(default_factory=list)

    def reject(self, file: str, line: int, reason: str, row: dict[str, str]) -> None:
        self.rows_rejected += 1
        if len(self.rejects) < MAX_REPORT_ROWS:
            # JSONB cannot hold NUL: shown as U+FFFD in the report.
            self.rejects.append({
                "file": file, "row": line, "reason": reason,
                **{k: row.get(c, "")[:_MAX_CELL].replace("\x00", "\ufffd") for k, c in (
                    ("crime_id", "Crime ID"), ("month", "Month"), ("crime_type", "Crime type"),
                    ("location", "Location"))},
            })

    def summary(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read, "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected, "rows_outside_area": self.rows_outside,
            "rows_already_present": self.rows_duplicate, "files": self.files,
            "unmapped_crime_types": self.unmapped_crime_types,
            "report_truncated": self.rows_rejected > len(self.rejects),
        }


def detect_encoding(source: Source, chunk: int = 1 << 20) -> str:
    """``utf-8-sig`` if the whole file decodes as UTF-8 (with or without BOM), else cp1252.

    Excel saves "CSV" in the machine's ANSI code page (cp1252 in the UK); such a file almost
    never decodes as UTF-8 by accident, so one strict pass decides.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with source.open() as fh:
        try:
            while block := fh.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _text(fh: BinaryIO, encoding: str) -> io.TextIOWrapper:
    # errors="strict": cp1252 leaves five bytes undefined; a file holding them is refused.
    return io.TextIOWrapper(fh, encoding=encoding, newline="", errors="strict")


def _header(reader: Iterator[list[str]], name: str) -> dict[str, int]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidData(f"{name} is empty.") from None
    columns = {h.strip(): i for i, h in enumerate(header)}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidData(
            f"{name} is not a police.uk street-level crime file: missing column(s) "
            f"{', '.join(missing)}. Expected {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}."
        )
    return columns


def _records(source: Source, encoding: str,
             columns_out: dict[str, int]) -> Iterator[tuple[int, list[str]]]:
    """(line number, raw cells) for each data row, after checking the header (whose column
    positions are put in ``columns_out``); malformed files raise InvalidData.
    """
    with source.open() as raw, _text(raw, encoding) as fh:
        reader = csv.reader(fh, strict=True)
        try:
            columns_out.update(_header(reader, source.name))
            width = len(columns_out)
            for cells in reader:
                if len(cells) != width:
                    if not cells or cells == [""]:
                        continue
                    raise InvalidData(
                        f"{source.name}, line {reader.line_num}: {len(cells)} fields where the "
                        f"header has {width}. The file is malformed; nothing was imported."
                    )
                yield reader.line_num, cells
        except csv.Error as exc:
            raise InvalidData(
                f"{source.name}, line {reader.line_num}: not valid CSV ({exc}). "
                "Nothing was imported."
            ) from None
        except UnicodeDecodeError as exc:
            raise InvalidData(f"{source.name}: cannot be decoded as {encoding} ({exc.reason}).") \
                from None


def _rows(source: Source, encoding: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row as dict of stripped cells) for each data row."""
    columns: dict[str, int] = {}
    for line, cells in _records(source, encoding, columns):
        yield line, {c: cells[i].strip() for c, i in columns.items()}


# COPY text format: backslash, tab, newline and carriage return are escaped.
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_STAGED = ("Crime ID", "Month", "Longitude", "Latitude", "Location", "Crime type",
           "LSOA code", "Last outcome category", "Context")


def month_window() -> tuple[str, str]:
    """("1990-01", this month) as YYYY-MM text: the months a police row may carry.

    The one event window of :func:`locmap.clock.event_date_problem`, at month precision
    (police open data dates a crime to its month); compared as text in the hot path.
    """
    latest = clock.today() + dt.timedelta(days=1)
    return f"{clock.EARLIEST_EVENT:%Y-%m}", f"{latest:%Y-%m}"


def _staged_line(cells: list[str], idx: tuple[int, ...], prefix: str,
                 window: tuple[str, str] = ("1990-01", "9999-12")) -> str:
    """The row as one line of COPY text, or ``"!"`` + the reason it is rejected.

    Hot path (run once per row): no dicts, no per-cell objects beyond the strings.
    """
    c_id, c_month, c_lon, c_lat, c_loc, c_type, c_lsoa, c_out, c_ctx = idx
    month = cells[c_month].strip()
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() \
            or not 1 <= int(month[5:]) <= 12:
        return f"!Month {month[:20]!r} is not YYYY-MM"
    if not window[0] <= month <= window[1]:
        return f"!Month {month} is outside {window[0]} to {window[1]}"
    lon_text, lat_text = cells[c_lon].strip(), cells[c_lat].strip()
    if not lon_text or not lat_text:
        return "!no coordinates (police.uk: no location)"
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        return f"!coordinates {lon_text[:20]!r}, {lat_text[:20]!r} are not numbers"
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"!coordinates {lon_text[:20]}, {lat_text[:20]} are not WGS84 lon/lat"
    crime_type = cells[c_type].strip()
    if not crime_type:
        return "!no crime type"
    crime_id = cells[c_id].strip()
    if len(crime_id) > _MAX_CRIME_ID:
        return "!Crime ID longer than 190 characters"
    texts = (crime_id, cells[c_loc].strip()[:_MAX_CELL], crime_type[:120],
             cells[c_lsoa].strip()[:_MAX_CELL], cells[c_out].strip()[:_MAX_CELL],
             cells[c_ctx].strip()[:_MAX_CELL])
    joined = "\t".join(texts)
    # Almost no row holds a character COPY must escape: check the joined text once (5 tabs
    # are the separators) and escape cell by cell only when needed.
    if joined.count("\t") != 5 or "\\" in joined or "\n" in joined or "\r" in joined:
        joined = "\t".join(t.translate(_COPY_ESCAPE) for t in texts)
    cid, rest = joined.split("\t", 1)
    line = (f"{prefix}\t{cid or _NULL}\t{month}-01\t{lon!r}\t{lat!r}\t{rest}\n")
    if "\x00" in line:
        return "!contains a NUL character"
    return line


def preview(source: Source, limit: int = 10) -> dict[str, Any]:
    """The first ``limit`` data rows and the crime types met in them (no database)."""
    encoding = detect_encoding(source)
    rows: list[dict[str, str]] = []
    for _, row in _rows(source, encoding):
        rows.append(row)
        if len(rows) >= limit:
            break
    return {"file": source.name, "encoding": encoding, "rows": rows}


def stage_and_insert(
    conn: Connection,
    sources: list[Source],
    *,
    pilot_id: int,
    data_import_id: int,
    created_by_id: int | None,
    bbox: tuple[float, float, float, float],
    severity: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> PoliceResult:
    """Stage every row of ``sources`` with COPY and insert the new incidents.

    Parameters
    ----------
    conn
        The caller's connection, inside its transaction (never committed here).
    sources
        CSV files (see :mod:`locmap.io.sources`).
    pilot_id, data_import_id, created_by_id
        Written on every new incident.
    bbox
        ``(west, south, east, north)``: rows outside it count as ``rows_outside``.
    progress
        Called with ``(bytes_done, rows_read)`` every few thousand rows.

    Returns
    -------
    PoliceResult
        Counts, the rejected rows (line number and reason) and the crime types that had no
        mapping (they were imported as ``other``).

    Raises
    ------
    InvalidData
        The file is not a police CSV or is malformed; the caller rolls back.
    """
    result = PoliceResult()
    window = month_window()
    # The window sort for hash keys spills to disk with the default 4 MB.
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.police_stage"))
    conn.execute(text(_STAGE_DDL))
    raw = conn.connection.driver_connection
    assert raw is not None  # psycopg 3: COPY goes through the driver connection
    done_before = 0
    with raw.cursor() as cur, cur.copy(
        "COPY police_stage (file_no, line_no, crime_id, month, lon, lat, location, crime_type,"
        " lsoa_code, outcome, context) FROM STDIN"
    ) as copy:
        for file_no, source in enumerate(sources):
            encoding = detect_encoding(source)
            read_before, staged_before = result.rows_read, result.rows_staged
            columns: dict[str, int] = {}
            idx: tuple[int, ...] = ()
            block: list[str] = []
            for line, cells in _records(source, encoding, columns):
                if not idx:  # optional columns that are absent read as the empty last cell
                    idx = tuple(columns.get(c, len(columns)) for c in _STAGED)
                cells.append("")
                result.rows_read += 1
                staged = _staged_line(cells, idx, f"{file_no}\t{line}", window)
                if staged[0] == "!":
                    result.reject(source.name, line, staged[1:],
                                  {c: cells[i].strip() for c, i in columns.items()})
                    continue
                block.append(staged)
                result.rows_staged += 1
                if len(block) >= _BLOCK_ROWS:
                    copy.write("".join(block))
                    block.clear()
                    if progress is not None:
                        progress(done_before + source.bytes_read, result.rows_read)
            if block:
                copy.write("".join(block))
            done_before += source.size
            result.files.append({
                "file": source.name, "encoding": encoding,
                "rows": result.rows_read - read_before,
                "staged": result.rows_staged - staged_before,
            })
    if progress is not None:
        progress(done_before, result.rows_read)
    west, south, east, north = bbox
    params = {
        "pilot_id": pilot_id, "data_import_id": data_import_id, "created_by_id": created_by_id,
        "severity": severity, "west": west, "east": east, "south": south, "north": north,
    }
    result.rows_accepted = conn.execute(text(_INSERT), params).rowcount
    result.rows_outside = conn.execute(text(
        "SELECT count(*) FROM police_stage WHERE NOT (lon BETWEEN :west AND :east "
        "AND lat BETWEEN :south AND :north)"), params).scalar_one()
    result.rows_duplicate = result.rows_staged - result.rows_outside - result.rows_accepted
    result.unmapped_crime_types = list(conn.execute(text(
        "SELECT DISTINCT s.crime_type FROM police_stage s WHERE NOT EXISTS (SELECT 1 FROM "
        "crime_type_mapping m WHERE m.pilot_id = :pilot_id AND m.crime_type = s.crime_type) "
        "ORDER BY 1"), params).scalars())
    conn.execute(text("DROP TABLE pg_temp.police_stage"))
    result.rows_place_derived = derive_places_for_import(conn, pilot_id, data_import_id)
    return result


def derive_places_for_import(conn: Connection, pilot_id: int, data_import_id: int) -> int:
    """Set ``place_id`` (``place_derived = true``) on the import's incidents, set-based,
    with the same rule as :func:`locmap.queries.incidents.derive_place_id`.
    """
    from locmap.queries.at_place import PLACE_REACH_M
    from locmap.queries.incidents import _DERIVE_SQL

    nearest = (_DERIVE_SQL.text.replace(":lon", "ST_X(x.location)")
               .replace(":lat", "ST_Y(x.location)"))
    # Built from constant SQL text only; every value is a bound parameter.
    sql = ("UPDATE incident i SET place_id = d.pid, place_derived = true FROM ("  # noqa: S608
           "SELECT x.id, (" + nearest + ") AS pid FROM incident x "
           "WHERE x.pilot_id = :pilot_id AND x.data_import_id = :data_import_id "
           "AND x.place_id IS NULL) d "
           "WHERE i.pilot_id = :pilot_id AND i.id = d.id AND d.pid IS NOT NULL")
    return conn.execute(text(sql), {"pilot_id": pilot_id, "data_import_id": data_import_id,
        "radius": PLACE_REACH_M}).rowcount
