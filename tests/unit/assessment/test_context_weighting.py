"""Context weighting: shares of 100 that rebalance, with answers known by construction."""

import random

import pytest

from locmap.assessment.context_weighting import (
    TOTAL,
    Context,
    ContextLink,
    ContextWeighting,
    add_context,
    apportion,
    diff,
    link_contexts,
    remove_context,
    set_share,
    validate_weighting,
    weightiest,
)


def _w(*shares, links=()):
    kinds = ["place", "peer_group", "school", "online", "home", "other"]
    return ContextWeighting(
        tuple(Context(f"C{i}", s, f"reason {i}", kinds[i % len(kinds)])
              for i, s in enumerate(shares)),
        tuple(links),
    )


def _shares(w):
    return [c.share for c in w.contexts]


def _random_weighting(rng, n):
    cuts = sorted(rng.randint(0, TOTAL) for _ in range(n - 1))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, TOTAL], strict=True)]
    return _w(*shares)


# --- validation -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("weighting", "message"),
    [
        (ContextWeighting(()), "at least one context"),
        (_w(60, 30), "sum to 100, got 90"),
        (_w(110, -10), "between 0 and 100"),
        (ContextWeighting((Context("Park", 50, "a"), Context("park ", 50, "b"))), "more than once"),
        (ContextWeighting((Context("", 100, "a"),)), "name must not be empty"),
        (ContextWeighting((Context("Park", 100, "two\nlines"),)), "one line"),
        (ContextWeighting((Context("Park", 100, "x" * 201),)), "201 characters"),
        (ContextWeighting((Context("Park", 100, " "),)), "must not be empty"),
        (ContextWeighting((Context("Park", 100, "a", "street"),)), "kind of 'Park'"),
        (ContextWeighting((Context("Park", 100.0, "a"),)), "must be an integer"),  # type: ignore[arg-type]
        (ContextWeighting((Context("Park", True, "a"),)), "must be an integer"),
        (_w(50, 50, links=[ContextLink("C0", "C9", "n")]), "unknown context 'C9'"),
        (_w(50, 50, links=[ContextLink("C0", "C0", "n")]), "linked to itself"),
        (_w(50, 50, links=[ContextLink("C0", "C1", "n"), ContextLink("C1", "C0", "m")]),
         "linked more than once"),
    ],
)
def test_validate_rejects_malformed_weightings(weighting, message):
    with pytest.raises(ValueError, match=message):
        validate_weighting(weighting)


def test_validate_accepts_zero_shares_and_200_character_reason():
    validate_weighting(ContextWeighting((Context("Park", 100, "x" * 200), Context("Home", 0, "y"))))


# --- apportion ------------------------------------------------------------------------

def test_apportion_known_values():
    assert apportion([1, 1, 1], 100) == (34, 33, 33)
    assert apportion([0, 0], 7) == (4, 3)  # all-zero weights split evenly, earlier first
    assert apportion([2, 1], 0) == (0, 0)
    assert apportion([1, 3], 10) == (2, 8)  # quotas 2.5 and 7.5: tie on remainder -> larger weight
    assert apportion([], 0) == ()


def test_apportion_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative integers"):
        apportion([1, -1], 10)
    with pytest.raises(ValueError, match="no parts"):
        apportion([], 3)


# --- set_share ------------------------------------------------------------------------

def test_set_share_hand_computed():
    w = _w(50, 30, 20)
    # the other two share 80 in the ratio 30:20 -> 48 and 32 exactly
    assert _shares(set_share(w, "C0", 20)) == [20, 48, 32]
    # 3 contexts sharing 10 in ratio 50:30:20 -> 5, 3, 2
    assert _shares(set_share(_w(50, 30, 20, 0), "C3", 90)) == [5, 3, 2, 90]


def test_set_share_does_not_mutate_and_keeps_reasons_and_links():
    w = _w(50, 30, 20, links=[ContextLink("C0", "C1", "meets there")])
    new = set_share(w, "C2", 60)
    assert _shares(w) == [50, 30, 20]
    assert [c.reason for c in new.contexts] == [c.reason for c in w.contexts]
    assert new.links == w.links


