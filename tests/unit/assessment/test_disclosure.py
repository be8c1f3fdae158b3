"""Joint disclosure control: the attacker's linear programme and the greedy that beats it.

The audit (`attack`) sees only what partners see: rounded values, withheld marks, the
tables' additive relations and which cells are the same number in two tables. Hand-built
attacks check that it catches each way a withheld count can be worked out; hypothesis
checks that every release `protect` makes leaves each withheld count at least the
threshold wide.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locmap.assessment.disclosure import (
    ABSENT,
    PUBLISHED,
    WITHHELD,
    TableSpec,
    attack,
    protect,
    published_bounds,
    round_to_base,
)

N = None


def test_a_total_minus_the_visible_cells_recovers_a_withheld_one() -> None:
    # Without rounding (base 1): 25 - 10 - 12 = 3, exactly.
    spec = [TableSpec("t", [[3, 10, 12]], col_totals=False)]
    got = attack(spec, {"t": [[N, 10, 12, 25], [N, N, N, N]]}, base=1)
    assert got[("t", 0, 0)] == (3.0, 3.0)


def test_rounding_intervals_are_used_but_published_zeros_are_exact() -> None:
    # 0 and 0 are exact (1 and 2 would have been withheld), the total 5 means 5..7:
    # the withheld cell is pinned to 5..7, narrower than the threshold.
    spec = [TableSpec("t", [[5, 0, 0]], col_totals=False)]
    low, high = attack(spec, {"t": [[N, 0, 0, 5], [N, N, N, N]]})[("t", 0, 0)]
    assert (low, high) == (5.0, 7.0) and high - low < 5


def test_a_chain_of_relations_pins_a_cell_its_own_lines_do_not() -> None:
    # Exact values (base 1). An L of three withheld cells: row 1 has one withheld cell,
    # so it is pinned, and then column 0 pins the 2 although its own row has two.
    counts = [[2, 6, 8], [7, 9, 10], [11, 12, 13]]
    full = [[N, N, 8, 16], [N, 9, 10, 26], [11, 12, 13, 36], [20, 27, 31, 78]]
    got = attack([TableSpec("t", counts)], {"t": full}, base=1)
    assert got[("t", 0, 0)] == (2.0, 2.0) and got[("t", 0, 1)] == (6.0, 6.0)
    # A 2x2 block is the classic protected pattern: one degree of freedom is left.
    full[1][1] = N
    got = attack([TableSpec("t", counts)], {"t": full}, base=1)
    assert got[("t", 0, 0)] == (0.0, 8.0)


def test_a_cell_safe_in_its_own_table_is_caught_through_another_table() -> None:
    # Alone, x + y = 10 leaves x anywhere in 0..10; but y is published in table B.
    a = TableSpec("a", [[3, 7]], col_totals=False)
    b = TableSpec("b", [[7]], row_totals=False, col_totals=False)
    alone = attack([a], {"a": [[N, N, 10], [N, N, N]]}, base=1)
    assert alone[("a", 0, 0)] == (0.0, 10.0)
    joint = attack([a, b], {"a": [[N, N, 10], [N, N, N]], "b": [[7, N], [N, N]]},
                   links=[(("a", 0, 1), ("b", 0, 0))], base=1)
    assert joint[("a", 0, 0)] == (3.0, 3.0)


def test_an_unbounded_withheld_cell_has_an_infinite_interval() -> None:
    got = attack([TableSpec("t", [[3, 9]], col_totals=False)], {"t": [[N, N, N], [N] * 3]})
    assert got[("t", 0, 0)] == (0.0, float("inf"))


def test_a_list_of_non_empty_rows_tells_the_reader_each_is_at_least_one() -> None:
    # Places listed only when they had incidents: two withheld rows summing to 5..7.
    spec = TableSpec("t", [[3], [4], [20]], row_totals=False)
    got = attack([spec], {"t": [[N, N], [N, N], [20, N], [25, N]]})
    assert got[("t", 0, 0)] == (0.0, 9.0)
    floored = TableSpec("t", [[3], [4], [20]], row_totals=False, floor=1)
    assert attack([floored], {"t": [[N, N], [N, N], [20, N], [25, N]]})[("t", 0, 0)] == (1.0, 8.0)
    release = protect([floored])
    assert all(high - low >= 5 for low, high in release.intervals.values())
    with pytest.raises(ValueError, match="below 1"):
        protect([TableSpec("t", [[0], [4]], floor=1)])


def test_rounding_and_bounds() -> None:
    assert [round_to_base(n) for n in (5, 7, 8, 12, 13, 102)] == [5, 5, 10, 10, 15, 100]
    assert published_bounds(5, 5) == (5.0, 7.0)  # a published count is never below 5
    assert published_bounds(20, 5) == (18.0, 22.0)


def test_protect_withholds_small_counts_rounds_everything_and_passes_its_own_audit() -> None:
    specs = [TableSpec("t", [[2, 9, 12], [8, 7, 10], [0, 0, 1]])]
    release = protect(specs)
    t = release.tables["t"]
    truth = specs[0].augmented()
    for i, row in enumerate(t.values):
        for j, v in enumerate(row):
            if 0 < truth[i, j] < 5:
                assert t.flags[i][j] == WITHHELD and v is None
            if t.flags[i][j] == PUBLISHED:
                assert v is not None and v % 5 == 0 and abs(v - truth[i, j]) <= 2
    got = attack(specs, {"t": t.values})
    assert got and all(high - low >= 5 for low, high in got.values())
    assert set(got) == {(k, i, j) for (k, i, j) in release.intervals}


def test_linked_cells_are_withheld_together_and_must_agree() -> None:
    a = TableSpec("a", [[3, 20], [10, 11]])
    b = TableSpec("b", [[23], [21]], row_totals=False)
    links = [(("a", 0, 2), ("b", 0, 0)), (("a", 1, 2), ("b", 1, 0)),
             (("a", 2, 2), ("b", 2, 0))]
    release = protect([a, b], links=links)
    for (ta, ia, ja), (tb, ib, jb) in links:
        assert (release.tables[ta].flags[ia][ja]
                == release.tables[tb].flags[ib][jb])
    assert release.tables["b"].flags[0][1] == ABSENT
    with pytest.raises(ValueError, match="linked cells differ"):
        protect([a, TableSpec("b", [[22], [21]], row_totals=False)], links=links)


def test_protect_refuses_a_threshold_a_rounded_zero_could_hide() -> None:
    with pytest.raises(ValueError):
        protect([TableSpec("t", [[1]])], threshold=2)


@st.composite
def quarters(draw: st.DrawFn) -> tuple[list[TableSpec], list[tuple]]:
    """Young people by category x district and category x status, plus a trend whose
    last column is this quarter: the dashboard's shape, with its shared margins."""
    n_cat = draw(st.integers(1, 4))
    n_dist = draw(st.integers(1, 3))
    n_stat = draw(st.integers(1, 3))
    small = st.integers(0, 14)
    people = draw(st.lists(st.tuples(st.integers(0, n_cat - 1), st.integers(0, n_dist - 1),
                                     st.integers(0, n_stat - 1)), max_size=60))
    extra = draw(st.lists(st.lists(small, min_size=n_cat, max_size=n_cat), max_size=2))
    by_dist = [[sum(1 for c, d, _ in people if c == i and d == j) for j in range(n_dist)]
               for i in range(n_cat)]
    by_stat = [[sum(1 for c, _, s in people if c == i and s == j) for j in range(n_stat)]
               for i in range(n_cat)]
    now = [sum(r) for r in by_dist]
    trend = [[*(min(col[i], now[i]) for col in extra), now[i]] for i in range(n_cat)]
    specs = [TableSpec("dist", by_dist), TableSpec("stat", by_stat),
             TableSpec("trend", trend, row_totals=False)]
    last = len(trend[0]) - 1
    links = [(("dist", i, n_dist), ("stat", i, n_stat)) for i in range(n_cat + 1)]
    links += [(("dist", i, n_dist), ("trend", i, last)) for i in range(n_cat + 1)]
    return specs, links


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quarters())
def test_every_published_quarter_passes_the_joint_check(
        quarter: tuple[list[TableSpec], list[tuple]]) -> None:
    specs, links = quarter
    release = protect(specs, links=links)
    published = {k: t.values for k, t in release.tables.items()}
    for s in specs:
        truth = s.augmented()
        t = release.tables[s.key]
        for i, row in enumerate(t.flags):
            for j, f in enumerate(row):
                if f == PUBLISHED:
                    assert 0 == truth[i, j] or truth[i, j] >= 5
                    assert t.values[i][j] == round_to_base(int(truth[i, j]))
    got = attack(specs, published, links=links)
    for ref, (low, high) in got.items():
        assert high - low >= 5, (ref, low, high)
        truth = dict(((s.key, i, j), v) for s in specs
                     for (i, j), v in __import__("numpy").ndenumerate(s.augmented()))
        assert low - 1e-6 <= truth[ref] <= high + 1e-6
