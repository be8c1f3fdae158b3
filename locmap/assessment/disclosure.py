"""Disclosure control for everything partners see of one quarter, checked jointly.

Partners (reviewers from other agencies, the partnership board) see counts of young
people and incidents in several tables at once: by category and district, by category
and case status, by district and risk-assessment status, a quarterly trend. The tables
share margins (the young people of a category are a row total in two tables and the last
column of the trend), so a cell that is safe in its own table can be worked out from
another. :func:`protect` therefore treats all the tables published for one quarter as one
system:

1. **Rounding.** Every published count is rounded to base 5 (:func:`round_to_base`), totals
   independently of their cells, so the published tables need not add up.
2. **Primary suppression.** A count from 1 to ``threshold - 1`` is withheld.
3. **Complementary suppression.** For each withheld cell the attacker's linear programme
   (:func:`attack`) is solved: minimise and maximise the cell subject to every additive
   relation of every table (rows, columns, totals, and cells that are the same number in
   two tables), every published value known only to within its rounding interval
   (``[r-2, r+2]`` for base 5, and never below the threshold unless it is 0), and
   non-negativity. While some withheld cell's interval is narrower than the threshold,
   the smallest published cell sharing a relation with it is withheld too (interior cells
   before totals), and the check is repeated.

Withheld cells all carry the same mark: telling "small" apart from "withheld to protect a
small one" would give the small ones away (an interval of 1 to 4 is narrower than 5).

The protection level is the one of Hundepool et al. (2012), *Statistical Disclosure
Control*, Wiley, section 4.2.2: the feasible interval of every sensitive cell must be at
least as wide as a required protection, here the threshold. The linear programme gives
the attacker real-valued cells, so it is an outer bound of what integer reasoning could
give; withholding more only widens every interval (the feasible set grows), so a cell
that passed once keeps passing while complements are added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

__all__ = [
    "PUBLISHED", "WITHHELD", "ABSENT", "MARK", "BASE", "CellRef", "TableSpec",
    "ReleasedTable", "Release", "round_to_base", "published_bounds", "attack", "protect",
    "partner_value",
]

PUBLISHED, WITHHELD, ABSENT = "published", "withheld", "absent"
MARK = "[c]"
BASE = 5
# (table key, row, column) in the table with its margins: row == n_rows is the total row,
# column == n_cols the total column.
CellRef = tuple[str, int, int]


def round_to_base(n: int, base: int = BASE) -> int:
    """`n` rounded to the nearest multiple of `base`, halves up.

    Examples
    --------
    >>> [round_to_base(n) for n in (0, 2, 3, 7, 8, 12, 13)]
    [0, 0, 5, 5, 10, 10, 15]
    """
    return base * ((n + base // 2) // base)


def partner_value(value: float | None, threshold: int,
                  base: int = BASE) -> float | str | None:
    """One count (or a rate of one) that stands alone, as partners see it: 0, withheld
    below `threshold` (:data:`MARK`), else rounded to `base`. A figure in no additive
    relation needs no complement; anything in a table goes through :func:`protect`.

    Examples
    --------
    >>> [partner_value(v, 5) for v in (None, 0, 2, 4.5, 7, 12.4)]
    [None, 0, '[c]', '[c]', 5, 10]
    """
    if value is None or value == 0:
        return value
    if 0 < value < threshold:
        return MARK
    return round_to_base(int(value + 0.5), base)


def published_bounds(value: int, threshold: int, base: int = BASE) -> tuple[float, float]:
    """What a reader knows of a count published as `value` (already rounded).

    The true count rounds to `value`, and a published count is 0 or at least `threshold`
    (the small ones are withheld), so a published 0 is exactly 0.

    Examples
    --------
    >>> published_bounds(0, 5), published_bounds(5, 5), published_bounds(10, 5)
    ((0.0, 0.0), (5.0, 7.0), (8.0, 12.0))
    """
    if value == 0:
        return 0.0, 0.0
    half = base // 2
    return float(max(value - half, threshold)), float(value + half)


@dataclass(frozen=True)
class TableSpec:
    """One table of counts (inner cells only; margins are derived).

    Attributes
    ----------
    key : str
    counts : sequence of sequence of int
        Exact, non-negative, R × C with R, C ≥ 1.
    row_totals : bool
        Each row's total is published (the last column). False for tables whose rows do
        not add up to anything meaningful (a trend over quarter ends).
    col_totals : bool
        Each column's total is published (the last row). The grand total is published
        when both are.
    """

    key: str
    counts: Sequence[Sequence[int]]
    row_totals: bool = True
    col_totals: bool = True
    floor: int = 0
    """What a reader knows every inner cell to be at least (1 for a list that shows only
    rows with something in them)."""

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.counts), len(self.counts[0])

    def present(self, i: int, j: int) -> bool:
        """Whether cell (i, j) of the table with margins is published at all."""
        r, c = self.shape
        if i == r and j == c:
            return self.row_totals and self.col_totals
        if j == c:
            return self.row_totals
        if i == r:
            return self.col_totals
        return True

    def augmented(self) -> np.ndarray:
        a = np.array([list(r) for r in self.counts], dtype=np.int64)
        r, c = a.shape
        out = np.zeros((r + 1, c + 1), dtype=np.int64)
        out[:r, :c] = a
        out[:r, c] = a.sum(axis=1)
        out[r, :c] = a.sum(axis=0)
        out[r, c] = a.sum()
        return out

    def relations(self) -> list[tuple[CellRef, list[CellRef]]]:
        """(total, members) for every additive relation the table publishes."""
        r, c = self.shape
        k = self.key
        out: list[tuple[CellRef, list[CellRef]]] = []
        if self.row_totals:
            out += [((k, i, c), [(k, i, j) for j in range(c)]) for i in range(r)]
        if self.col_totals:
            out += [((k, r, j), [(k, i, j) for i in range(r)]) for j in range(c)]
        if self.row_totals and self.col_totals:
            out.append(((k, r, c), [(k, r, j) for j in range(c)]))
            out.append(((k, r, c), [(k, i, c) for i in range(r)]))
        return out


@dataclass(frozen=True)
class ReleasedTable:
    """A table as partners get it, margins included (shape R+1 × C+1).

    ``values[i][j]`` is the rounded count, or None where withheld or not published;
    ``flags[i][j]`` is ``"published"``, ``"withheld"`` or ``"absent"`` (a margin the table
    does not publish).
    """

    key: str
    values: tuple[tuple[int | None, ...], ...]
    flags: tuple[tuple[str, ...], ...]

    def display(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(MARK if f == WITHHELD else "" if f == ABSENT else str(v)
                           for v, f in zip(vr, fr, strict=True))
                     for vr, fr in zip(self.values, self.flags, strict=True))


@dataclass(frozen=True)
class Release:
    """Every table published for one quarter, protected together."""

    threshold: int
    base: int
    tables: dict[str, ReleasedTable]
    intervals: dict[CellRef, tuple[float, float]] = field(default_factory=dict)
    """The attacker's interval for each withheld cell, as checked."""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[CellRef, CellRef] = {}

    def find(self, x: CellRef) -> CellRef:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: CellRef, b: CellRef) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class _System:
    """The published cells as variables (linked cells are one variable) and relations."""

    cells: dict[CellRef, int]               # cell -> variable
    names: list[CellRef]                    # variable -> its first cell
    is_total: list[bool]                    # every cell of the variable is a margin
    a_eq: np.ndarray                        # relations: total - sum(members) = 0
    var_relations: list[list[int]]          # variable -> relations it appears in
    rel_vars: list[list[int]]               # relation -> its variables
    floor: list[float]                      # a reader's lower bound when withheld