def test_set_share_from_all_zero_others_splits_evenly():
    assert _shares(set_share(_w(100, 0, 0), "C0", 40)) == [40, 30, 30]


def test_set_share_errors():
    with pytest.raises(ValueError, match="no context called 'Nope'"):
        set_share(_w(100), "Nope", 10)
    with pytest.raises(ValueError, match="only context must hold all 100"):
        set_share(_w(100), "C0", 40)
    with pytest.raises(ValueError, match="between 0 and 100"):
        set_share(_w(50, 50), "C0", 101)


def test_set_share_properties_on_seeded_random_cases():
    rng = random.Random(20240601)
    for _ in range(2000):
        n = rng.randint(2, 7)
        w = _random_weighting(rng, n)
        target = f"C{rng.randrange(n)}"
        new_share = rng.randint(0, TOTAL)
        new = set_share(w, target, new_share)
        validate_weighting(new)
        assert sum(_shares(new)) == TOTAL
        assert new.share_of(target) == new_share
        untouched = [(c, n_) for c, n_ in zip(w.contexts, new.contexts, strict=True)
                     if c.name != target]
        target_shrinks = new_share < w.share_of(target)
        for old_c, new_c in untouched:
            # every other context moves in the opposite direction to the one resized
            assert (new_c.share >= old_c.share) if target_shrinks else (new_c.share <= old_c.share)
        for a_old, a_new in untouched:
            for b_old, b_new in untouched:
                if a_old.share > b_old.share:
                    assert a_new.share >= b_new.share
                if a_old.share == b_old.share:
                    assert abs(a_new.share - b_new.share) <= 1


# --- add / remove ---------------------------------------------------------------------

def test_add_context_shrinks_others_proportionally():
    new = add_context(_w(60, 40), "Online", 50, "Group chat organises meet-ups", "online")
    assert _shares(new) == [30, 20, 50]
    assert new.contexts[-1] == Context("Online", 50, "Group chat organises meet-ups", "online")


def test_add_context_errors():
    with pytest.raises(ValueError, match="cannot take all 100"):
        add_context(_w(100), "X", 100, "r")
    with pytest.raises(ValueError, match="more than once"):
        add_context(_w(100), "c0", 10, "r")


def test_remove_context_redistributes_and_drops_links():
    w = _w(50, 30, 20, links=[ContextLink("C0", "C1", "a"), ContextLink("C1", "C2", "b")])
    new = remove_context(w, "C0")
    assert _shares(new) == [60, 40]
    assert new.links == (ContextLink("C1", "C2", "b"),)
    with pytest.raises(ValueError, match="only context"):
        remove_context(_w(100), "C0")


def test_add_then_remove_on_seeded_random_cases():
    rng = random.Random(7)
    for _ in range(500):
        w = _random_weighting(rng, rng.randint(1, 6))
        added = add_context(w, "New", rng.randint(0, 99), "r")
        assert sum(_shares(added)) == TOTAL
        back = remove_context(added, "New")
        assert sum(_shares(back)) == TOTAL
        assert [c.name for c in back.contexts] == [c.name for c in w.contexts]


def test_link_contexts():
    new = link_contexts(_w(50, 50), "C0", "C1", "after school")
    assert new.links == (ContextLink("C0", "C1", "after school"),)
    with pytest.raises(ValueError, match="linked more than once"):
        link_contexts(new, "C1", "C0", "again")


# --- weightiest and diff --------------------------------------------------------------

def test_weightiest_single_and_tie():
    single = weightiest(_w(20, 50, 30))
    assert (single.names, single.share, single.is_tie) == (("C1",), 50, False)
    tie = weightiest(_w(40, 20, 40))
    assert (tie.names, tie.is_tie) == (("C0", "C2"), True)
    assert tie.to_dict() == {"names": ["C0", "C2"], "share": 40, "is_tie": True}


