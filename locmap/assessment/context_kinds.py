"""What an assessment asks about a context that is not a neighbourhood place (issue 19).

Pure data and rules (no Flask, no SQLAlchemy): the toolkit's peer-group prompts, the
school self-assessment's areas rated red / amber / green with evidence, the online
space's profile fields, and the comparison of two school self-assessments.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ASSESSED_KINDS", "KIND_LABELS", "PEER_GROUP_PROMPTS", "SCHOOL_AREAS", "RAG", "ONLINE_FIELDS",
    "clean_answers", "missing_answers", "compare_school",
]

# Place kinds whose assessment carries a context section.
ASSESSED_KINDS = ("peer_group", "school", "online")
KIND_LABELS = {"peer_group": "Peer group", "school": "School", "online": "Online space"}

# The peer-group assessment's prompts: (key, heading, what to write about).
PEER_GROUP_PROMPTS: tuple[tuple[str, str, str], ...] = (
    ("within_group", "Relationships within the group",
     "How the young people relate to one another: loyalty, pressure, care, who is heard."),
    ("other_groups", "Relationships with other groups",
     "Rivalries, alliances, overlaps with other groups and where they meet."),
    ("adults", "Relationships with adults",
     "Adults around the group: who supports it, who may exploit it."),
    ("spaces", "The group's spaces",
     "Where the group spends time, on and off line, and what happens there."),
    ("keeps_safe", "What keeps the group safe",
     "Strengths: trusted adults, activities, places and ties that protect."),
)

# The school self-assessment's areas: (key, heading, what the evidence shows).
SCHOOL_AREAS: tuple[tuple[str, str, str], ...] = (
    ("structures", "Structures and systems",
     "Leadership, safeguarding roles and how concerns about contexts are recorded."),
    ("policy", "Policy",
     "Policies name harm between young people and in the school's surroundings."),
    ("prevention", "Prevention",
     "Education, school culture and the spaces of the school day."),
    ("identification", "Identification",
     "Staff notice harm in peer groups, spaces and journeys to and from school."),
    ("response", "Response",
     "What the school does when a concern is raised, for contexts as well as pupils."),
    ("intervention", "Intervention and support",
     "Work with groups, spaces and partners, not only with one young person."),
    ("partnership", "Partnerships beyond the school",
     "Links with police, youth services, transport and local businesses."),
)

RAG = ("red", "amber", "green")
_RAG_ORDER = {"red": 0, "amber": 1, "green": 2}

# The online space's profile: (key, label).
ONLINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("platform", "Platform"),
    ("channel", "Group or channel"),
    ("moderation_contact", "Moderation contact"),
    ("reporting_route", "Reporting route"),
)

_TEXT_LIMIT = 4000


def clean_answers(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The answers to keep for a kind, validated; raises ValueError with the user's words.

    A peer group answers each prompt in text; a school rates each area (red, amber, green
    or not yet) with its evidence; an online space has no answers of its own (its
    indicators come from incidents).
    """
    out: dict[str, Any] = {}
    if kind == "peer_group":
        for key, heading, _ in PEER_GROUP_PROMPTS:
            value = given.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"{heading} must be text.")
            if len(value) > _TEXT_LIMIT:
                raise ValueError(f"{heading}: at most {_TEXT_LIMIT} characters.")
            out[key] = value.strip()
    elif kind == "school":
        for key, heading, _ in SCHOOL_AREAS:
            item = given.get(key) or {}
            if not isinstance(item, dict):
                raise ValueError(f"{heading} must have a rating and evidence.")
            rating = item.get("rating") or None
            if rating is not None and rating not in RAG:
                raise ValueError(f"{heading}: the rating is red, amber or green.")
            evidence = item.get("evidence", "")
            if not isinstance(evidence, str) or len(evidence) > _TEXT_LIMIT:
                raise ValueError(f"{heading}: the evidence is text of at most "
                                 f"{_TEXT_LIMIT} characters.")
            out[key] = {"rating": rating, "evidence": evidence.strip()}
    elif kind == "online":
        return {}
    else:
        raise ValueError(f"A {kind} has no context section.")
    return out


def missing_answers(kind: str, answers: dict[str, Any]) -> list[str]:
    """What must be written before the assessment is submitted (headings).

    >>> missing_answers("school", {"policy": {"rating": "red", "evidence": "x"}})[:2]
    ['Structures and systems', 'Prevention']
    """
    if kind == "peer_group":
        return [h for k, h, _ in PEER_GROUP_PROMPTS if not (answers.get(k) or "").strip()]
    if kind == "school":
        return [h for k, h, _ in SCHOOL_AREAS
                if not (answers.get(k) or {}).get("rating")
                or not ((answers.get(k) or {}).get("evidence") or "").strip()]
    return []


def compare_school(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each area's rating in two self-assessments and whether it improved.

    >>> compare_school({"policy": {"rating": "red"}}, {"policy": {"rating": "amber"}})[1]
    {'key': 'policy', 'area': 'Policy', 'before': 'red', 'after': 'amber', 'change': 'better'}
    """
    rows = []
    for key, heading, _ in SCHOOL_AREAS:
        b = (before.get(key) or {}).get("rating")
        a = (after.get(key) or {}).get("rating")
        if b is None or a is None:
            change = "not rated"
        elif _RAG_ORDER[a] > _RAG_ORDER[b]:
            change = "better"
        elif _RAG_ORDER[a] < _RAG_ORDER[b]:
            change = "worse"
        else:
            change = "same"
        rows.append({"key": key, "area": heading, "before": b, "after": a, "change": change})
    return rows