def _system(specs: Sequence[TableSpec], links: Iterable[tuple[CellRef, CellRef]]) -> _System:
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("table keys must be unique")
    by_key = {s.key: s for s in specs}
    uf = _UnionFind()
    order: list[CellRef] = []
    for s in specs:
        r, c = s.shape
        if r < 1 or c < 1 or any(len(row) != c for row in s.counts):
            raise ValueError(f"table {s.key!r} must be rectangular with at least one cell")
        for i in range(r + 1):
            for j in range(c + 1):
                if s.present(i, j):
                    order.append((s.key, i, j))
                    uf.find((s.key, i, j))
    for a, b in links:
        for ref in (a, b):
            spec = by_key.get(ref[0])
            if spec is None or not (0 <= ref[1] <= spec.shape[0] and 0 <= ref[2] <= spec.shape[1]
                                    and spec.present(ref[1], ref[2])):
                raise ValueError(f"link to a cell that is not published: {ref}")
        uf.union(a, b)
    roots: dict[CellRef, int] = {}
    cells: dict[CellRef, int] = {}
    names: list[CellRef] = []
    is_total: list[bool] = []
    floor: list[float] = []
    for ref in order:
        root = uf.find(ref)
        if root not in roots:
            roots[root] = len(names)
            names.append(ref)
            is_total.append(True)
            floor.append(0.0)
        v = roots[root]
        cells[ref] = v
        r, c = by_key[ref[0]].shape
        if ref[1] < r and ref[2] < c:
            is_total[v] = False
            floor[v] = max(floor[v], float(by_key[ref[0]].floor))
    rows: list[np.ndarray] = []
    rel_vars: list[list[int]] = []
    for s in specs:
        for total, members in s.relations():
            row = np.zeros(len(names))
            row[cells[total]] += 1.0
            for m in members:
                row[cells[m]] -= 1.0
            if row.any():
                rows.append(row)
                rel_vars.append(sorted({cells[total], *(cells[m] for m in members)}))
    var_relations: list[list[int]] = [[] for _ in names]
    for k, vs in enumerate(rel_vars):
        for v in vs:
            var_relations[v].append(k)
    a_eq = np.array(rows) if rows else np.zeros((0, len(names)))
    return _System(cells, names, is_total, a_eq, var_relations, rel_vars, floor)


