"""Context weighting: which context needs to change first for safety to increase.

As in the Contextual Safeguarding toolkits, the contexts around young people at a place
(the place itself, each peer group seen there, a school, online spaces, home, others
named) share a fixed total of 100. Growing one context shrinks the others in proportion
to their current shares, so the weighting always says *relative* importance and the plan
can target the weightiest context first. Shares are whole numbers that always sum to
exactly 100 (largest-remainder apportionment with deterministic tie-breaks); each context
carries a one-line reason, and pairs of contexts can be linked with a note (a peer group
that meets at the place, a group chat that organises the meet-ups). A context may also
refer to the pilot's own record of it (``place_id``: a place, or a peer group, school or
online space, which are places of their kinds); its kind is then the record's
(:func:`kind_of_place`) and no record is weighted twice in one weighting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = [
    "CONTEXT_KINDS", "MAX_NOTE_LENGTH", "TOTAL", "Context", "ContextLink", "ContextWeighting",
    "ShareChange", "Weightiest", "WeightingDiff", "add_context", "apportion", "diff",
    "kind_of_place", "link_contexts", "remove_context", "set_share", "validate_weighting",
    "weightiest",
]

TOTAL = 100
MAX_NOTE_LENGTH = 200
CONTEXT_KINDS = ("place", "peer_group", "school", "online", "home", "other")
# Place kinds that are contexts of their own kind; every other place kind is a "place".
_OWN_KIND = ("peer_group", "school", "online")


def kind_of_place(place_kind: str) -> str:
    """The weighting kind of a context that refers to a place of kind `place_kind`.

    Examples
    --------
    >>> kind_of_place("peer_group"), kind_of_place("park")
    ('peer_group', 'place')
    """
    return place_kind if place_kind in _OWN_KIND else "place"


@dataclass(frozen=True)
class Context:
    """One context around the young people, with its share of 100 and why."""

    name: str
    share: int
    reason: str
    kind: str = "other"
    # The pilot's record of this context (a place of any kind), when it has one.
    place_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class ContextLink:
    """A link between two contexts, e.g. a peer group that gathers at the place."""

    a: str
    b: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class ContextWeighting:
    """Contexts (in display order) sharing 100, and the links between them."""

    contexts: tuple[Context, ...]
    links: tuple[ContextLink, ...] = ()

    def share_of(self, name: str) -> int:
        """Return the share of the context called `name` (KeyError if absent)."""
        for context in self.contexts:
            if context.name == name:
                return context.share
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"contexts": [c.to_dict() for c in self.contexts],
                "links": [link.to_dict() for link in self.links],
                "total": sum(c.share for c in self.contexts)}


@dataclass(frozen=True)
class Weightiest:
    """The context(s) with the largest share; several names means a tie."""

    names: tuple[str, ...]
    share: int

    @property
    def is_tie(self) -> bool:
        """True when more than one context holds the largest share."""
        return len(self.names) > 1

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"names": list(self.names), "share": self.share, "is_tie": self.is_tie}


@dataclass(frozen=True)
class ShareChange:
    """A context present in both versions whose share changed."""

    name: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        """After minus before."""
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {**asdict(self), "delta": self.delta}


@dataclass(frozen=True)
class WeightingDiff:
    """What changed between two versions of a weighting."""

    added: tuple[Context, ...]
    removed: tuple[Context, ...]
    changed: tuple[ShareChange, ...]
    reasons_changed: tuple[str, ...]
    links_added: tuple[ContextLink, ...]
    links_removed: tuple[ContextLink, ...]
    records_changed: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two versions are the same."""
        return not (self.added or self.removed or self.changed or self.reasons_changed
                    or self.links_added or self.links_removed or self.records_changed)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        out = asdict(self)  # nested dataclasses become dicts, tuples stay tuples
        out["changed"] = [c.to_dict() for c in self.changed]
        return {k: list(v) for k, v in out.items()}


def _check_line(text: object, what: str, *, allow_empty: bool = False) -> None:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string, got {type(text).__name__}")
    if not allow_empty and not text.strip():
        raise ValueError(f"{what} must not be empty")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be one line")
    if len(text) > MAX_NOTE_LENGTH:
        raise ValueError(f"{what} is {len(text)} characters; at most {MAX_NOTE_LENGTH} allowed")


