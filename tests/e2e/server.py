"""A real registry server process for the browser journeys and the screenshots.

``LiveServer`` runs ``gunicorn 'registry:create_app()'`` on 127.0.0.1 with a free port,
configured only through ``REGISTRY_*`` environment variables (as in production): its
own instance folder, database URL, fixed keys and a pinned ``REGISTRY_TODAY``.  Moving
the clock is a restart with another ``today`` on the same database (the secret key stays,
so signed-in browser sessions survive the restart).  ``registry_cli`` runs the
``registry`` command (``init``, ``create-site``, ``create-user``, ``demo``) against the
same environment, as an operator would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

START_TIMEOUT_S = 60.0
# Fixed keys: the tests compute project-stable pseudonyms with the same key.
SECRET_KEY = "e2e-secret-key-not-for-production"
AUDIT_KEY = "e2e-audit-key"
PSEUDONYM_KEY = "e2e-pseudonym-key"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def registry_command() -> list[str]:
    """The ``registry`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("registry")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("registry")
    if found:
        return [found]
    return [sys.executable, "-c", "from registry.cli import main; main()"]


def server_environment(instance: Path, database_url: str, today: date) -> dict[str, str]:
    """The process environment of the server and the CLI: REGISTRY_* settings only."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("REGISTRY_")}
    environment.update({
        "REGISTRY_INSTANCE_PATH": str(instance),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_SECRET_KEY": SECRET_KEY,
        "REGISTRY_AUDIT_KEY": AUDIT_KEY,
        "REGISTRY_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "REGISTRY_TODAY": today.isoformat(),
        "REGISTRY_COOKIE_SECURE": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return environment


def registry_cli(environment: dict[str, str], *args: str, stdin: str | None = None,
                 timeout: float = 300) -> str:
    """Run ``registry <args>``; raise with its output when it fails; return stdout."""
    result = subprocess.run([*registry_command(), *args], env=environment, input=stdin,
                            capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"registry {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class LiveServer:
    """gunicorn serving the registry; ``start``/``stop``/``restart(today=…)``."""

    instance: Path
    database_url: str
    today: date
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # More REGISTRY_* settings (e.g. SMTP_HOST, BASE_URL) for the server and the CLI.
    settings: dict[str, str] = field(default_factory=dict)
    # More gunicorn options (e.g. ["--threads", "4"]).
    gunicorn_options: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        return {**server_environment(self.instance, self.database_url, self.today),
                **{f"REGISTRY_{key}": value for key, value in self.settings.items()}}

    @property
    def error_log(self) -> Path:
        return self.instance / "gunicorn-error.log"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return registry_cli(self.environment, *args, stdin=stdin)

    def start(self) -> LiveServer:
        self.instance.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--worker-class", "sync",
                   "--timeout", "120", "--graceful-timeout", "5",
                   "--error-logfile", str(self.error_log), *self.gunicorn_options,
                   "registry:create_app()"]
        self.process = subprocess.Popen(command, env=self.environment, cwd=self.instance,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                # Our own server on the loopback interface (http only).
                with urllib.request.urlopen(  # noqa: S310
                        self.base_url + "/login", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT_S:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only its workers
            process.wait(timeout=15)

    def restart(self, *, today: date | None = None) -> LiveServer:
        """Stop, then start again on the same port and database (optionally a new today)."""
        self.stop()
        if today is not None:
            self.today = today
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self.error_log.exists():
            return "(no gunicorn error log)"
        return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])


def sqlite_registry(folder: Path, today: date) -> LiveServer:
    """A migrated SQLite registry in ``folder`` (not yet serving)."""
    server = LiveServer(instance=folder / "instance",
                        database_url=f"sqlite:///{folder / 'registry.sqlite3'}", today=today)
    server.instance.mkdir(parents=True)
    server.cli("init")
    return server


def demo_server(folder: Path, today: date) -> LiveServer:
    """The demo cohort as `make demo` serves it, loaded in ``folder`` and serving."""
    server = sqlite_registry(folder, today)
    server.cli("demo")
    return server.start()

