"""Change in a peer network between two dates: ties added and ended, groups merged or split.

Builds the network as of an earlier and a later date, finds peer groups at each with the
same seed, and matches groups across the dates by member overlap (Jaccard index). With
overlaps at or above a threshold, an earlier group matched to one later group that is
matched only to it has *continued*; matched to several it has *split*; a later group
matched to several earlier ones is a *merge*; unmatched groups have *dissolved* or *formed*.
Ties are compared record by record, so a friendship that turned harmful shows as one tie
ended and one added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from locmap.network._serial import to_jsonable
from locmap.network.groups import PeerGroups, find_peer_groups
from locmap.network.model import PersonNode, Tie, build_people_graph, in_force

__all__ = ["GroupEvent", "GroupOverlap", "NetworkChange", "jaccard", "network_change"]


@dataclass(frozen=True, slots=True)
class GroupOverlap:
    """Member overlap between a group at the start and a group at the end."""

    before: str
    after: str
    shared: int
    jaccard: float


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """What happened to groups: continued, split, merged, formed or dissolved."""

    kind: str
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkChange:
    """Ties added and ended, and group events, between ``start`` and ``end``."""

    start: dt.date
    end: dt.date
    ties_added: tuple[Tie, ...]
    ties_ended: tuple[Tie, ...]
    groups_before: PeerGroups
    groups_after: PeerGroups
    overlaps: tuple[GroupOverlap, ...]
    events: tuple[GroupEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = to_jsonable(self)
        return out


def jaccard(a: Iterable[object], b: Iterable[object]) -> float:
    """Jaccard index ``|A ∩ B| / |A ∪ B|`` of two sets (0.0 when both are empty).

    Examples
    --------
    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def _label_key(label: str) -> tuple[int, str]:
    return (len(label), label)


def network_change(
    people: Iterable[PersonNode],
    ties: Iterable[Tie],
    start: dt.date,
    end: dt.date,
    *,
    seed: int = 0,
    resolution: float = 1.0,
    match_threshold: float = 0.3,
) -> NetworkChange:
    """Compare the network as of ``start`` with the network as of ``end``.

    Parameters
    ----------
    people : iterable of PersonNode
    ties : iterable of Tie
    start, end : datetime.date
        The two dates; ``start`` must be before ``end``.
    seed, resolution : int, float
        Passed to :func:`~locmap.network.groups.find_peer_groups` for both dates.
    match_threshold : float
        Smallest Jaccard index (0 < t <= 1) for two groups to count as matched.

    Returns
    -------
    NetworkChange
        Group labels are those of each date's own partition; events name both sides.

    Examples
    --------
    >>> import datetime as dt
    >>> from locmap.network.model import PersonNode, Tie
    >>> people = [PersonNode(i, f"YP-{i}", "young_person") for i in range(3)]
    >>> ties = [Tie(0, 1, "friend", "neutral"),
    ...         Tie(1, 2, "friend", "neutral", since=dt.date(2024, 3, 1))]
    >>> change = network_change(people, ties, dt.date(2024, 1, 1), dt.date(2024, 6, 1))
    >>> [(t.a_id, t.b_id) for t in change.ties_added], change.events[0].kind
    ([(1, 2)], 'continued')

    References
    ----------
    Greene, D., Doyle, D. and Cunningham, P. (2010) "Tracking the evolution of
    communities in dynamic social networks", ASONAM 2010 (Jaccard matching, threshold 0.3).
    """
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ValueError("start and end must be dates")
    if not start < end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    if not 0 < match_threshold <= 1:
        raise ValueError(f"match_threshold must be in (0, 1], got {match_threshold!r}")
    people, ties = list(people), list(ties)
    before = find_peer_groups(
        build_people_graph(people, ties, as_of=start), seed=seed, resolution=resolution
    )
    after = find_peer_groups(
        build_people_graph(people, ties, as_of=end), seed=seed, resolution=resolution
    )
    was = [t for t in ties if in_force(t.since, t.until, start)]
    now = [t for t in ties if in_force(t.since, t.until, end)]
    was_set, now_set = set(was), set(now)
    overlaps: list[GroupOverlap] = []
    for old in before.groups:
        old_members = set(old.members)
        for new in after.groups:
            shared = len(old_members.intersection(new.members))
            if shared:
                j = jaccard(old_members, new.members)
                overlaps.append(GroupOverlap(old.label, new.label, shared, j))
    matched = [o for o in overlaps if o.jaccard >= match_threshold]
    successors = {g.label: [o.after for o in matched if o.before == g.label] for g in before.groups}
    ancestors = {g.label: [o.before for o in matched if o.after == g.label] for g in after.groups}
    events: list[GroupEvent] = []
    for label, succ in successors.items():
        if not succ:
            events.append(GroupEvent("dissolved", (label,), ()))
        elif len(succ) > 1:
            events.append(GroupEvent("split", (label,), tuple(sorted(succ, key=_label_key))))
        elif ancestors[succ[0]] == [label]:
            events.append(GroupEvent("continued", (label,), (succ[0],)))
    for label, anc in ancestors.items():
        if not anc:
            events.append(GroupEvent("formed", (), (label,)))
        elif len(anc) > 1:
            events.append(GroupEvent("merged", tuple(sorted(anc, key=_label_key)), (label,)))
    return NetworkChange(
        start=start,
        end=end,
        ties_added=tuple(t for t in now if t not in was_set),
        ties_ended=tuple(t for t in was if t not in now_set),
        groups_before=before,
        groups_after=after,
        overlaps=tuple(overlaps),
        events=tuple(events),
    )
