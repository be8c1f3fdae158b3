"""Small-number suppression for the aggregate tables partners see.

Partner reviewers see counts of young people by category and district (and similar
two-way tables) but never numbers small enough to point at a child. Cells from 1 to
``threshold - 1`` are withheld (*primary* suppression), and so are enough other cells
(*secondary*, or complementary, suppression) that no withheld number can be worked out
from what is published: the other cells, the row and column totals and the grand total.
Marginal totals are counts of young people too, so a small total is itself withheld.
The table is treated as its augmented form, totals included, where every row and column
is one additive relation; complements are chosen until (1) no relation has exactly one
withheld member and (2) a linear-programming audit finds every withheld number still
free to take more than one value given everything a reader knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import linprog

__all__ = ["SuppressedTable", "feasible_range", "suppress_table"]

PUBLISHED, PRIMARY, SECONDARY = "published", "primary", "secondary"
SECONDARY_MARK = "[c]"
_TOTAL = "Total"


@dataclass(frozen=True)
class SuppressedTable:
    """A table ready to show partners, totals included as the last row and column.

    Attributes
    ----------
    row_labels, col_labels : tuple of str
        Labels, each ending with ``"Total"``.
    display : tuple of tuple of str
        What to print: the count, ``"<5"`` for a small count, ``"[c]"`` for a count
        withheld to protect a small one.
    values : tuple of tuple of int or None
        Machine-readable published values (None where withheld).
    flags : tuple of tuple of str
        ``"published"``, ``"primary"`` or ``"secondary"`` per cell.
    threshold : int
    zeros : str
    rule_text : str
        One paragraph to print under the table.
    """

    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    display: tuple[tuple[str, ...], ...]
    values: tuple[tuple[int | None, ...], ...]
    flags: tuple[tuple[str, ...], ...]
    threshold: int
    zeros: str
    rule_text: str

    @property
    def suppressed_count(self) -> int:
        """How many cells (totals included) are withheld."""
        return sum(f != PUBLISHED for row in self.flags for f in row)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "row_labels": list(self.row_labels),
            "col_labels": list(self.col_labels),
            "display": [list(r) for r in self.display],
            "values": [list(r) for r in self.values],
            "flags": [list(r) for r in self.flags],
            "threshold": self.threshold,
            "zeros": self.zeros,
            "rule_text": self.rule_text,
        }


def _augment(counts: np.ndarray) -> np.ndarray:
    r, c = counts.shape
    out = np.zeros((r + 1, c + 1), dtype=np.int64)
    out[:r, :c] = counts
    out[:r, c] = counts.sum(axis=1)
    out[r, :c] = counts.sum(axis=0)
    out[r, c] = counts.sum()
    return out


def _lines(shape: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """Every additive relation of the augmented table: members, total last."""
    n_rows, n_cols = shape
    rows = [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    cols = [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    return rows + cols


def _bounds(flag: str, threshold: int, zeros: str) -> tuple[float, float | None]:
    """What a reader knows about a withheld cell from its mark."""
    if flag == PRIMARY:
        return (0.0 if zeros == "suppress" else 1.0), float(threshold - 1)
    # "[c]" cells are never small; with zeros shown they are also never zero.
    return float(threshold), None


def feasible_range(
    table: np.ndarray, flags: np.ndarray, threshold: int, zeros: str, cell: tuple[int, int],
) -> tuple[float, float]:
    """Smallest and largest value of a withheld `cell` consistent with what is published.

    Parameters
    ----------
    table : ndarray of int, shape (R+1, C+1)
        The augmented table (totals in the last row and column).
    flags : ndarray of str, same shape
        ``"published"``, ``"primary"`` or ``"secondary"``.
    threshold : int
    zeros : {"show", "suppress"}
    cell : (int, int)
        A withheld cell.

    Returns
    -------
    (float, float)
        The interval a reader can deduce; a width of 0 means the cell is disclosed.

    Notes
    -----
    Solves two linear programmes with `scipy.optimize.linprog` (HiGHS): the withheld
    cells are the variables, each row and column relation of the augmented table is an
    equality with the published members moved to the right-hand side, and each withheld
    cell is bounded by what its mark says (``1..threshold-1`` for ``"<t"``, at least
    ``threshold`` for ``"[c]"``). The constraint matrix is a network matrix, so the
    bounds found are whole numbers.

    References
    ----------
    Hundepool, A. et al. (2012). *Statistical Disclosure Control*, Wiley, ch. 4
    (cell suppression and the attacker's linear programme).
    """
    hidden = _withheld(flags)
    if cell not in hidden:
        raise ValueError(f"cell {cell} is not withheld")
    index = {ij: k for k, ij in enumerate(hidden)}
    a_eq, b_eq = [], []
    for line in _lines(table.shape):
        *members, total = line
        row = np.zeros(len(hidden))
        rhs = 0.0
        for ij, sign in [(m, 1.0) for m in members] + [(total, -1.0)]:
            if ij in index:
                row[index[ij]] += sign
            else:
                rhs -= sign * float(table[ij])
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    bounds = [_bounds(str(flags[ij]), threshold, zeros) for ij in hidden]
    result = []
    for sense in (1.0, -1.0):
        objective = np.zeros(len(hidden))
        objective[index[cell]] = sense
        res = linprog(objective, A_eq=np.array(a_eq) if a_eq else None,
                      b_eq=np.array(b_eq) if b_eq else None, bounds=bounds, method="highs")
        if res.status == 3:  # unbounded above: only possible for "[c]" cells
            result.append(float("inf"))
            continue
        if res.status != 0:
            raise RuntimeError(f"linear programme failed for cell {cell}: {res.message}")
        result.append(sense * float(res.fun))
    return result[0], result[1]


def _pick_complement(table: np.ndarray, flags: np.ndarray, line: list[tuple[int, int]],
                     zeros: str) -> tuple[int, int] | None:
    """Smallest non-zero published member, interior cells before totals, then position."""
    n_rows, n_cols = table.shape
    # A published zero is never a complement: it cannot hide anything below it, and
    # "[c]" tells the reader the cell is not small.
    candidates = [ij for ij in line if flags[ij] == PUBLISHED and table[ij] > 0]
    if not candidates:
        return None

    def key(ij: tuple[int, int]) -> tuple[int, int, int, int]:
        totals = (ij[0] == n_rows - 1) + (ij[1] == n_cols - 1)
        return (totals, int(table[ij] == 0), int(table[ij]), ij[0] * n_cols + ij[1])

    return min(candidates, key=key)


def _enforce_lines(table: np.ndarray, flags: np.ndarray, zeros: str) -> None:
    """No relation may hold exactly one withheld member; repeat until stable."""
    changed = True
    while changed:
        changed = False
        for line in _lines(table.shape):
            if sum(flags[ij] != PUBLISHED for ij in line) == 1:
                pick = _pick_complement(table, flags, line, zeros)
                if pick is not None:
                    flags[pick] = SECONDARY
                    changed = True


def _withheld(flags: np.ndarray) -> list[tuple[int, int]]:
    return [(int(i), int(j)) for i, j in np.argwhere(flags != PUBLISHED)]


def _first_exposed(table: np.ndarray, flags: np.ndarray, threshold: int,
                   zeros: str) -> tuple[int, int] | None:
    """The first withheld cell a reader could pin down exactly, if any."""
    for cell in _withheld(flags):
        low, high = feasible_range(table, flags, threshold, zeros, cell)
        if high - low < 0.5:  # LP bounds are whole numbers here
            return cell
    return None


def _rule_text(threshold: int, zeros: str) -> str:
    zero_text = ("Zeros are shown." if zeros == "show"
                 else f"Zeros are withheld too, so \"<{threshold}\" means 0 to {threshold - 1}.")
    return (f"To protect the young people counted, numbers from 1 to {threshold - 1} are shown "
            f"as \"<{threshold}\", totals included. {zero_text} Cells marked \"{SECONDARY_MARK}\" "
            f"are withheld, though not small, so that the small numbers cannot be worked out "
            f"from the totals.")


def suppress_table(
    counts: Sequence[Sequence[int]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    threshold: int = 5,
    zeros: Literal["show", "suppress"] = "show",
) -> SuppressedTable:
    """Withhold small counts and enough others that none can be recovered.

    Parameters
    ----------
    counts : sequence of sequence of int
        Non-negative counts, shape (R, C), R and C at least 1. Totals are computed here.
    row_labels, col_labels : sequence of str
        R and C labels.
    threshold : int, default 5
        Counts from 1 to ``threshold - 1`` are small. At least 3 when zeros are shown
        (``"<2"`` would mean exactly 1), at least 2 when they are withheld.
    zeros : {"show", "suppress"}, default "show"
        ``"show"`` publishes zeros (an empty cell identifies nobody, and a zero is never
        chosen as a complement, since it cannot hide anything below it). ``"suppress"``
        treats zero as small, for tables where "none" is itself sensitive.

    Returns
    -------
    SuppressedTable

    Notes
    -----
    1. Primary: every cell and total in ``1..threshold-1`` (or ``0..`` with
       ``zeros="suppress"``).
    2. Secondary: each row and column relation of the augmented table with exactly one
       withheld member gets the smallest non-zero published member withheld as well,
       preferring inner cells to totals, ties to the earlier cell; repeated until stable.
    3. Audit: for each withheld cell `feasible_range` solves the reader's linear
       programme; while some cell's range has width 0, the smallest published member of
       its row (else its column) is withheld and step 2 is repeated. The loop ends because
       each pass withholds at least one more cell.

    References
    ----------
    Hundepool, A. et al. (2012). *Statistical Disclosure Control*, Wiley, section 4.2.
    Office for National Statistics (2022). *Disclosure control guidance for tables*.

    Examples
    --------
    >>> t = suppress_table([[2, 9, 12], [8, 7, 10]], ["North", "South"], ["CSE", "CCE", "ASB"])
    >>> [list(r) for r in t.display]
    [['<5', '[c]', '12', '23'], ['[c]', '[c]', '10', '25'], ['10', '16', '22', '48']]
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ValueError(f"threshold must be an integer, got {threshold!r}")
    if zeros not in ("show", "suppress"):
        raise ValueError(f"zeros must be 'show' or 'suppress', got {zeros!r}")
    if threshold < (3 if zeros == "show" else 2):
        raise ValueError(f"threshold {threshold} is too low: '<{threshold}' would reveal the value")
    raw = [list(r) for r in counts]
    if not raw or not raw[0]:
        raise ValueError("counts must have at least one row and one column")
    if any(len(r) != len(raw[0]) for r in raw):
        raise ValueError("counts must be rectangular")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0
           for r in raw for v in r):
        raise ValueError("counts must be non-negative integers")
    if len(row_labels) != len(raw) or len(col_labels) != len(raw[0]):
        raise ValueError(f"need {len(raw)} row labels and {len(raw[0])} column labels, "
                         f"got {len(row_labels)} and {len(col_labels)}")
    table = _augment(np.array(raw, dtype=np.int64))
    low = 0 if zeros == "suppress" else 1
    flags = np.full(table.shape, PUBLISHED, dtype=object)
    flags[(table >= low) & (table < threshold)] = PRIMARY
    _enforce_lines(table, flags, zeros)
    while (exposed := _first_exposed(table, flags, threshold, zeros)) is not None:
        i, j = exposed
        n_rows, n_cols = table.shape
        for line in ([(i, c) for c in range(n_cols)], [(r, j) for r in range(n_rows)]):
            pick = _pick_complement(table, flags, line, zeros)
            if pick is not None:
                flags[pick] = SECONDARY
                break
        else:  # everything around it is withheld already: nothing more to hide with
            break
        _enforce_lines(table, flags, zeros)
    marks = {PRIMARY: f"<{threshold}", SECONDARY: SECONDARY_MARK}
    display = tuple(
        tuple(str(int(v)) if f == PUBLISHED else marks[f] for v, f in zip(row, frow, strict=True))
        for row, frow in zip(table, flags, strict=True)
    )
    values = tuple(tuple(int(v) if f == PUBLISHED else None for v, f in zip(row, frow, strict=True))
                   for row, frow in zip(table, flags, strict=True))
    return SuppressedTable(
        row_labels=(*row_labels, _TOTAL),
        col_labels=(*col_labels, _TOTAL),
        display=display,
        values=values,
        flags=tuple(tuple(str(f) for f in row) for row in flags),
        threshold=threshold,
        zeros=zeros,
        rule_text=_rule_text(threshold, zeros),
    )
