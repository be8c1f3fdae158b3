"""The domain's controlled vocabularies, in one place.

Tables (CHECK constraints), the API (schema enums), the UI (select lists) and the
importers all read these tuples, so a word means the same thing everywhere.
"""

from __future__ import annotations

__all__ = [
    "ROLES", "PILOT_ROLES", "PILOT_STATUSES", "PLACE_KINDS", "HARM_CATEGORIES",
    "TIME_PRECISIONS", "QUADRANTS",
    "CONFIDENCE", "VOICES", "PERSON_KINDS", "AGE_BANDS", "RELATIONSHIP_TYPES", "VALENCES",
    "AGENCY_KINDS", "ASSESSMENT_STATUSES", "PLAN_CATEGORIES", "FRAMEWORK_DOMAINS",
    "ACTION_STATUSES", "KPI_KINDS", "REVIEW_DECISIONS", "SAFETY_RATINGS", "ENGAGEMENT_GROUPS",
    "LABELS", "label",
    "EXPLOITATION_CATEGORIES", "CASE_STATUSES",
    "CONTEXT_KINDS", "THRESHOLD_LEVELS", "REFERRAL_URGENCIES", "SCREENING_OUTCOMES",
    "CONTEXT_KIND_LABELS", "AGENDA_SOURCES", "NO_LOCATION_KINDS",
]

PILOT_STATUSES = ("planned", "active", "closed", "archived")
PILOT_ROLES = ("coordinator", "practitioner", "peer_assessor", "partner_reviewer")
ROLES = ("admin", "auditor", *PILOT_ROLES)

PLACE_KINDS = (
    "park", "street", "fast_food", "library", "school", "transport_hub", "shopping_centre",
    "housing_estate", "online", "peer_group", "other",
)
HARM_CATEGORIES = (
    "cse", "cce", "trafficking", "missing", "serious_youth_violence", "asb", "drugs", "weapons",
    "peer_on_peer", "radicalisation", "online_harm", "other",
    # Police open data's own words (no ages in it): the coordinator decides whether a
    # pilot counts them as serious youth violence (issue 16).
    "violence_and_sexual_offences", "robbery",
)
TIME_PRECISIONS = ("exact", "day", "month")
QUADRANTS = ("vulnerability", "risk", "resilience", "resource")
CONFIDENCE = ("low", "medium", "high")
VOICES = ("child", "family", "community", "business", "professional", "data")
PERSON_KINDS = ("young_person", "adult_of_concern", "trusted_adult")
AGE_BANDS = ("under_10", "10-13", "14-15", "16-17", "18-24", "25+", "unknown")
RELATIONSHIP_TYPES = (
    "friend", "sibling", "partner", "school_peer", "online", "associate", "exploitative",
)
VALENCES = ("protective", "neutral", "harmful")
AGENCY_KINDS = (
    "children_services", "police", "health", "school", "community_safety", "housing",
    "youth_justice", "voluntary", "business", "other",
)
ASSESSMENT_STATUSES = ("draft", "in_review", "approved", "superseded")
PLAN_CATEGORIES = (
    "allocate_resources", "do_things_differently", "connect_people",
    "enhance_safe_behaviours_and_locations", "targeted_interventions",
    "bid_for_local_initiatives", "build_resilience", "celebrate_diversity",
)
FRAMEWORK_DOMAINS = ("target", "legislative", "partnerships", "outcomes")
ACTION_STATUSES = ("planned", "in_progress", "done", "dropped")
KPI_KINDS = ("a", "b", "c", "d", "custom")
REVIEW_DECISIONS = ("comment", "request_changes", "approve")
SAFETY_RATINGS = ("red", "amber", "green")
ENGAGEMENT_GROUPS = ("children", "families", "community", "businesses", "services")

LABELS: dict[str, str] = {
    "cse": "Child sexual exploitation",
    "cce": "Child criminal exploitation",
    "trafficking": "Trafficking / modern slavery",
    "missing": "Missing from home",
    "serious_youth_violence": "Serious youth violence",
    "asb": "Anti-social behaviour",
    "drugs": "Drugs",
    "weapons": "Weapons",
    "peer_on_peer": "Peer-on-peer abuse",
    "radicalisation": "Radicalisation",
    "online_harm": "Online harm",
    "other": "Other",
    "violence_and_sexual_offences": "Violence and sexual offences",
    "robbery": "Robbery",
    "fast_food": "Fast-food restaurant",
    "transport_hub": "Transport hub",
    "shopping_centre": "Shopping centre",
    "housing_estate": "Housing estate",
    "peer_assessor": "Peer assessor",
    "partner_reviewer": "Partner reviewer",
    "young_person": "Young person",
    "adult_of_concern": "Adult of concern",
    "trusted_adult": "Trusted adult",
}


# Case fields of a young person, counted on the partnership dashboard (issue 9).
# cse_1..cse_3: the CSE risk categories 1 (at risk) to 3 (significant risk);
# other_exploitation: evidence or suspicion of exploitation other than CSE/CCE.
EXPLOITATION_CATEGORIES = (
    "cse_1", "cse_2", "cse_3", "other_exploitation", "cce", "missing", "none",
)
CASE_STATUSES = (
    "early_help", "open_case", "child_in_need", "child_protection", "looked_after", "not_open",
)
LABELS.update({
    "cse_1": "CSE category 1", "cse_2": "CSE category 2", "cse_3": "CSE category 3",
    "other_exploitation": "Other exploitation",
    "early_help": "Early help", "open_case": "Open case",
    "child_in_need": "Child in need", "child_protection": "Child protection",
    "looked_after": "Looked after", "not_open": "Not open to services",
})

LABELS.update({
    "children_services": "Children's services", "community_safety": "Community safety",
    "youth_justice": "Youth justice", "voluntary": "Voluntary sector",
})

# What a coordinator decided about a displacement flag.
FLAG_STATUSES = ("confirmed", "dismissed")


# Context referrals and screening (issue 19): what a referral is about, how urgent it is,
# the context thresholds a screening is judged against and what the screening decided.
CONTEXT_KINDS = ("place", "new_place", "peer_group", "school", "online")
THRESHOLD_LEVELS = ("universal", "targeted", "specialist")
REFERRAL_URGENCIES = ("routine", "priority", "urgent")
SCREENING_OUTCOMES = ("no_further_action", "level_1", "level_2")
# Why a context is on a meeting's agenda: added by hand, or prefilled from the high-risk
# log, an overdue action or a new Level 2 referral.
AGENDA_SOURCES = ("added", "log", "overdue", "referral")
# How the referral form names each kind (not in LABELS: "place" and "online" are words of
# other vocabularies too).
CONTEXT_KIND_LABELS = {
    "place": "An existing place", "new_place": "A new place", "peer_group": "A peer group",
    "school": "A school", "online": "An online space",
}
# Place kinds with no map location (issue 19): an online space and a peer group (whose
# places are the places it shares, recorded on its context profile).
NO_LOCATION_KINDS = ("online", "peer_group")
LABELS.update({
    "no_further_action": "No further action", "level_1": "Level 1: an action on a plan",
    "level_2": "Level 2: a context assessment",
})


def label(word: str) -> str:
    """Return the human label of a vocabulary word (``"fast_food"`` → "Fast-food restaurant")."""
    return LABELS.get(word, word.replace("_", " ").capitalize())
