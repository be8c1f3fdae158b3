"""Exports of a pilot's data: GeoJSON, GeoPackage and CSV that say what they contain.

Spreadsheets execute cells that start with ``=``, ``+``, ``-``, ``@`` (and tab or carriage
return): a crime location such as ``=HYPERLINK(…)`` would run when a partner opens the
CSV. Every text cell written to CSV passes :func:`neutralise_cell`, which prefixes such a
cell with an apostrophe (OWASP "CSV Injection"); numbers are written as numbers. Leading
whitespace does not make a formula safe (spreadsheets trim it on import, and ``" =1+1"``
runs once trimmed), so the test looks past it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["neutralise_cell", "csv_lines"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet: formula-like text gets a leading ``'``.

    Examples
    --------
    >>> neutralise_cell("=1+1"), neutralise_cell("-3 apples"), neutralise_cell(-3)
    ("'=1+1", "'-3 apples", -3)
    >>> neutralise_cell("  =1+1"), neutralise_cell(" @SUM(A1)"), neutralise_cell(" a-b")
    ("'  =1+1", "' @SUM(A1)", ' a-b')
    """
    if isinstance(value, str) and (value.startswith(_FORMULA_START)
                                   or value.lstrip().startswith(_FORMULA_START)):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Stream CSV text (header first), every cell neutralised, for a streamed response."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise_cell(v) for v in row])
        if buf.tell() > 1 << 16:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
