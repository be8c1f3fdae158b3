"""Perceived safety: young people's red / amber / green safety maps, combined.

One rule, used by every view that reads safety maps (the combined surface per grid cell and
per place, the place page, the assessment map and KPI (d) "community perception of
safety"): every rated *area* that covers a grid cell or a place counts once with its
rating, and the figure carries the number of distinct *maps* those areas come from. The
shares are the red, amber and green areas as percentages of the rated areas; the score is
green minus red (+100 all green, -100 all red), which is KPI (d).

Partners see a figure only when at least ``threshold`` maps are behind it (the
suppression threshold of the rest of the partner views): a cell or place rated in fewer
maps could single out the group or young person who drew it. The number of maps is then
rounded to base 5 like every partner count (:func:`locmap.assessment.disclosure.partner_value`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from locmap.assessment.disclosure import MARK, partner_value

__all__ = ["RATINGS", "Tally", "tally", "score", "mostly", "figure", "compare"]

RATINGS = ("red", "amber", "green")


@dataclass(frozen=True)
class Tally:
    """Rated areas over one cell or place: counts by rating and the maps behind them."""

    red: int
    amber: int
    green: int
    maps: int

    @property
    def areas(self) -> int:
        return self.red + self.amber + self.green

    def shares(self) -> dict[str, float] | None:
        """Each rating as a percentage of the rated areas (None when none was rated)."""
        n = self.areas
        if not n:
            return None
        return {r: 100.0 * getattr(self, r) / n for r in RATINGS}

    def score(self) -> float | None:
        """Green minus red as a percentage of the rated areas (KPI (d))."""
        n = self.areas
        return None if not n else 100.0 * (self.green - self.red) / n


def tally(rated: Iterable[tuple[int, str]]) -> Tally:
    """Count ``(map id, rating)`` pairs, one per rated area.

    Examples
    --------
    >>> t = tally([(1, "red"), (1, "amber"), (2, "green"), (3, "green")])
    >>> (t.red, t.amber, t.green, t.maps, t.score())
    (1, 1, 2, 3, 25.0)
    """
    counts = dict.fromkeys(RATINGS, 0)
    maps: set[int] = set()
    for map_id, rating in rated:
        if rating not in counts:
            raise ValueError(f"not a safety rating: {rating!r}")
        counts[rating] += 1
        maps.add(map_id)
    return Tally(counts["red"], counts["amber"], counts["green"], len(maps))


def score(ratings: Iterable[str]) -> float | None:
    """Green minus red as a percentage of the ratings (areas), None when there are none.

    Examples
    --------
    >>> score(["green", "green", "amber", "red"])
    25.0
    """
    return tally((0, r) for r in ratings).score()


def mostly(t: Tally) -> str | None:
    """The rating with the largest share, the colour a map gives a cell or place (None when
    nothing was rated); a tie goes to amber, then red (never the reassuring green).

    Examples
    --------
    >>> [mostly(Tally(*c)) for c in ((2, 1, 0, 3), (1, 1, 1, 3), (1, 0, 1, 2), (0, 0, 0, 0))]
    ['red', 'amber', 'red', None]
    """
    shares = t.shares()
    if shares is None:
        return None
    return max(("amber", "red", "green"), key=lambda r: shares[r])


def figure(t: Tally, *, partner: bool, threshold: int) -> dict[str, Any]:
    """A tally as a view shows it, JSON-ready (``mostly``: :func:`mostly`, the colour).

    For a partner, a figure resting on fewer than ``threshold`` maps is withheld: no shares,
    no score, the map count as :data:`~locmap.assessment.disclosure.MARK`; otherwise the
    map and area counts are rounded to base 5 (shares and score are kept: they are
    proportions of the rounded whole, not counts).

    Examples
    --------
    >>> figure(Tally(1, 0, 1, 2), partner=True, threshold=5)["withheld"]
    True
    >>> figure(Tally(1, 0, 1, 2), partner=False, threshold=5)["score"]
    0.0
    """
    shares = t.shares()
    if partner and t.maps < threshold:
        return {"maps": MARK if t.maps else 0, "areas": None, "shares": None, "score": None,
                "mostly": None, "withheld": True}
    out: dict[str, Any] = {
        "maps": t.maps, "areas": t.areas,
        "shares": None if shares is None else {r: round(v, 1) for r, v in shares.items()},
        "score": None if (s := t.score()) is None else round(s, 1),
        "mostly": mostly(t), "withheld": False}
    if partner:
        out["maps"] = partner_value(t.maps, threshold)
        out["areas"] = partner_value(t.areas, threshold)
    return out


def compare(now: dict[str, Any] | None, before: dict[str, Any] | None) -> float | None:
    """Change in score between two published figures (None when either is missing or
    withheld).

    Examples
    --------
    >>> compare({"score": 20.0}, {"score": -10.0})
    30.0
    """
    if not now or not before or now.get("score") is None or before.get("score") is None:
        return None
    return round(float(now["score"]) - float(before["score"]), 1)
