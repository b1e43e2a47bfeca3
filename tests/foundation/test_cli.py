"""The registry command: init, create-site, create-user, demo."""

from __future__ import annotations

from sqlalchemy import func, select

from registry import migrate
from registry.db import make_engine
from registry.models import Patient, User, Visit


def test_init_migrates_an_empty_database(fresh_database_url, tmp_path, app_factory):
    app = app_factory(fresh_database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    engine = make_engine(fresh_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_create_site_and_user_from_the_command_line(runner, db):
    assert runner.invoke(args=["create-site", "--code", "CLI", "--name", "Cli"]).exit_code == 0
    result = runner.invoke(
        args=["create-user", "--email", "first.admin@example.org", "--role", "admin",
              "--site", "CLI", "--password-stdin"],
        input="a sufficiently long passphrase\n")
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User).where(User.email == "first.admin@example.org"))
    assert user.role == "admin"


def test_create_user_refuses_weak_password_and_unknown_site(runner):
    weak = runner.invoke(args=["create-user", "--email", "a@example.org", "--role", "admin",
                               "--password-stdin"], input="password1234\n")
    assert weak.exit_code == 1
    assert "too common" in weak.output
    unknown = runner.invoke(args=["create-user", "--email", "b@example.org", "--role", "admin",
                                  "--site", "NOPE", "--password-stdin"],
                            input="a sufficiently long passphrase\n")
    assert unknown.exit_code == 1
    assert "Unknown site code(s): NOPE" in unknown.output


def test_demo_loads_a_cohort_and_prints_logins(runner, db):
    result = runner.invoke(args=["demo", "--patients", "30"])
    assert result.exit_code == 0, result.output
    assert "coordinator@demo.koa-registry.test" in result.output
    assert db.scalar(select(func.count()).select_from(Patient)) == 30
    statuses = set(db.scalars(select(Visit.status)))
    assert {"done", "scheduled"} <= statuses
    again = runner.invoke(args=["demo", "--patients", "30"])
    assert again.exit_code == 0
    assert db.scalar(select(func.count()).select_from(Patient)) == 30


def test_demo_refuses_a_database_with_real_data(runner, make_user):
    make_user("admin", email="real.person@hospital.example")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "holds data and is not a demo database" in result.output


def test_demo_logins_work(runner, client):
    runner.invoke(args=["demo", "--patients", "6"])
    response = client.post("/login", data={"email": "coordinator@demo.koa-registry.test",
                                           "password": "demo coordinator password"})
    assert response.status_code == 302
    assert client.get("/home").status_code == 200