def test_diff_reports_added_removed_changed_and_links():
    a = _w(50, 30, 20, links=[ContextLink("C0", "C1", "a")])
    b = ContextWeighting(
        (Context("C0", 50, "new reason", "place"), Context("C1", 10, "reason 1", "peer_group"),
         Context("Online", 40, "chat", "online")),
        (ContextLink("C1", "Online", "b"),),
    )
    d = diff(a, b)
    assert [c.name for c in d.added] == ["Online"]
    assert [c.name for c in d.removed] == ["C2"]
    assert [(c.name, c.before, c.after, c.delta) for c in d.changed] == [("C1", 30, 10, -20)]
    assert d.reasons_changed == ("C0",)
    assert d.links_added == (ContextLink("C1", "Online", "b"),)
    assert d.links_removed == (ContextLink("C0", "C1", "a"),)
    assert not d.is_empty
    assert diff(a, a).is_empty


def test_to_dict_is_json_ready():
    import json

    w = _w(70, 30, links=[ContextLink("C0", "C1", "n")])
    data = json.loads(json.dumps(w.to_dict()))
    assert data["total"] == 100
    assert data["contexts"][0] == {"name": "C0", "share": 70, "reason": "reason 0", "kind": "place",
                                  "place_id": None}
    changed = json.loads(json.dumps(diff(w, set_share(w, "C0", 10)).to_dict()))["changed"]
    assert changed[0]["delta"] == -60


# --- contexts that refer to the pilot's records (issue 19) -------------------------------

def test_kind_of_place_keeps_the_context_kinds_and_calls_the_rest_places():
    from locmap.assessment.context_weighting import CONTEXT_KINDS, kind_of_place
    assert [kind_of_place(k) for k in ("peer_group", "school", "online")] == [
        "peer_group", "school", "online"]
    assert {kind_of_place(k) for k in ("park", "street", "fast_food", "other")} == {"place"}
    assert all(kind_of_place(k) in CONTEXT_KINDS for k in ("park", "school", "home"))


def test_a_record_is_weighted_once_and_is_a_positive_integer():
    ok = ContextWeighting((Context("Library", 60, "a", "place", 7),
                           Context("Group A", 40, "b", "peer_group", 9)))
    validate_weighting(ok)
    twice = ContextWeighting((Context("Library", 60, "a", "place", 7),
                              Context("The library again", 40, "b", "place", 7)))
    with pytest.raises(ValueError, match="weighted already"):
        validate_weighting(twice)
    for bad in (0, -3, True, "7", 1.0):
        with pytest.raises(ValueError, match="positive integer"):
            validate_weighting(ContextWeighting((Context("Library", 100, "a", "place", bad),)))


def test_rebalancing_keeps_each_contexts_record():
    w = ContextWeighting((Context("Library", 100, "a", "place", 7),))
    w = add_context(w, "Group A", 30, "meets there", "peer_group", 9)
    assert [(c.name, c.kind, c.place_id, c.share) for c in w.contexts] == [
        ("Library", "place", 7, 70), ("Group A", "peer_group", 9, 30)]
    assert [c.place_id for c in set_share(w, "Group A", 50).contexts] == [7, 9]
    assert [c.place_id for c in remove_context(w, "Library").contexts] == [9]
    assert w.to_dict()["contexts"][1]["place_id"] == 9
    with pytest.raises(ValueError, match="weighted already"):
        add_context(w, "Group A again", 10, "x", "peer_group", 9)


def test_diff_names_contexts_whose_record_changed():
    a = ContextWeighting((Context("Library", 60, "a", "place", 7),
                          Context("Group A", 40, "b", "other")))
    b = ContextWeighting((Context("Library", 60, "a", "place", 7),
                          Context("Group A", 40, "b", "peer_group", 9)))
    d = diff(a, b)
    assert d.records_changed == ("Group A",) and not d.is_empty
    assert d.to_dict()["records_changed"] == ["Group A"]
    assert diff(b, b).is_empty
