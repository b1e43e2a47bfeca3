"""One patient's outcomes as a FHIR R4 Bundle, for the clinic's own systems (identified).

Who may have it is decided by ``registry.authz``: the user named on the command line must
hold clinical read and identity read at the patient's site (a clinician, coordinator or
admin of an active site of theirs); anyone else is refused with a clear message and no
file.  The Bundle (type ``collection``) holds:

- the Patient: the study ID and the site's record number as identifiers, name, sex and
  birth date.  These are identified data on purpose: the receiving record system must file
  the results in the right chart, which a pseudonym cannot do; contact details (phone,
  e-mail, address) are left out, as a results feed does not need them;
- a QuestionnaireResponse per done visit and instrument answered (``fhir.response``);
- an Observation per stored score with a value, derived from its response.

Every Bundle written is audited (``record``: an ``export`` row on the patient, with the
user, the file name and the SHA-256 of the file), like a research export.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

import scoring
from registry import audit_capture as capture
from registry import authz
from registry.auth.services import find_user
from registry.authz import Permission
from registry.interop import fhir
from registry.models import InstrumentResponse, Patient, Visit, utcnow

GENDER = {"female": "female", "male": "male", "other": "other"}
NEEDED = (Permission.CLINICAL_READ, Permission.IDENTITY_READ)


class Refused(Exception):
    """The Bundle cannot be made: unknown patient or user, or the user may not have it."""


@dataclass
class BundleResult:
    content: bytes
    sha256: str
    patient_id: int
    site_id: int
    study_id: str
    user_id: int
    user_email: str
    cli_user: str
    counts: Counter[str] = field(default_factory=Counter)

    def counts_text(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in sorted(self.counts.items()))


def allowed_patient(session: Session, study_id: str, email: str) -> tuple[Patient, Any]:
    """The patient and the user, when ``registry.authz`` lets the user read the patient's
    identified clinical data; ``Refused`` naming the reason otherwise."""
    user = find_user(session, email)
    if user is None:
        raise Refused(_("Unknown user %(email)s.", email=repr(email)))
    patient = session.scalar(select(Patient).where(Patient.study_id == study_id.strip()))
    if patient is None:
        raise Refused(_("Unknown patient %(study_id)s.", study_id=repr(study_id)))
    if not all(authz.can(user, permission, patient.site_id) for permission in NEEDED):
        raise Refused(_(
            "%(email)s may not have patient %(study_id)s's identified data: only active "
            "clinical staff (clinician, coordinator or admin) of the patient's site may "
            "export it.", email=user.email, study_id=patient.study_id))
    return patient, user


def patient_resource(patient: Patient, base: str) -> fhir.Resource:
    resource: fhir.Resource = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": f"{base}/identifier/study-id",
                        "value": patient.study_id}],
        "gender": GENDER.get(patient.sex, "unknown"),
        "birthDate": patient.birth_date.isoformat(),
    }
    identity = patient.identity
    if identity is not None:
        resource["identifier"].append({
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "MR", "display": "Medical record number"}]},
            "system": f"{base}/identifier/mrn/{patient.site.code}",
            "value": identity.medical_record_number})
        resource["name"] = [{"use": "official", "family": identity.family_name,
                             "given": [identity.given_name]}]
    return resource


def entry(resource: fhir.Resource) -> tuple[str, fhir.Resource]:
    full_url = f"urn:uuid:{uuid.uuid4()}"
    return full_url, {"fullUrl": full_url, "resource": resource}


def patient_bundle(session: Session, study_id: str, email: str, base: str, *,
                   cli_user: str) -> BundleResult:
    """The patient's Bundle (see the module doc) for ``email``, if allowed."""
    patient, user = allowed_patient(session, study_id, email)
    visits = session.scalars(
        select(Visit).where(Visit.patient_id == patient.id, Visit.status == "done")
        .options(selectinload(Visit.responses).selectinload(InstrumentResponse.scores))
        .order_by(Visit.visit_date, Visit.id)).all()
    patient_url, patient_entry = entry(patient_resource(patient, base))
    entries = [patient_entry]
    counts: Counter[str] = Counter(Patient=1)
    place = {code: index for index, code in enumerate(scoring.INSTRUMENTS)}
    for visit in visits:
        for stored in sorted(visit.responses, key=lambda r: place.get(r.instrument, len(place))):
            instrument = scoring.INSTRUMENTS.get(stored.instrument)
            if instrument is None:
                continue
            response_url, response_entry = entry(fhir.response(
                instrument, stored.answers or {}, subject=patient_url,
                authored=visit.visit_date, base=base))
            entries.append(response_entry)
            counts["QuestionnaireResponse"] += 1
            for score in stored.scores:
                definition = scoring.SCORES.get(score.score_code)
                if definition is None or score.value is None:
                    continue  # not computable: the response says what was answered
                entries.append(entry(fhir.observation(
                    definition, score.value, subject=patient_url,
                    derived_from=response_url, effective=visit.visit_date, base=base))[1])
                counts["Observation"] += 1
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()),
              "identifier": {"system": f"{base}/identifier/bundle",
                             "value": str(uuid.uuid4())},
              "type": "collection",
              "timestamp": utcnow().replace(microsecond=0).isoformat(),
              "entry": entries}
    content = fhir.dumps(bundle)
    return BundleResult(content, hashlib.sha256(content).hexdigest(), patient.id,
                        patient.site_id, patient.study_id, user.id, user.email, cli_user,
                        counts)


def record(session: Session, result: BundleResult, filename: str) -> None:
    """The audit row of a Bundle handed over: who (the clinical user, and the operating-
    system user who ran the command), which patient, which file, its SHA-256."""
    capture.set_actor(session, result.user_id, result.user_email)
    capture.record(session, "export", entity_type="patient", entity_id=result.patient_id,
                   site_id=result.site_id,
                   new_value={"format": "FHIR R4 Bundle (collection), identified",
                              "study_id": result.study_id, "for_user": result.user_email,
                              "run_by": f"cli:{result.cli_user}", "file": filename,
                              "sha256": result.sha256, "resources": dict(result.counts)})