def _interval(system: _System, bounds: Sequence[tuple[float, float | None]],
              var: int) -> tuple[float, float]:
    """Minimum and maximum of `var` subject to the relations and `bounds` (HiGHS)."""
    n = len(system.names)
    # Only the variables connected to `var` through relations matter; keep the LP small.
    seen, todo = {var}, [var]
    while todo:
        v = todo.pop()
        for k in system.var_relations[v]:
            for w in system.rel_vars[k]:
                if w not in seen and bounds[w][0] != bounds[w][1]:
                    seen.add(w)
                    todo.append(w)
    keep = sorted(seen)
    fixed = [v for v in range(n) if v not in seen]
    rels = sorted({k for v in keep for k in system.var_relations[v]})
    a = system.a_eq[np.ix_(rels, keep)] if rels else np.zeros((0, len(keep)))
    b = (-system.a_eq[np.ix_(rels, fixed)] @ np.array([bounds[v][0] for v in fixed])
         if rels and fixed else np.zeros(len(rels)))
    # A relation with only fixed (published, exact) variables holds no unknown.
    live = np.abs(a).sum(axis=1) > 0 if len(rels) else np.zeros(0, dtype=bool)
    a, b = a[live], b[live]
    index = keep.index(var)
    out = []
    for sense in (1.0, -1.0):
        objective = np.zeros(len(keep))
        objective[index] = sense
        res = linprog(objective, A_eq=a if len(a) else None, b_eq=b if len(a) else None,
                      bounds=[bounds[v] for v in keep], method="highs")
        if res.status == 3:
            out.append(float("inf") if sense < 0 else float("-inf"))
            continue
        if res.status == 2:
            raise ValueError("the published values are inconsistent: no table fits them")
        if res.status != 0:
            raise RuntimeError(f"linear programme failed: {res.message}")
        out.append(sense * float(res.fun))
    return out[0], out[1]


def attack(
    specs: Sequence[TableSpec], published: Mapping[str, Sequence[Sequence[int | None]]], *,
    links: Iterable[tuple[CellRef, CellRef]] = (), threshold: int = 5, base: int = BASE,
) -> dict[CellRef, tuple[float, float]]:
    """The interval an attacker can deduce for every withheld cell, from published values.

    Parameters
    ----------
    specs : sequence of TableSpec
        Only the structure is used (shapes, which margins exist); counts are ignored.
    published : mapping of table key to matrix (R+1 × C+1)
        The released values, rounded; None where withheld (or absent).
    links : pairs of CellRef
        Cells that are the same number in two tables.

    Returns
    -------
    dict
        For each withheld cell (every cell of a linked group listed), ``(min, max)``.
    """
    system = _system(specs, links)
    n = len(system.names)
    known: list[tuple[float, float] | None] = [None] * n
    for ref, v in system.cells.items():
        value = published[ref[0]][ref[1]][ref[2]]
        if value is None:
            continue
        b = published_bounds(int(value), threshold, base)
        if known[v] is None:
            known[v] = b
        else:  # the same number published twice: both intervals hold
            prev = known[v]
            assert prev is not None
            known[v] = (max(prev[0], b[0]), min(prev[1], b[1]))
    bounds = [(system.floor[v], None) if k is None else k for v, k in enumerate(known)]
    out: dict[CellRef, tuple[float, float]] = {}
    cache: dict[int, tuple[float, float]] = {}
    for ref, v in system.cells.items():
        if known[v] is None:
            if v not in cache:
                cache[v] = _interval(system, bounds, v)
            out[ref] = cache[v]
    return out


