"""`make demo` twice: a demo database is recognised by its marker and served again, however
it was used since; any other database holding data is refused with a clear message."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.models import DEMO_MARKER, Patient, RegistrySetting, Site, User
from tests.clinical.browser import fill, form_for
from tests.clinical.helpers import enrol_data
from tests.e2e.server import registry_command, server_environment
from tests.fixtures import accounts, clinical
from tests.fixtures.webtest import sign_in, submit, webtest

DEMO_ADMIN = ("admin@demo.koa-registry.test", "demo administrator password")


def counts(db) -> tuple[int, int, int]:
    return tuple(db.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]
                 for model in (Site, User, Patient))


def test_the_demo_marks_its_database(runner, db):
    result = runner.invoke(args=["demo", "--patients", "6"])
    assert result.exit_code == 0, result.output
    assert "Demo cohort loaded" in result.output
    marker = db.get(RegistrySetting, DEMO_MARKER)
    assert marker is not None
    assert "6 patients" in marker.value


def test_a_tried_out_demo_is_served_again(runner, app, db):
    assert runner.invoke(args=["demo", "--patients", "6"]).exit_code == 0
    # Tried out: an account added on the admin page (as rendered), a patient enrolled.
    browser = webtest.TestApp(app)
    sign_in(browser, *DEMO_ADMIN)
    form = next(form for form in browser.get("/admin/users").forms.values()
                if "full_name" in form.fields)
    form["email"], form["full_name"] = "trainee@clinic.example", "A Trainee"
    form["role"], form["sites"] = "clinician", [form["sites"].options[0][0]]
    form["password"] = "a trainee's temporary passphrase"
    assert submit(form).status_int == 302
    oslo = db.scalar(select(Site).where(Site.code == "OSL"))
    enrol = fill(form_for(browser.get("/patients/new"), field="family_name"),
                 enrol_data(oslo.id, consent_date=date.today().isoformat()))
    enrolled = submit(enrol)
    assert enrolled.status_int == 302, enrolled.text[:500]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Patient)) == 7
    before = counts(db)
    again = runner.invoke(args=["demo", "--patients", "6"])
    assert again.exit_code == 0, again.output
    assert "This is a demo database" in again.output
    assert "serving it as it is" in again.output
    assert "admin@demo.koa-registry.test" in again.output
    assert "demo coordinator password" in again.output
    db.expire_all()
    assert counts(db) == before  # nothing loaded twice, nothing removed
    assert db.scalar(select(User).where(User.email == "trainee@clinic.example")) is not None


@pytest.mark.parametrize("what", ["account", "site", "patient"])
def test_an_unmarked_database_holding_data_is_refused(runner, db, make_user, make_site,
                                                      make_patient, what):
    if what == "account":
        make_user("admin", email="real.person@hospital.example")
    elif what == "site":
        make_site("REAL", "A real clinic")
    else:
        make_patient(make_site("REAL", "A real clinic"))
    before = counts(db)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "holds data and is not a demo database" in result.output
    assert "make clean-demo" in result.output
    assert db.get(RegistrySetting, DEMO_MARKER) is None
    assert counts(db) == before


def test_demo_accounts_alone_do_not_make_a_demo_database(runner, db, make_user):
    """The marker decides, not the accounts: demo-looking accounts without it are data."""
    make_user("admin", email="admin@demo.koa-registry.test")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "not a demo database" in result.output


def _registry(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*registry_command(), *args], env=environment, capture_output=True,
                          text=True, timeout=600, check=False)


def test_make_demo_twice_as_an_operator_runs_it(fresh_database_url, tmp_path, app_factory):
    """`make demo`'s commands (`registry init`, `registry demo`) twice, in processes of their
    own, with the demo tried out in between: the second run serves the database."""
    environment = server_environment(tmp_path / "instance", fresh_database_url,
                                     date(2026, 6, 1))
    for _run in range(2):
        assert _registry(environment, "init").returncode == 0
        first = _registry(environment, "demo", "--patients", "6")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "coordinator@demo.koa-registry.test" in first.stdout
        if _run == 0:
            assert "Demo cohort loaded" in first.stdout
            app = app_factory(fresh_database_url, tmp_path / "tried")
            session = app.extensions["registry.sessionmaker"]()
            accounts.make_user.__wrapped__(session)("coordinator", email="new@clinic.example")
            site = accounts.make_site.__wrapped__(session)("TRY", "A new clinic")
            clinical.make_patient.__wrapped__(session)(site, treatment_date=date(2026, 2, 1))
            session.commit()
            session.close()
        else:
            assert "serving it as it is" in first.stdout
