"""`registry self-report link --visit ID`: prints the absolute address, clear refusals."""

from __future__ import annotations

import re

from sqlalchemy import select

from registry.models import SelfReportLink
from registry.selfreport.tokens import token_hash
from tests.selfreport.conftest import visit_of


def test_prints_the_absolute_url_of_a_new_link(runner, db, open_visit):
    result = runner.invoke(args=["self-report", "link", "--visit", str(open_visit.id)])
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"https://registry\.example\.org/r/([A-Za-z0-9_-]{43})\n",
                         result.stdout)
    assert match, result.stdout
    link = db.scalar(select(SelfReportLink).where(
        SelfReportLink.token_hash == token_hash(match.group(1))))
    assert link is not None
    assert (link.channel, link.created_by_id, link.expires_on) == (
        "link", None, open_visit.window_end)
    assert f"works until {open_visit.window_end.isoformat()}" in result.stderr


def test_the_channel_can_be_chosen(runner, db, open_visit):
    result = runner.invoke(args=["self-report", "link", "--visit", str(open_visit.id),
                                 "--channel", "email"])
    assert result.exit_code == 0, result.output
    assert db.scalar(select(SelfReportLink.channel)) == "email"


def test_an_unknown_visit_is_refused_by_name(runner, db):
    result = runner.invoke(args=["self-report", "link", "--visit", "987654"])
    assert result.exit_code == 1
    assert "There is no visit 987654." in result.output
    assert db.scalar(select(SelfReportLink.id)) is None


def test_a_visit_that_cannot_take_a_self_report_is_refused_with_why(runner, db, patient):
    closed = visit_of(patient, "w2_6")
    result = runner.invoke(args=["self-report", "link", "--visit", str(closed.id)])
    assert result.exit_code == 1
    assert f"Visit {closed.id}: The visit's window closed on" in result.output
    assert db.scalar(select(SelfReportLink.id)) is None


def test_a_malformed_visit_id_is_a_usage_error(runner):
    result = runner.invoke(args=["self-report", "link", "--visit", "abc"])
    assert result.exit_code == 2
    assert "--visit" in result.output
