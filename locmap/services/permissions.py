"""Who may do what, decided in one place on the server.

Roles are per pilot (coordinator, practitioner, peer assessor, partner reviewer) except
admin and auditor. A user who is not a member of a pilot gets :class:`NotFound` — the
pilot's existence is not disclosed; a member whose role lacks the permission gets
:class:`Forbidden`. Pages and API routes call :func:`require`; hiding a button is never
the check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from locmap.errors import Conflict, Forbidden, NotFound

__all__ = ["Actor", "PERMISSIONS", "require", "can", "OWNING_TEAM", "WRITES", "READ_ONLY_STATUSES"]

ALL_MEMBERS = frozenset({"coordinator", "practitioner", "peer_assessor", "partner_reviewer"})
# The owning team sees identities and restricted free text; partners see pseudonyms.
OWNING_TEAM = frozenset({"coordinator", "practitioner", "peer_assessor"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "pilot.view": ALL_MEMBERS,
    "pilot.manage": frozenset({"coordinator"}),
    "place.view": ALL_MEMBERS,
    "place.edit": frozenset({"coordinator", "practitioner"}),
    "evidence.view": ALL_MEMBERS,
    "evidence.edit": frozenset({"coordinator", "practitioner"}),
    "evidence.restricted_text": OWNING_TEAM,
    # Incidents one by one (exact place, time, reference) and the free text of visits,
    # engagement records, relationship sources and presence times: the owning team's.
    # Partners see incidents as suppressed aggregates only (counts by place, category
    # and quarter; map cells of at least the threshold) — docs/decisions.md.
    "evidence.records": OWNING_TEAM,
    "import.run": frozenset({"coordinator", "practitioner"}),
    # Exports of aggregates (the dashboard, suppressed for partners) and of plans.
    "export.run": ALL_MEMBERS,
    # The pilot's data exports hold incidents record by record: partners see incidents
    # only as suppressed aggregates (dashboard, review points, reports), never row by row.
    "export.records": OWNING_TEAM,
    "network.view": ALL_MEMBERS,
    "network.edit": frozenset({"coordinator", "practitioner", "peer_assessor"}),
    # GraphML/GEXF hold every tie record by record: the owning team only (decided).
    "network.export": OWNING_TEAM,
    # DESIGN.md: identities are read by the owning pilot's practitioners and peer assessors.
    "identity.read": frozenset({"practitioner", "peer_assessor"}),
    "identity.edit": frozenset({"practitioner", "peer_assessor"}),
    "aggregate.unsuppressed": OWNING_TEAM,
    "dashboard.view": ALL_MEMBERS,
    "assessment.view": ALL_MEMBERS,
    "assessment.edit": frozenset({"coordinator", "practitioner"}),
    "plan.edit": frozenset({"coordinator", "practitioner"}),
    "review.give": frozenset({"partner_reviewer"}),
    "review_point.manage": frozenset({"coordinator"}),
    # Approve a plan while its assessment is still in review (issue 16): coordinators.
    "plan.override_approval": frozenset({"coordinator"}),
    "displacement.decide": frozenset({"coordinator", "practitioner"}),
    # The Contextual Safeguarding pathway (issue 19): any member refers a context; the
    # owning team's practitioners and coordinator screen it; the coordinator writes the
    # pilot's context thresholds.
    "referral.view": ALL_MEMBERS,
    "referral.make": ALL_MEMBERS,
    "referral.screen": frozenset({"coordinator", "practitioner"}),
    "threshold.edit": frozenset({"coordinator"}),
    # Context conferences / MACE meetings and the high-risk contexts log: every member
    # reads them (partners without what was shared); the owning team's coordinator and
    # practitioners run them.
    "meeting.view": ALL_MEMBERS,
    "meeting.edit": frozenset({"coordinator", "practitioner"}),
}


# What a closed or archived pilot refuses to everyone (issue 15): it is read-only, its
# records stay readable (and exportable) for the partnership and the auditor.
WRITES = frozenset({
    "pilot.manage", "place.edit", "evidence.edit", "import.run", "network.edit",
    "identity.edit", "assessment.edit", "plan.edit", "review.give", "review_point.manage",
    "plan.override_approval",
    "displacement.decide", "referral.make", "referral.screen", "threshold.edit",
    "meeting.edit",
})
READ_ONLY_STATUSES = ("closed", "archived")


@dataclass(frozen=True)
class Actor:
    """The user behind a request or command, with their roles per pilot."""

    user_id: int | None
    email: str
    is_admin: bool = False
    is_auditor: bool = False
    roles: dict[int, frozenset[str]] = field(default_factory=dict)
    remote_addr: str | None = None
    # Pilots (of the actor's) that are closed or archived: no write permission holds there.
    read_only: frozenset[int] = frozenset()

    def roles_in(self, pilot_id: int) -> frozenset[str]:
        return self.roles.get(pilot_id, frozenset())

    def is_member(self, pilot_id: int) -> bool:
        return bool(self.roles_in(pilot_id))

    @property
    def pilot_ids(self) -> list[int]:
        return sorted(self.roles)


def can(actor: Actor, pilot_id: int, permission: str) -> bool:
    allowed = PERMISSIONS[permission]
    return bool(actor.roles_in(pilot_id) & allowed)


def require(actor: Actor, pilot_id: int, permission: str) -> None:
    """Raise unless ``actor`` holds ``permission`` in the pilot."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if not actor.is_member(pilot_id):
        raise NotFound("No such pilot, or you are not a member of it.")
    if not can(actor, pilot_id, permission):
        raise Forbidden(f"Your role in this pilot does not allow this ({permission}).")
    if permission in WRITES and pilot_id in actor.read_only:
        raise Conflict("This pilot is closed: its records are read-only.",
                       details={"pilot_id": pilot_id})
