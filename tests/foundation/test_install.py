"""A non-editable install finds its templates and migrations (they live at the top
level of the repository and are mapped into the package by setup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import pathlib, sys, tempfile
import registry
from registry import create_app, migrate
from registry.paths import resource_dir
target = pathlib.Path(sys.argv[1]).resolve()
assert pathlib.Path(registry.__file__).resolve().is_relative_to(target), registry.__file__
assert (resource_dir("templates") / "base.html").is_file()
assert resource_dir("templates").resolve().is_relative_to(target)
assert (resource_dir("migrations") / "env.py").is_file()
db = pathlib.Path(tempfile.mkdtemp()) / "installed.sqlite3"
migrate.upgrade(f"sqlite:///{db}")
app = create_app({"DATABASE_URL": f"sqlite:///{db}", "INSTANCE_PATH": str(db.parent)})
response = app.test_client().get("/login")
assert response.status_code == 200, response.status_code
assert b"Sign in" in response.data
print("installed package OK")
"""


@pytest.mark.slow
def test_non_editable_install_finds_templates_and_migrations(tmp_path):
    wheels = tmp_path / "wheels"
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True,
                   cwd=tmp_path)
    wheel = next(wheels.glob("koa_registry-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("REGISTRY_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", CHECK, str(target)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "installed package OK" in result.stdout
