"""Booking an appointment outside the visit's window: warned about (naming the window's
dates) and saved only once confirmed; inside the window, saved at once.  Every form is
submitted as the visit page renders it (CSRF on)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from registry.followup.services import OutsideWindow, log_contact
from registry.models import AuditEvent, ContactAttempt, Visit
from tests.clinical.browser import fill, form_for, submit
from tests.followup.conftest import TODAY, visit_of

OVERDUE_M3 = 115  # m3 window: days 75–120 → TODAY-40 … TODAY+5
CONFIRM = "book_outside_window"


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def coordinator_a(as_user, site_a):
    return as_user("coordinator", sites=[site_a])


def contact_form(page):
    return form_for(page, action="/contact")


def book(browser, visit_id: int, appointment, **values):
    page = browser.get(f"/followup/visits/{visit_id}", status=200)
    form = contact_form(page)
    assert CONFIRM not in form.fields  # asked only once a date falls outside the window
    return submit(fill(form, {"method": "phone", "outcome": "appointment_booked",
                              "appointment_date": appointment.isoformat(), **values}))


def nothing_saved(db, visit_id: int) -> None:
    db.expire_all()
    assert db.scalars(select(ContactAttempt)).all() == []
    assert db.get(Visit, visit_id).appointment_date is None
    assert db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "contact_attempt")).all() == []


@pytest.mark.parametrize(("days", "where"), [(10, "after"), (-41, "before")])
def test_outside_the_window_needs_the_box_ticked(browser, db, site_a, treated_days_ago,
                                                 coordinator_a, days, where):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    appointment = TODAY + timedelta(days=days)
    attempted = min(TODAY, appointment)
    refused = book(browser, visit.id, appointment, note="Prefers mornings",
                   attempted_on=attempted.isoformat())
    assert refused.status_int == 422
    message = (f"{appointment.isoformat()} is {where} the visit's window "
               f"({visit.window_start.isoformat()} – {visit.window_end.isoformat()})")
    # Next to the field, and in the summary naming the field.
    text = html.unescape(refused.text)
    assert re.search(rf'<p class="error" id="appointment_date-error">{re.escape(message)}',
                     text)
    assert f"Appointment date (when one was booked): {message}" in text
    nothing_saved(db, visit.id)

    again = contact_form(refused)
    assert again[CONFIRM].checked is False
    assert again["appointment_date"].value == appointment.isoformat()  # what was typed
    assert again["note"].value.strip() == "Prefers mornings"
    assert re.search(r'<input[^>]*aria-describedby="appointment_date-error"[^>]*'
                     rf'name="{CONFIRM}"', refused.text)
    assert "Book outside the window" in refused.text
    # Sent again without ticking the box: still refused, still nothing saved.
    assert submit(again).status_int == 422
    nothing_saved(db, visit.id)

    confirmed = submit(fill(contact_form(refused), {CONFIRM: True}))
    assert confirmed.status_int == 302, confirmed.text[:2000]
    db.expire_all()
    attempt = db.scalars(select(ContactAttempt)).one()
    assert (attempt.outcome, attempt.appointment_date) == ("appointment_booked", appointment)
    assert db.get(Visit, visit.id).appointment_date == appointment
    reasons = set(db.scalars(select(AuditEvent.reason).where(
        AuditEvent.entity_type.in_(("contact_attempt", "visit")),
        AuditEvent.entity_id.in_((str(attempt.id), str(visit.id))))))
    assert any(reason and "outside the visit's window" in reason for reason in reasons)


def test_inside_the_window_is_booked_at_once_and_shows_as_booked(browser, db, site_a,
                                                                 treated_days_ago,
                                                                 coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    visit = visit_of(patient, "m3")
    appointment = TODAY + timedelta(days=5)  # the window's last day
    assert appointment == visit.window_end
    response = book(browser, visit.id, appointment)
    assert response.status_int == 302
    db.expire_all()
    assert db.get(Visit, visit.id).appointment_date == appointment
    page = response.follow().text
    assert "Contact attempt recorded" in page
    assert f"booked for {appointment.isoformat()}" in page
    worklist = browser.get("/followup/", params={"timepoint": "m3"}).text
    row = re.search(rf'<tr data-visit="{visit.id}">(.*?)</tr>', worklist, re.S).group(1)
    assert 'data-shown="overdue"' in row
    assert f'data-booked="{appointment.isoformat()}">booked <time ' in row


def test_a_confirmed_booking_of_an_upcoming_visit_shows_on_the_worklist(
        browser, db, site_a, treated_days_ago, coordinator_a):
    """The 6–12-month visit of a patient treated 170 days ago: its window opens in 12 days;
    a booking next week is before the window, confirmed, then shown as booked."""
    visit = visit_of(treated_days_ago(site_a, 170), "m6_12")
    appointment = TODAY + timedelta(days=7)
    refused = book(browser, visit.id, appointment)
    assert refused.status_int == 422
    assert "is before the visit's window" in html.unescape(refused.text)
    assert submit(fill(contact_form(refused), {CONFIRM: True})).status_int == 302
    worklist = browser.get("/followup/", params={"timepoint": "m6_12"}).text
    row = re.search(rf'<tr data-visit="{visit.id}">(.*?)</tr>', worklist, re.S).group(1)
    assert 'data-shown="upcoming"' in row
    assert f'data-booked="{appointment.isoformat()}"' in row
    assert "window opens in 12 days" in row


def test_other_errors_come_first_and_the_box_stays_hidden(browser, db, site_a,
                                                          treated_days_ago, coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    refused = book(browser, visit.id, TODAY + timedelta(days=10), method="pigeon")
    assert refused.status_int == 422
    assert "Choose how you tried to reach the patient." in refused.text
    assert 'id="appointment_date-error"' not in refused.text
    assert CONFIRM not in contact_form(refused).fields
    nothing_saved(db, visit.id)


def test_service_refuses_an_unconfirmed_booking_outside_the_window(app, db, site_a,
                                                                   treated_days_ago):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    values = {"user_id": None, "attempted_on": TODAY, "method": "phone",
              "outcome": "appointment_booked", "note": None, "today": TODAY}
    with app.test_request_context():
        with pytest.raises(OutsideWindow) as refused:
            log_contact(db, visit, appointment_date=visit.window_end + timedelta(days=1),
                        **values)
        assert set(refused.value.errors) == {"appointment_date"}
        assert db.scalars(select(ContactAttempt)).all() == []
        # The window's own first and last days are inside it.
        for day in (visit.window_start, visit.window_end):
            if day >= TODAY:
                log_contact(db, visit, appointment_date=day, **values)
        log_contact(db, visit, appointment_date=visit.window_end + timedelta(days=1),
                    book_outside_window=True, **values)
    assert db.get(Visit, visit.id).appointment_date == visit.window_end + timedelta(days=1)
