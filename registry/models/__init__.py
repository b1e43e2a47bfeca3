"""The registry's data model (SQLAlchemy 2, typed).  Import models from here."""

from registry.models.accounts import ROLE_LABELS, Role, Site, User, user_site
from registry.models.audit import AuditEvent
from registry.models.base import Audited, Base, Versioned, utcnow
from registry.models.followup import (
    ContactAttempt,
    FollowupCount,
    FollowupRefresh,
    FollowupState,
    Reminder,
)
from registry.models.patients import IndexKnee, Patient, PatientIdentity, Treatment
from registry.models.pending import PendingSubmission
from registry.models.products import CellProduct, LotRecallReview, ProductLot
from registry.models.protocol import Protocol, Timepoint
from registry.models.research import Cohort
from registry.models.selfreport import RequestThrottle, SelfReport, SelfReportLink, TextPack
from registry.models.settings import DEMO_MARKER, RegistrySetting
from registry.models.visits import AdverseEvent, InstrumentResponse, ScoreValue, Visit

__all__ = [
    "DEMO_MARKER",
    "ROLE_LABELS",
    "AdverseEvent",
    "AuditEvent",
    "Audited",
    "Base",
    "CellProduct",
    "Cohort",
    "ContactAttempt",
    "FollowupCount",
    "FollowupRefresh",
    "FollowupState",
    "IndexKnee",
    "InstrumentResponse",
    "LotRecallReview",
    "Patient",
    "PatientIdentity",
    "PendingSubmission",
    "ProductLot",
    "Protocol",
    "RegistrySetting",
    "Reminder",
    "RequestThrottle",
    "Role",
    "ScoreValue",
    "SelfReport",
    "SelfReportLink",
    "Site",
    "TextPack",
    "Timepoint",
    "Treatment",
    "User",
    "Versioned",
    "Visit",
    "user_site",
    "utcnow",
]
