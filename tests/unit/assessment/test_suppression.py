"""Small-number suppression, checked by solving the reader's linear programme.

For every withheld cell the tests minimise and maximise it with scipy's linprog subject
to everything published: the other cells, row and column totals, the grand total and
non-negativity. The cell is protected when that range has width > 0.
"""

import json

import numpy as np
import pytest
from scipy.optimize import linprog

from locmap.assessment.suppression import suppress_table


def _augmented(counts):
    a = np.array(counts, dtype=float)
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    out[:-1, :-1] = a
    out[:-1, -1] = a.sum(axis=1)
    out[-1, :-1] = a.sum(axis=0)
    out[-1, -1] = a.sum()
    return out


def _ranges(counts, withheld, lower=None, upper=None):
    """Attacker's interval for each withheld cell of the augmented table.

    Written independently of the module: variables are the withheld cells; each row of
    the augmented table says inner cells sum to its last cell, each column likewise.
    """
    full = _augmented(counts)
    n_rows, n_cols = full.shape
    cells = sorted(withheld)
    index = {c: k for k, c in enumerate(cells)}
    a_eq, b_eq = [], []
    relations = [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    relations += [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    for rel in relations:
        coef = np.zeros(len(cells))
        rhs = 0.0
        for pos, cell in enumerate(rel):
            sign = -1.0 if pos == len(rel) - 1 else 1.0
            if cell in index:
                coef[index[cell]] += sign
            else:
                rhs -= sign * full[cell]
        if coef.any():
            a_eq.append(coef)
            b_eq.append(rhs)
    bounds = [((lower or {}).get(c, 0), (upper or {}).get(c)) for c in cells]
    out = {}
    for cell in cells:
        ends = []
        for sense in (1, -1):
            obj = np.zeros(len(cells))
            obj[index[cell]] = sense
            res = linprog(obj, A_eq=np.array(a_eq) if a_eq else None,
                          b_eq=np.array(b_eq) if b_eq else None, bounds=bounds, method="highs")
            ends.append(np.inf if res.status == 3 else sense * res.fun)
        out[cell] = (ends[0], ends[1], full[cell])
    return out


def _withheld(table):
    return {(i, j) for i, row in enumerate(table.flags) for j, f in enumerate(row)
            if f != "published"}


def _assert_protected(counts, table):
    # 1. the brief's attacker: published values, totals and non-negativity
    for cell, (low, high, truth) in _ranges(counts, _withheld(table)).items():
        assert high - low > 0.5, f"cell {cell} = {truth} pinned to [{low}, {high}]"
        assert low - 1e-6 <= truth <= high + 1e-6
    # 2. a sharper attacker who also reads the marks: "<t" is 1..t-1, "[c]" is >= t
    t = table.threshold
    lower, upper = {}, {}
    for cell in _withheld(table):
        if table.flags[cell[0]][cell[1]] == "primary":
            lower[cell], upper[cell] = (0 if table.zeros == "suppress" else 1), t - 1
        else:
            lower[cell] = t
    for cell, (low, high, truth) in _ranges(counts, _withheld(table), lower, upper).items():
        assert high - low > 0.5, f"cell {cell} = {truth} pinned to [{low}, {high}] by the marks"


def _assert_all_small_withheld(counts, table, zeros="show"):
    full = _augmented(counts)
    low = 0 if zeros == "suppress" else 1
    for (i, j), v in np.ndenumerate(full):
        if low <= v < table.threshold:
            assert table.flags[i][j] == "primary"
            assert table.display[i][j] == f"<{table.threshold}"
            assert table.values[i][j] is None
        if table.flags[i][j] == "published":
            assert table.values[i][j] == v and table.display[i][j] == str(int(v))


def _labels(counts):
    return [f"r{i}" for i in range(len(counts))], [f"c{j}" for j in range(len(counts[0]))]


def test_naive_primary_only_suppression_leaks_and_this_method_blocks_it():
    counts = [[2, 10, 11], [12, 10, 9], [8, 13, 15]]
    # naive: withhold only the 2; row 0 total 23 minus 10 and 11 gives it back exactly
    leak = _ranges(counts, {(0, 0)})
    assert leak[(0, 0)][:2] == (2.0, 2.0)
    table = suppress_table(counts, *_labels(counts))
    assert table.flags[0][0] == "primary"
    assert len(_withheld(table)) >= 4  # a rectangle at least
    _assert_protected(counts, table)
    # the complements are the smallest non-zero cells of row 0 and column 0
    assert table.flags[0][1] == "secondary" and table.flags[2][0] == "secondary"


def test_two_small_cells_in_one_row_are_pinned_by_the_marks_unless_protected():
    # a and b in a row sum to 2 given the published rest; "<5" means >= 1, so both are 1
    counts = [[1, 1, 20, 30], [6, 7, 8, 9], [10, 11, 12, 13]]
    naive = {(0, 0), (0, 1)}
    pinned = _ranges(counts, naive, {(0, 0): 1, (0, 1): 1}, {(0, 0): 4, (0, 1): 4})
    assert pinned[(0, 0)][:2] == (1.0, 1.0)
    table = suppress_table(counts, *_labels(counts))
    _assert_protected(counts, table)


def test_doc_example_display_and_rule_text():
    t = suppress_table([[2, 9, 12], [8, 7, 10]], ["North", "South"], ["CSE", "CCE", "ASB"])
    assert t.display == (("<5", "[c]", "12", "23"), ("[c]", "[c]", "10", "25"),
                         ("10", "16", "22", "48"))
    assert t.row_labels == ("North", "South", "Total")
    assert "1 to 4" in t.rule_text and '"<5"' in t.rule_text and "[c]" in t.rule_text
    data = json.loads(json.dumps(t.to_dict()))
    assert data["values"][0] == [None, None, 12, 23]
    assert t.suppressed_count == 4


def test_nothing_small_means_nothing_withheld():
    counts = [[5, 6], [7, 0]]
    t = suppress_table(counts, *_labels(counts))
    assert t.suppressed_count == 0
    assert t.display[1] == ("7", "0", "7")


def test_zeros_shown_or_withheld():
    counts = [[0, 12, 9], [14, 7, 6], [5, 8, 11]]
    shown = suppress_table(counts, *_labels(counts), zeros="show")
    assert shown.suppressed_count == 0 and shown.display[0][0] == "0"
    hidden = suppress_table(counts, *_labels(counts), zeros="suppress")
    assert hidden.flags[0][0] == "primary" and hidden.display[0][0] == "<5"
    assert "Zeros are withheld" in hidden.rule_text
    _assert_protected(counts, hidden)


def test_small_totals_are_withheld_and_protected():
    # row 0 total is 3: a small number of young people in that district, so withheld
    counts = [[1, 2, 0], [9, 8, 12], [7, 15, 6]]
    t = suppress_table(counts, *_labels(counts))
    assert t.flags[0][3] == "primary"
    _assert_all_small_withheld(counts, t)
    _assert_protected(counts, t)


def test_configurable_threshold():
    counts = [[7, 12, 30], [20, 25, 9]]
    t = suppress_table(counts, *_labels(counts), threshold=10)
    assert t.display[0][0] == "<10" and t.display[1][2] == "<10"
    assert "1 to 9" in t.rule_text
    _assert_protected(counts, t)


@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (1, 1), (2, 2), (3, 4), (6, 5), (8, 3)])
def test_seeded_random_tables_are_protected(shape):
    rng = np.random.default_rng(sum(shape) * 101 + shape[0])
    for _ in range(12):
        # a mixture of zeros, small and larger counts so every rule is exercised
        counts = rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 14, 30], size=shape,
                            p=[.15, .1, .1, .1, .1, .1, .1, .1, .1, .05]).tolist()
        for zeros in ("show", "suppress"):
            t = suppress_table(counts, *_labels(counts), zeros=zeros)
            _assert_all_small_withheld(counts, t, zeros)
            if t.suppressed_count:
                _assert_protected(counts, t)
            # no row or column of the augmented table has exactly one withheld cell
            flags = np.array(t.flags)
            withheld = flags != "published"
            assert not (withheld.sum(axis=0) == 1).any()
            assert not (withheld.sum(axis=1) == 1).any()


