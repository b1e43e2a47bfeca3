"""Row links built once per page (``registry.urls.url_builder``) equal ``url_for``'s."""

from __future__ import annotations

from flask import url_for

import scoring
from registry.urls import URL_SENTINEL, url_builder


def test_url_builder_gives_what_url_for_gives(app):
    with app.test_request_context("/"):
        visit_url = url_builder("clinical.visit_entry", "visit_id", patient_id=12)
        chart_url = url_builder("clinical.score_chart", "score_code", patient_id=12)
        for visit_id in (1, 7, 12, 987654):
            assert visit_url(visit_id) == url_for("clinical.visit_entry", patient_id=12,
                                                  visit_id=visit_id)
        for code in (*scoring.SCORES, "a b/c", "ü"):  # the last two need quoting
            assert chart_url(code) == url_for("clinical.score_chart", patient_id=12,
                                              score_code=code)
        # The sentinel also in the fixed part: every URL comes from url_for.
        clash = url_builder("clinical.visit_entry", "visit_id", patient_id=URL_SENTINEL)
        assert clash(5) == url_for("clinical.visit_entry", patient_id=URL_SENTINEL, visit_id=5)
        # The worklist's links.
        visit_page = url_builder("followup.visit_page", "visit_id")
        assert visit_page(3) == url_for("followup.visit_page", visit_id=3)