def protect(
    specs: Sequence[TableSpec], *, links: Iterable[tuple[CellRef, CellRef]] = (),
    threshold: int = 5, base: int = BASE,
) -> Release:
    """Round, suppress and complement every table of one quarter, checked jointly.

    Parameters
    ----------
    specs : sequence of TableSpec
        Every table partners get for the quarter (exact counts).
    links : pairs of CellRef
        Cells that are the same number in two tables (a category's young people as the
        row total of two tables); they are published or withheld together, and a link
        between cells of different values raises ValueError.
    threshold : int, default 5
        Counts from 1 to ``threshold - 1`` are withheld, and every withheld cell's
        feasible interval must be at least ``threshold`` wide.
    base : int, default 5
        Rounding base; ``threshold`` must exceed ``base // 2`` so that a published 0 is 0.

    Returns
    -------
    Release

    Notes
    -----
    The greedy: withheld cells are checked in turn; when one's interval is too narrow, the
    published variable of smallest exact value among those sharing a relation with it
    (inner cells before totals, then table order) is withheld and the same cell checked
    again. When every relation of the cell is withheld throughout, the search widens to
    relations of the withheld cells it is connected to. Each step withholds one more
    variable, so the loop ends; a cell with everything around it withheld can only be
    bounded by non-negativity and passes.

    Examples
    --------
    >>> r = protect([TableSpec("t", [[2, 9, 12], [8, 7, 10]])])
    >>> [list(row) for row in r.tables["t"].display()]
    [['[c]', '10', '10', '25'], ['[c]', '5', '10', '25'], ['10', '15', '20', '50']]
    >>> r.intervals[("t", 0, 0)]  # the 2 could be anything from 0 to 8
    (0.0, 8.0)
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= base // 2:
        raise ValueError(f"threshold must be an integer above {base // 2}, got {threshold!r}")
    if base < 1:
        raise ValueError(f"base must be at least 1, got {base!r}")
    specs = list(specs)
    links = list(links)
    system = _system(specs, links)
    n = len(system.names)
    truth = np.zeros(n, dtype=np.int64)
    assigned = [False] * n
    for s in specs:
        full = s.augmented()
        if (full < 0).any() or (full[:-1, :-1] < s.floor).any():
            raise ValueError(f"table {s.key!r} has a count below {max(s.floor, 0)}")
        for i, j in np.ndindex(full.shape):
            ref = (s.key, i, j)
            if ref not in system.cells:
                continue
            v = system.cells[ref]
            if assigned[v] and truth[v] != full[i, j]:
                raise ValueError(f"linked cells differ: {system.names[v]} = {truth[v]} but "
                                 f"{ref} = {full[i, j]}")
            truth[v], assigned[v] = full[i, j], True
    withheld = [bool(0 < t < threshold) for t in truth]

    def bounds() -> list[tuple[float, float | None]]:
        return [(system.floor[v], None) if withheld[v]
                else published_bounds(round_to_base(int(truth[v]), base), threshold, base)
                for v in range(n)]

    def candidate(var: int) -> int | None:
        relations = list(system.var_relations[var])
        seen_rel, seen_var = set(relations), {var}
        while relations:
            pool = {w for k in relations for w in system.rel_vars[k] if not withheld[w]}
            if pool:
                return min(pool, key=lambda w: (system.is_total[w], int(truth[w]), w))
            nxt = []
            for k in relations:
                for w in system.rel_vars[k]:
                    if w in seen_var:
                        continue
                    seen_var.add(w)
                    for k2 in system.var_relations[w]:
                        if k2 not in seen_rel:
                            seen_rel.add(k2)
                            nxt.append(k2)
            relations = nxt
        return None

    intervals: dict[int, tuple[float, float]] = {}
    queue = [v for v in range(n) if withheld[v]]
    while queue:
        v = queue[0]
        low, high = _interval(system, bounds(), v)
        if high - low >= threshold:
            intervals[v] = (low, high)
            queue.pop(0)
            continue
        pick = candidate(v)
        if pick is None:  # nothing left to withhold around it
            intervals[v] = (low, high)
            queue.pop(0)
            continue
        withheld[pick] = True
        queue.append(pick)
    tables: dict[str, ReleasedTable] = {}
    for s in specs:
        r, c = s.shape
        values, flags = [], []
        for i in range(r + 1):
            vrow: list[int | None] = []
            frow: list[str] = []
            for j in range(c + 1):
                ref = (s.key, i, j)
                if ref not in system.cells:
                    vrow.append(None)
                    frow.append(ABSENT)
                elif withheld[system.cells[ref]]:
                    vrow.append(None)
                    frow.append(WITHHELD)
                else:
                    vrow.append(round_to_base(int(truth[system.cells[ref]]), base))
                    frow.append(PUBLISHED)
            values.append(tuple(vrow))
            flags.append(tuple(frow))
        tables[s.key] = ReleasedTable(s.key, tuple(values), tuple(flags))
    return Release(threshold=threshold, base=base, tables=tables,
                   intervals={ref: intervals[v] for ref, v in system.cells.items()
                              if v in intervals})