def test_single_row_table_withholds_matching_column_totals():
    counts = [[3, 10, 12, 8]]
    t = suppress_table(counts, ["Park"], ["CSE", "CCE", "ASB", "Drugs"])
    # the column total of a single row equals the cell, so it must go too
    assert t.flags[1][0] != "published"
    _assert_protected(counts, t)


def test_does_not_mutate_input():
    counts = [[2, 10], [10, 10]]
    suppress_table(counts, *_labels(counts))
    assert counts == [[2, 10], [10, 10]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts": []}, "at least one row"),
        ({"counts": [[1, 2], [3]]}, "rectangular"),
        ({"counts": [[1, -2]]}, "non-negative integers"),
        ({"counts": [[1.5, 2]]}, "non-negative integers"),
        ({"threshold": 2}, "too low"),
        ({"threshold": 1, "zeros": "suppress"}, "too low"),
        ({"zeros": "blank"}, "zeros must be"),
        ({"col_labels": ["a"]}, "need 1 row labels and 2 column labels, got 1 and 1"),
    ],
)
def test_validation(kwargs, message):
    args = {"counts": [[1, 2]], "row_labels": ["r"], "col_labels": ["a", "b"]} | kwargs
    if "counts" in kwargs and kwargs["counts"] and "row_labels" not in kwargs:
        args["row_labels"] = [f"r{i}" for i in range(len(kwargs["counts"]))]
    with pytest.raises(ValueError, match=message):
        suppress_table(args.pop("counts"), args.pop("row_labels"), args.pop("col_labels"), **args)