def _check_share(share: object, what: str) -> None:
    if isinstance(share, bool) or not isinstance(share, int):
        raise ValueError(f"{what} must be an integer, got {share!r}")
    if not 0 <= share <= TOTAL:
        raise ValueError(f"{what} must be between 0 and {TOTAL}, got {share}")


def validate_weighting(weighting: ContextWeighting) -> None:
    """Raise ValueError unless `weighting` is a well-formed context weighting.

    Parameters
    ----------
    weighting : ContextWeighting
        The weighting to check.

    Raises
    ------
    ValueError
        No contexts; a name or reason that is empty, multi-line or longer than
        ``MAX_NOTE_LENGTH``; names repeated (case-insensitively); an unknown kind; a record
        (``place_id``) that is not a positive integer or is weighted twice; a share that is
        not an integer in 0..100; shares not summing to exactly 100; a link to an unknown
        context, to itself, or repeated.

    Examples
    --------
    >>> w = ContextWeighting((Context("Library", 60, "ASB after school", "place"),
    ...                       Context("Group A", 40, "Moved from the restaurant", "peer_group")))
    >>> validate_weighting(w)
    >>> validate_weighting(ContextWeighting(()))
    Traceback (most recent call last):
    ...
    ValueError: a weighting needs at least one context
    """
    if not weighting.contexts:
        raise ValueError("a weighting needs at least one context")
    seen: set[str] = set()
    records: set[int] = set()
    for i, context in enumerate(weighting.contexts):
        _check_line(context.name, f"context {i} name")
        _check_line(context.reason, f"reason for {context.name!r}")
        if context.kind not in CONTEXT_KINDS:
            raise ValueError(
                f"kind of {context.name!r} must be one of {CONTEXT_KINDS}, got {context.kind!r}"
            )
        _check_share(context.share, f"share of {context.name!r}")
        ref = context.place_id
        if ref is not None:
            if isinstance(ref, bool) or not isinstance(ref, int) or ref < 1:
                raise ValueError(f"the record of {context.name!r} must be a positive integer "
                                 f"id, got {ref!r}")
            if ref in records:
                raise ValueError(f"{context.name!r} refers to a context weighted already")
            records.add(ref)
        key = context.name.strip().casefold()
        if key in seen:
            raise ValueError(f"context name {context.name!r} is used more than once")
        seen.add(key)
    total = sum(c.share for c in weighting.contexts)
    if total != TOTAL:
        raise ValueError(f"shares must sum to {TOTAL}, got {total}")
    names = {c.name for c in weighting.contexts}
    pairs: set[frozenset[str]] = set()
    for link in weighting.links:
        for end in (link.a, link.b):
            if end not in names:
                raise ValueError(f"link refers to unknown context {end!r}")
        if link.a == link.b:
            raise ValueError(f"a context cannot be linked to itself ({link.a!r})")
        _check_line(link.note, f"note on link {link.a!r}-{link.b!r}")
        pair = frozenset((link.a, link.b))
        if pair in pairs:
            raise ValueError(f"contexts {link.a!r} and {link.b!r} are linked more than once")
        pairs.add(pair)


