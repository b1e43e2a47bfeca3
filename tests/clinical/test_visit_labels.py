"""The staff visit form shows the catalogue's short labels in the reader's language: the
registry's own words (scoring.labels), never licensed questionnaire text."""

from __future__ import annotations

from html import unescape

from registry import audit_capture as capture
from scoring.labels import labels, short_label


def test_short_labels_come_from_the_registrys_own_words():
    assert short_label("Walking on a flat surface", "es") == "Caminar en terreno llano"
    assert short_label("Pain", "es") == "Dolor"
    assert short_label("No pain", "es") == "Sin dolor"  # the VAS pack's own anchor
    assert short_label("Walking on a flat surface", "en") == "Walking on a flat surface"
    assert short_label("Not a catalogue label", "es") == "Not a catalogue label"
    assert short_label("Pain", "fr") == "Pain"
    assert not any(key.startswith("@") for key in labels("es"))


def visit_page(browser, patient):
    visit = min(patient.visits, key=lambda v: v.target_date)  # the baseline: KOOS, VAS, ...
    return unescape(browser.get(f"/patients/{patient.id}/visits/{visit.id}",
                                status=200).text)


def test_the_visit_form_shows_spanish_short_labels(browser, db, treated, clinician):
    english = visit_page(browser, treated)
    assert "Walking on a flat surface</legend>" in english
    assert "Caminar en terreno llano" not in english
    capture.set_actor(db, None, "test")
    with capture.reason(db, "test: reads Spanish"):
        clinician.language = "es"
    db.commit()
    spanish = visit_page(browser, treated)
    assert "Caminar en terreno llano</legend>" in spanish
    assert "Walking on a flat surface" not in spanish
    assert "Dolor (" in spanish  # a subscale's name in its legend
