"""SQLAlchemy 2 typed models on PostGIS, one module per aggregate.

Importing this package registers every table on ``Base.metadata`` (Alembic reads it).
"""

from locmap.models.audit import AuditEvent, DataImport
from locmap.models.base import Base
from locmap.models.basemap import BasemapBuild, BasemapFeature, BasemapTile
from locmap.models.board import BoardPack, PartnerReferralForm
from locmap.models.contexts import ContextAnswer, ContextProfile
from locmap.models.evidence import (
    AwarenessActivity,
    EngagementRecord,
    Incident,
    LocalityIncidentCount,
    MapCellCount,
    Observation,
    SafetyFactor,
    SafetyMap,
    SafetyMapArea,
    awareness_place,
    engagement_place,
    factor_engagement,
    factor_incident,
    factor_observation,
    incident_person,
)
from locmap.models.fieldwork import IdempotentRequest, Photo
from locmap.models.impact import DisplacementFlag
from locmap.models.network import Identity, Person, Presence, PseudonymCounter, Relationship
from locmap.models.pathway import (
    AgendaItem,
    ContextMeeting,
    ContextReferral,
    ContextThreshold,
    HighRiskContext,
    MeetingAction,
    MeetingAttendance,
    ReferralPerson,
)
from locmap.models.pilot import (
    Agency,
    Invitation,
    Membership,
    PeerNetwork,
    Pilot,
    ReviewPoint,
    User,
    UserSession,
    pilot_approver_agency,
)
from locmap.models.place import CrimeTypeMapping, Feature, FeatureLayer, Place
from locmap.models.plan import (
    KPI,
    Action,
    Assessment,
    ContextLink,
    ContextWeight,
    InboxState,
    KPIMeasurement,
    Plan,
    PlanGapReason,
    Review,
    ReviewRequest,
    action_factor,
)
from locmap.models.retention import RetentionRule
from locmap.models.upload import Upload

__all__ = [
    "Base", "Photo", "IdempotentRequest", "InboxState", "Agency", "User", "UserSession",
    "Invitation",
    "pilot_approver_agency", "Pilot",
    "Membership", "ReviewPoint", "PeerNetwork", "Place",
    "FeatureLayer", "Feature", "CrimeTypeMapping", "Incident", "incident_person", "Observation",
    "SafetyFactor", "factor_incident", "factor_observation", "factor_engagement",
    "EngagementRecord", "engagement_place", "AwarenessActivity", "awareness_place", "SafetyMap",
    "SafetyMapArea", "Person", "Identity", "Relationship", "Presence", "Assessment",
    "ContextWeight", "ContextLink", "Plan", "Action", "action_factor", "PlanGapReason", "KPI",
    "KPIMeasurement", "Review", "ReviewRequest", "AuditEvent", "DataImport", "DisplacementFlag",
    "BoardPack", "PartnerReferralForm",
    "LocalityIncidentCount", "MapCellCount", "Upload", "PseudonymCounter", "RetentionRule",
    "ContextThreshold", "ContextReferral", "ReferralPerson", "ContextMeeting",
    "MeetingAttendance", "HighRiskContext", "AgendaItem", "MeetingAction",
    "BasemapBuild", "BasemapFeature", "BasemapTile", "ContextProfile", "ContextAnswer",
]
