"""`registry fhir`: Questionnaires of the catalogue, and a patient's identified Bundle.

Every resource is parsed with ``fhir.resources`` (its R4B models: FHIR R4's Questionnaire,
QuestionnaireResponse, Observation, Patient and Bundle), and checked against the
instrument definitions and the stored answers and scores.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy import select

import scoring
from registry import audit_capture as capture
from registry.interop import loinc
from registry.models import AuditEvent, InstrumentResponse, ScoreValue, Visit

LOINC = "http://loinc.org"


def write_questionnaire(runner, tmp_path, code: str) -> dict:
    target = tmp_path / f"{code}.json"
    result = runner.invoke(args=["fhir", "--questionnaire", code, "-o", str(target)])
    assert result.exit_code == 0, result.output
    return json.loads(target.read_text(encoding="utf-8"))


@pytest.mark.parametrize("code", list(scoring.INSTRUMENTS))
def test_every_instrument_is_a_valid_questionnaire_of_short_labels(runner, db, tmp_path,
                                                                   code):
    document = write_questionnaire(runner, tmp_path, code)
    parsed = Questionnaire.model_validate(document)
    instrument = scoring.INSTRUMENTS[code]
    assert parsed.status == "active"
    assert parsed.version == instrument.version
    assert parsed.url.endswith(f"/fhir/Questionnaire/{document['id']}")
    assert [item.linkId for item in parsed.item] == list(instrument.item_codes)
    for question, item in zip(parsed.item, instrument.items, strict=True):
        assert question.text == item.label  # the catalogue's short label, nothing longer
        if item.options:
            assert question.type == "choice"
            assert [(o.valueCoding.code, o.valueCoding.display)
                    for o in question.answerOption] == [(str(o.code), o.label)
                                                        for o in item.options]
        else:
            assert question.type == "integer"
            limits = {e.url.rsplit("/", 1)[1]: e.valueInteger for e in question.extension
                      if e.url.endswith(("minValue", "maxValue"))}
            assert limits == {"minValue": item.minimum, "maxValue": item.maximum}


def test_loinc_codes_where_verified_and_only_for_catalogue_codes(runner, db, tmp_path):
    koos = write_questionnaire(runner, tmp_path, "koos")
    assert koos["code"] == [{"system": LOINC, "code": "72091-2",
                             "display": loinc.INSTRUMENTS["koos"].display}]
    jr = write_questionnaire(runner, tmp_path, "koosjr")
    assert jr["code"][0]["code"] == "82324-5"
    item_codes = {item["linkId"]: item["code"][0]["code"] for item in jr["item"]}
    assert item_codes == {"S6": "82325-2", "P2": "82326-0", "P3": "82327-8",
                          "P6": "82328-6", "P9": "82329-4", "A3": "82330-2", "A5": "82331-0"}
    assert "code" not in write_questionnaire(runner, tmp_path, "womac")
    # Every binding names something the catalogue defines.
    assert set(loinc.INSTRUMENTS) <= set(scoring.INSTRUMENTS)
    assert set(loinc.SCORES) <= set(scoring.SCORES)
    for instrument, item in loinc.ITEMS:
        scoring.INSTRUMENTS[instrument].item(item)
    assert loinc.SCORES["koos_jr"].code == "82332-8"
    assert scoring.SCORES["koos_jr"].instrument == "koosjr"
    codes = [c.code for c in [*loinc.INSTRUMENTS.values(), *loinc.SCORES.values(),
                              *loinc.ITEMS.values()]]
    assert len(codes) == len(set(codes))


@pytest.fixture
def clinician(make_user, site_a):
    return make_user("clinician", sites=[site_a])


def bundle_for(runner, tmp_path, study_id: str, email: str):
    target = tmp_path / "bundle.json"
    result = runner.invoke(args=["fhir", "--patient", study_id, "--user", email,
                                 "-o", str(target)])
    return result, target


def test_patient_bundle_answers_and_scores_equal_the_stored_ones(runner, db, cohort_data,
                                                                 clinician, tmp_path):
    patient = cohort_data.patients[0]
    result, target = bundle_for(runner, tmp_path, patient.study_id, clinician.email)
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text(encoding="utf-8"))
    bundle = Bundle.model_validate(document)
    assert bundle.type == "collection"
    resources = {e.fullUrl: e.resource for e in bundle.entry}
    patients = [r for r in resources.values() if isinstance(r, FhirPatient)]
    assert len(patients) == 1
    assert patients[0].identifier[0].value == patient.study_id
    assert patients[0].name[0].family == cohort_data.identities[0]["family_name"]
    assert patients[0].birthDate == patient.birth_date
    assert not patients[0].telecom  # no contact details
    responses = {url: r for url, r in resources.items() if isinstance(r, QuestionnaireResponse)}
    stored = db.scalars(select(InstrumentResponse).join(Visit)
                        .where(Visit.patient_id == patient.id)).all()
    assert len(responses) == len(stored) == 8  # two visits × VAS, PGA, KOOS, WOMAC
    by_key = {}
    for response in responses.values():
        code = response.questionnaire.split("/Questionnaire/")[1].split("|")[0]
        by_key[(code.replace("-", "_"), response.authored)] = response
    for answer_set in stored:
        visit = db.get(Visit, answer_set.visit_id)
        response = by_key[(answer_set.instrument, visit.visit_date)]
        assert response.status == "completed"
        got = {}
        for item in response.item:
            answer = item.answer[0]
            got[item.linkId] = (int(answer.valueCoding.code) if answer.valueCoding
                                else answer.valueInteger)
        assert got == {k: v for k, v in answer_set.answers.items() if v is not None}
    observations = [r for r in resources.values() if isinstance(r, Observation)]
    scores = db.scalars(select(ScoreValue).where(ScoreValue.patient_id == patient.id,
                                                 ScoreValue.value.is_not(None))).all()
    assert len(observations) == len(scores)
    stored_values = sorted((s.score_code, s.value) for s in scores)
    got_values = sorted((next(c.code for c in o.code.coding if "CodeSystem/scores" in c.system),
                         float(o.valueQuantity.value)) for o in observations)
    assert got_values == stored_values  # exact: JSON keeps every digit
    for observation in observations:
        assert observation.derivedFrom[0].reference in responses
        assert observation.subject.reference in resources
        code = next(c.code for c in observation.code.coding if "CodeSystem/scores" in c.system)
        loinc_codes = [c.code for c in observation.code.coding if c.system == LOINC]
        assert loinc_codes == ([loinc.SCORES[code].code] if code in loinc.SCORES else [])


def test_bundle_is_audited_with_its_checksum(runner, db, cohort_data, clinician, tmp_path):
    patient = cohort_data.patients[2]
    result, target = bundle_for(runner, tmp_path, patient.study_id, clinician.email)
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest in result.output
    db.expire_all()
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                              AuditEvent.entity_type == "patient")).one()
    facts = json.loads(row.new_value)
    assert (row.actor_email, row.entity_id, row.site_id) == (clinician.email, str(patient.id),
                                                             patient.site_id)
    assert facts["sha256"] == digest
    assert facts["study_id"] == patient.study_id
    assert facts["file"] == "bundle.json"


@pytest.mark.parametrize("who", ["researcher", "other_site", "inactive", "unknown"])
def test_only_clinical_staff_of_the_patients_site_get_the_bundle(runner, db, cohort_data,
                                                                  make_user, site_b, tmp_path,
                                                                  who):
    patient = cohort_data.patients[0]  # site A
    if who == "researcher":
        email = make_user("researcher").email
    elif who == "other_site":
        email = make_user("coordinator", sites=[site_b]).email
    elif who == "inactive":
        user = make_user("clinician", sites=[patient.site])
        with capture.reason(db, "left the clinic"):
            user.active = False
        db.flush()
        email = user.email
    else:
        email = "nobody@example.org"
    result, target = bundle_for(runner, tmp_path, patient.study_id, email)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    expected = "Unknown user" if who == "unknown" else "may not have patient"
    assert expected in result.output
    assert not target.exists()
    db.expire_all()
    assert db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "patient",
                                               AuditEvent.action == "export")).all() == []


def test_command_line_errors_are_clear(runner, db, cohort_data, clinician, tmp_path):
    out = str(tmp_path / "x.json")
    unknown = runner.invoke(args=["fhir", "--patient", "NOPE-1", "--user", clinician.email,
                                  "-o", out])
    assert unknown.exit_code == 1
    assert "Unknown patient 'NOPE-1'" in unknown.output
    bad = runner.invoke(args=["fhir", "--questionnaire", "sf36", "-o", out])
    assert bad.exit_code == 2
    assert "unknown instrument 'sf36'" in bad.output
    neither = runner.invoke(args=["fhir", "-o", out])
    assert neither.exit_code == 2
    assert "either --patient" in neither.output
    no_user = runner.invoke(args=["fhir", "--patient", cohort_data.patients[0].study_id,
                                  "-o", out])
    assert no_user.exit_code == 2
    assert "--user EMAIL" in no_user.output
    for result in (unknown, bad, neither, no_user):
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.json").exists()