def apportion(weights: Sequence[int], total: int) -> tuple[int, ...]:
    """Split `total` into integers proportional to `weights` by largest remainder.

    Parameters
    ----------
    weights : sequence of int
        Non-negative weights; if all are zero, the total is split evenly.
    total : int
        Non-negative integer to split.

    Returns
    -------
    tuple of int
        Parts that sum to exactly `total`.

    Notes
    -----
    Hamilton's largest-remainder method in exact integer arithmetic: each part gets the
    floor of its quota ``w * total / sum(w)``; the units left over go to the largest
    remainders, ties going to the larger weight, then to the earlier position. A larger
    weight therefore never receives a smaller part, so the order of the parts follows the
    order of the weights.

    References
    ----------
    Balinski, M. L. & Young, H. P. (2001). *Fair Representation*, 2nd ed., Brookings
    Institution (Hamilton's method).

    Examples
    --------
    >>> apportion([1, 1, 1], 100)
    (34, 33, 33)
    >>> apportion([50, 30, 20], 60)
    (30, 18, 12)
    """
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative integers, got {list(weights)!r}")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"total must be a non-negative integer, got {total!r}")
    if not weights:
        if total:
            raise ValueError("cannot split a positive total into no parts")
        return ()
    effective = list(weights) if sum(weights) > 0 else [1] * len(weights)
    denominator = sum(effective)
    floors = [w * total // denominator for w in effective]
    remainders = [w * total % denominator for w in effective]
    left = total - sum(floors)
    order = sorted(range(len(effective)), key=lambda i: (-remainders[i], -effective[i], i))
    parts = list(floors)
    for i in order[:left]:
        parts[i] += 1
    return tuple(parts)


def _index(weighting: ContextWeighting, name: str) -> int:
    for i, context in enumerate(weighting.contexts):
        if context.name == name:
            return i
    raise ValueError(f"no context called {name!r}")


def _rebalanced(contexts: Sequence[Context], fixed: int, fixed_share: int) -> tuple[Context, ...]:
    """Give `contexts[fixed]` its share and scale the others to fill the rest."""
    others = [i for i in range(len(contexts)) if i != fixed]
    parts = apportion([contexts[i].share for i in others], TOTAL - fixed_share)
    new = list(contexts)
    new[fixed] = replace(contexts[fixed], share=fixed_share)
    for i, part in zip(others, parts, strict=True):
        new[i] = replace(contexts[i], share=part)
    return tuple(new)


def set_share(weighting: ContextWeighting, name: str, new_share: int) -> ContextWeighting:
    """Return a new weighting where `name` has `new_share` and the others fill the rest.

    Parameters
    ----------
    weighting : ContextWeighting
        A valid weighting (not modified).
    name : str
        The context to resize.
    new_share : int
        Its new share, 0..100. With a single context it must be 100.

    Returns
    -------
    ContextWeighting
        The others are rescaled in proportion to their current shares (see `apportion`);
        if they all stood at zero they share the rest evenly.

    Examples
    --------
    >>> w = ContextWeighting((Context("Park", 50, "Dealing seen", "place"),
    ...                       Context("Group A", 30, "Meets there", "peer_group"),
    ...                       Context("School", 20, "Same year group", "school")))
    >>> [c.share for c in set_share(w, "Park", 20).contexts]
    [20, 48, 32]
    """
    validate_weighting(weighting)
    i = _index(weighting, name)
    _check_share(new_share, "new_share")
    if len(weighting.contexts) == 1 and new_share != TOTAL:
        raise ValueError(f"the only context must hold all {TOTAL}")
    return replace(weighting, contexts=_rebalanced(weighting.contexts, i, new_share))


def add_context(weighting: ContextWeighting, name: str, share: int, reason: str,
                kind: str = "other", place_id: int | None = None) -> ContextWeighting:
    """Return a new weighting with a context added at the end, shrinking the others.

    Parameters
    ----------
    weighting : ContextWeighting
        A valid weighting (not modified).
    name, reason, kind : str
        The new context (see `Context`).
    place_id : int, optional
        The pilot's record of it (see `Context`).
    share : int
        Its share, 0..99 (the existing contexts keep at least 1 between them).

    Returns
    -------
    ContextWeighting

    Examples
    --------
    >>> w = ContextWeighting((Context("Library", 100, "Group moved here", "place"),))
    >>> [c.share for c in add_context(w, "Online", 25, "Group chat", "online").contexts]
    [75, 25]
    """
    validate_weighting(weighting)
    _check_share(share, "share")
    if share == TOTAL:
        raise ValueError(f"a new context cannot take all {TOTAL}; remove the others instead")
    contexts = (*weighting.contexts, Context(name, 0, reason, kind, place_id))
    new = replace(weighting, contexts=_rebalanced(contexts, len(contexts) - 1, share))
    validate_weighting(new)
    return new


def remove_context(weighting: ContextWeighting, name: str) -> ContextWeighting:
    """Return a new weighting without `name`; its share goes to the others proportionally.

    Links to the removed context are dropped.

    Examples
    --------
    >>> w = ContextWeighting((Context("Park", 50, "Dealing seen", "place"),
    ...                       Context("Group A", 30, "Meets there", "peer_group"),
    ...                       Context("School", 20, "Same year group", "school")))
    >>> [(c.name, c.share) for c in remove_context(w, "Park").contexts]
    [('Group A', 60), ('School', 40)]
    """
    validate_weighting(weighting)
    i = _index(weighting, name)
    if len(weighting.contexts) == 1:
        raise ValueError("cannot remove the only context")
    rest = [c for j, c in enumerate(weighting.contexts) if j != i]
    parts = apportion([c.share for c in rest], TOTAL)
    return ContextWeighting(
        contexts=tuple(replace(c, share=p) for c, p in zip(rest, parts, strict=True)),
        links=tuple(link for link in weighting.links if name not in (link.a, link.b)),
    )


def link_contexts(weighting: ContextWeighting, a: str, b: str, note: str) -> ContextWeighting:
    """Return a new weighting with a link between contexts `a` and `b`.

    Examples
    --------
    >>> w = ContextWeighting((Context("Library", 70, "ASB", "place"),
    ...                       Context("Group A", 30, "Meets there", "peer_group")))
    >>> link_contexts(w, "Library", "Group A", "After school, weekdays").links[0].note
    'After school, weekdays'
    """
    validate_weighting(weighting)
    new = replace(weighting, links=(*weighting.links, ContextLink(a, b, note)))
    validate_weighting(new)
    return new


def weightiest(weighting: ContextWeighting) -> Weightiest:
    """Return the context(s) holding the largest share, ties reported as ties.

    Examples
    --------
    >>> w = ContextWeighting((Context("Park", 40, "a", "place"), Context("Home", 20, "b", "home"),
    ...                       Context("School", 40, "c", "school")))
    >>> weightiest(w)
    Weightiest(names=('Park', 'School'), share=40)
    """
    validate_weighting(weighting)
    top = max(c.share for c in weighting.contexts)
    return Weightiest(tuple(c.name for c in weighting.contexts if c.share == top), top)


def _link_key(link: ContextLink) -> tuple[frozenset[str], str]:
    return frozenset((link.a, link.b)), link.note


def diff(a: ContextWeighting, b: ContextWeighting) -> WeightingDiff:
    """Compare two versions of a weighting, matching contexts by exact name.

    Parameters
    ----------
    a, b : ContextWeighting
        The earlier and the later version.

    Returns
    -------
    WeightingDiff
        Contexts added and removed, shares changed, reasons and records changed (by name)
        and links added or removed (a link whose note changed is removed and added).

    Examples
    --------
    >>> v1 = ContextWeighting((Context("Park", 60, "a", "place"), Context("Home", 40, "b", "home")))
    >>> v2 = add_context(v1, "Online", 20, "c", "online")
    >>> d = diff(v1, v2)
    >>> [c.name for c in d.added], [(c.name, c.delta) for c in d.changed]
    (['Online'], [('Park', -12), ('Home', -8)])
    """
    validate_weighting(a)
    validate_weighting(b)
    before: Mapping[str, Context] = {c.name: c for c in a.contexts}
    after: Mapping[str, Context] = {c.name: c for c in b.contexts}
    links_a = {_link_key(link): link for link in a.links}
    links_b = {_link_key(link): link for link in b.links}
    return WeightingDiff(
        added=tuple(c for c in b.contexts if c.name not in before),
        removed=tuple(c for c in a.contexts if c.name not in after),
        changed=tuple(ShareChange(c.name, before[c.name].share, c.share)
                      for c in b.contexts if c.name in before and before[c.name].share != c.share),
        reasons_changed=tuple(c.name for c in b.contexts
                              if c.name in before and before[c.name].reason != c.reason),
        links_added=tuple(link for key, link in links_b.items() if key not in links_a),
        links_removed=tuple(link for key, link in links_a.items() if key not in links_b),
        records_changed=tuple(c.name for c in b.contexts
                              if c.name in before and before[c.name].place_id != c.place_id),
    )
