""""E-mail link": the patient's link reaches a real SMTP server (aiosmtpd), in the
patient's language, with nothing identifying or clinical; a failed send makes no link."""

from __future__ import annotations

import re
from email.message import Message
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import select

from registry import audit_capture as capture
from registry.models import SelfReportLink
from registry.selfreport import service
from registry.selfreport.tokens import token_hash
from tests.clinical.browser import form_for, submit
from tests.e2e.server import free_port
from tests.selfreport.conftest import TODAY

URL = re.compile(r"https://registry\.example\.org/r/([A-Za-z0-9_-]{43})")


@pytest.fixture
def app_settings(smtp: Any) -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True,
            "BASE_URL": "https://registry.example.org", "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp[0].port, "SMTP_SECURITY": "none",
            "SMTP_SENDER": "registry@clinic.example"}


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _press_email(browser, visit):
    page = browser.get(f"/patients/{visit.patient_id}/visits/{visit.id}")
    return submit(form_for(page, action=f"/self-report/visits/{visit.id}/email"))


def test_the_e_mailed_link_arrives_and_opens_the_form(browser, db, as_user, site_a, smtp,
                                                      patient, open_visit):
    user = as_user("clinician", sites=[site_a])
    response = _press_email(browser, open_visit)
    assert response.status_int == 302
    assert "was e-mailed to the patient" in response.follow().text
    [message] = smtp[1].messages
    assert message["To"] == patient.identity.email
    assert message["Subject"] == "Your questionnaire for Clinic A"
    body = _body(message)
    [token] = URL.findall(body)
    assert "Clinic A" in body
    assert "3 months" in body
    for secret in (patient.identity.family_name, patient.identity.given_name,
                   patient.identity.medical_record_number, patient.study_id,
                   patient.birth_date.isoformat(), "knee", "pain", "WOMAC", "KOOS"):
        assert secret not in body
    link = db.scalar(select(SelfReportLink).where(SelfReportLink.token_hash
                                                  == token_hash(token)))
    assert (link.channel, link.created_by_id) == ("email", user.id)
    with browser.app.test_request_context():
        assert service.find_link(db, token) is not None
    opened = browser.get(f"/r/{token}", expect_errors=True)
    assert opened.status_int == 200
    assert "Clinic A" in opened.text


def test_the_e_mail_is_in_the_patients_language(browser, db, as_user, site_a, smtp, patient,
                                                open_visit):
    patient.language = "es"
    db.flush()
    as_user("clinician", sites=[site_a])
    assert _press_email(browser, open_visit).status_int == 302
    [message] = smtp[1].messages
    body = _body(message)
    assert URL.search(body)
    # The last day, written out in the patient's language ("… de julio de 2026").
    assert format_date(open_visit.window_end, "long", locale="es") in body
    # Needs HA's strings (/tmp/prompts/es_ha.po) merged into the Spanish catalogue.
    assert message["Subject"] == "Su cuestionario para Clinic A"
    assert "No lo comparta" in body


def test_a_failed_send_makes_no_link(app, browser, db, as_user, site_a, open_visit, smtp):
    as_user("clinician", sites=[site_a])
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    response = _press_email(browser, open_visit)
    assert response.status_int == 302
    assert "could not be sent" in response.follow().text
    assert db.scalar(select(SelfReportLink.id)) is None
    assert smtp[1].messages == []


def test_a_patient_without_an_address_gets_no_e_mail_button(browser, db, as_user, site_a,
                                                            patient, open_visit):
    with capture.reason(db, "test: no address"):
        patient.identity.email = None
    as_user("clinician", sites=[site_a])
    page = browser.get(f"/patients/{patient.id}/visits/{open_visit.id}")
    assert f"/self-report/visits/{open_visit.id}/email" not in page.text
    assert f"/self-report/visits/{open_visit.id}/link" in page.text
