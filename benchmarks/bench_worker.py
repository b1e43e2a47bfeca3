"""Benchmark: memory and start-up of one gunicorn worker after serving a patient page.

Targets (issue 17): at most 80 MB resident and 0.6 s start-up per worker, against the bare
web stack (``benchmarks/load_bare_app.py``: Flask + SQLAlchemy + the database, no registry
code) measured the same way.

A migrated SQLite database with the demo cohort (``registry init`` + ``registry demo``) is
built once.  Then, ``--runs`` times, alternately for the registry and the bare app:
gunicorn starts with one sync worker (the app is not preloaded, so the worker imports it
after the fork);
a gunicorn hook records the time from the fork to the worker being ready to serve
(``post_fork`` → ``post_worker_init``: imports plus ``create_app``); the registry's demo
clinician signs in and opens a patient page (the bare app: its patient page); then the
worker's ``VmRSS`` is read from ``/proc/<pid>/status``, and the hook lists which of
pandas / pyarrow / matplotlib the worker has imported.  Medians are reported.

    .venv/bin/python benchmarks/bench_worker.py                 # this checkout
    .venv/bin/python benchmarks/bench_worker.py --tree /tmp/base --label before

``--tree`` measures another checkout of the project (e.g. a ``git worktree`` of an older
commit) with this environment's interpreter.  Results are appended to
``benchmarks/results/worker.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "worker.md"
TODAY = date(2026, 6, 1)
EMAIL = "clinician@demo.koa-registry.test"
PASSWORD = "demo clinician password"  # registry/demo.py DEMO_USERS
HEAVY = ("pandas", "pyarrow", "matplotlib")
TARGET_MB = 80.0
TARGET_S = 0.6
START_TIMEOUT_S = 60.0
COOKIE = "registry_session"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# gunicorn settings file: hooks run inside the worker; each writes one JSON line.
HOOKS = '''
import json, os, sys, time

_OUT = os.environ["BENCH_WORKER_OUT"]
_HEAVY = {heavy!r}


def _write(record):
    with open(_OUT, "a") as handle:
        handle.write(json.dumps(record) + "\\n")


def post_fork(server, worker):
    worker.bench_forked = time.monotonic()


def post_worker_init(worker):
    _write({{"event": "ready", "pid": os.getpid(),
             "startup_s": time.monotonic() - worker.bench_forked}})


def post_request(worker, req, environ, resp):
    _write({{"event": "request", "pid": os.getpid(), "path": req.path,
             "heavy": [name for name in _HEAVY if name in sys.modules],
             "modules": len(sys.modules)}})
'''


@dataclass(frozen=True)
class Sample:
    startup_s: float
    rss_mb: float
    heavy: tuple[str, ...]
    modules: int


def environment(tree: Path, instance: Path, database_url: str) -> dict[str, str]:
    """REGISTRY_* settings only, as in production; ``tree`` first on the import path."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("REGISTRY_", "PYTHONPATH"))}
    env.update({"PYTHONPATH": str(tree), "REGISTRY_INSTANCE_PATH": str(instance),
                "REGISTRY_DATABASE_URL": database_url, "REGISTRY_SECRET_KEY": "bench",
                "REGISTRY_AUDIT_KEY": "bench", "REGISTRY_PSEUDONYM_KEY": "bench",
                "REGISTRY_TODAY": TODAY.isoformat(), "BARE_DATABASE_URL": database_url,
                "PYTHONUNBUFFERED": "1"})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(port: int, method: str, path: str, cookie: str | None = None,
            body: dict[str, str] | None = None) -> tuple[int, str | None, str]:
    """(status, new session cookie or None, body) of one request (stdlib only, so that
    this script measures any checkout without importing the project)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    payload = None
    if body is not None:
        payload = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", errors="replace")
    new_cookie = None
    for header in response.headers.get_all("Set-Cookie") or []:
        match = re.match(rf"{COOKIE}=([^;]*)", header)
        if match:
            new_cookie = match.group(1)
    connection.close()
    return response.status, new_cookie, text


def sign_in(port: int) -> str:
    """Sign the demo clinician in through the login form; return the session cookie."""
    status, cookie, page = request(port, "GET", "/login")
    token = TOKEN.search(page)
    if status != 200 or token is None:
        raise RuntimeError(f"login page: {status}")
    status, signed_in, _ = request(port, "POST", "/login", cookie, {
        "email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)})
    if status != 302 or signed_in is None:
        raise RuntimeError(f"sign-in failed: {status}")
    return signed_in


def build_database(tree: Path, env: dict[str, str], patients: int) -> None:
    """``registry init`` and ``registry demo`` of ``tree``, as an operator would."""
    command = [sys.executable, "-c", "from registry.cli import main; main()"]
    for args in (["init"], ["demo", "--patients", str(patients)]):
        subprocess.run([*command, *args], env=env, cwd=tree, check=True,
                       capture_output=True, text=True, timeout=900)


def a_patient(database: Path) -> int:
    """A demo patient at the clinician's site (OSL)."""
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT p.id FROM patient p JOIN site s ON s.id = p.site_id "
            "WHERE s.code = 'OSL' ORDER BY p.id LIMIT 1").fetchone()
    return int(row[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def one_run(tree: Path, env: dict[str, str], work: Path, app: str,
            pages: list[str]) -> Sample:
    """Start gunicorn (1 sync worker, app not preloaded), serve ``pages``, measure."""
    out = work / f"hooks-{time.monotonic_ns()}.jsonl"
    settings = work / "bench_worker_conf.py"
    settings.write_text(HOOKS.format(heavy=HEAVY))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "sync", "--timeout", "120", "--chdir", str(tree),
         "--config", str(settings), "--error-logfile", str(work / "error.log"), app],
        env={**env, "BENCH_WORKER_OUT": str(out)}, cwd=tree, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(r["event"] == "ready" for r in records(out)):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{app} did not start; see {work / 'error.log'}")
            time.sleep(0.05)
        ready = next(r for r in records(out) if r["event"] == "ready")
        cookie = sign_in(port) if app.startswith("registry") else None
        for page in pages:
            status, _new, _body = request(port, "GET", page, cookie)
            if status != 200:
                raise RuntimeError(f"GET {page}: {status}")
        pid = int(ready["pid"])
        memory = rss_mb(pid)
        while not any(r["event"] == "request" and r["path"] == pages[-1]
                      for r in records(out)):  # the hook runs after the response is sent
            if time.monotonic() > deadline + START_TIMEOUT_S:
                raise RuntimeError("no request record from the worker")
            time.sleep(0.02)
        last = [r for r in records(out) if r["event"] == "request"][-1]
        return Sample(startup_s=float(ready["startup_s"]), rss_mb=memory,
                      heavy=tuple(last["heavy"]),
                      modules=int(last["modules"]))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@dataclass(frozen=True)
class Summary:
    """Medians (and ranges) of one app's runs."""

    name: str
    pages: str
    samples: list[Sample]

    def median(self, field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in self.samples))

    def span(self, field: str, digits: int = 2) -> str:
        values = [float(getattr(s, field)) for s in self.samples]
        return f"{min(values):.{digits}f}–{max(values):.{digits}f}"

    @property
    def heavy(self) -> str:
        return ", ".join(sorted({name for s in self.samples for name in s.heavy})) or "none"


def report(label: str, tree: Path, runs: int, rows: list[Summary]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--",
                            "registry", "scoring"], capture_output=True, text=True,
                           check=False).stdout.strip()
    lines = [f"## Worker — {stamp} — {label}",
             f"Tree {tree} at {commit or '?'}{' + uncommitted changes' if dirty else ''}; "
             f"gunicorn 1 sync worker, app not preloaded; SQLite demo cohort; median of "
             f"{runs} runs (min–max); Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
             "",
             "| app | pages served | start-up s (fork → ready) | RSS MB after the pages | "
             "modules | pandas / pyarrow / matplotlib loaded | targets |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        start, memory = row.median("startup_s"), row.median("rss_mb")
        verdict = "(reference)"
        if row.name == "registry":
            missed = [f"RSS {memory:.0f} MB > {TARGET_MB:.0f}"] if memory > TARGET_MB else []
            if start > TARGET_S:
                missed.append(f"start-up {start:.2f} s > {TARGET_S}")
            verdict = "MISSED: " + "; ".join(missed) if missed else "all met"
        lines.append(f"| {row.name} | {row.pages} | {start:.2f} ({row.span('startup_s')}) "
                     f"| {memory:.1f} ({row.span('rss_mb', 1)}) | {row.median('modules'):.0f} "
                     f"| {row.heavy} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout of the project to measure (default: this one)")
    parser.add_argument("--label", default="working tree")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--patients", type=int, default=60, help="demo cohort size")
    parser.add_argument("--no-write", action="store_true", help="do not append to results")
    args = parser.parse_args()
    tree = args.tree.resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    database = work / "registry.sqlite3"
    env = environment(tree, work, f"sqlite:///{database}")
    try:
        print(f"building the demo database ({args.patients} patients) …", flush=True)
        build_database(tree, env, args.patients)
        patient = f"/patients/{a_patient(database)}"
        apps = {"registry": "registry:create_app()",
                "bare": "benchmarks.load_bare_app:create_app()"}
        samples: dict[str, list[Sample]] = {name: [] for name in apps}
        for number in range(args.runs):  # alternating, so both see the same machine load
            for name, app in apps.items():
                samples[name].append(one_run(tree, env, work, app, [patient]))
                last = samples[name][-1]
                print(f"[{name}] run {number + 1}: start-up {last.startup_s:.2f} s, "
                      f"RSS {last.rss_mb:.1f} MB, heavy {last.heavy or 'none'}", flush=True)
        rows = [Summary(name, "sign-in, patient page" if name == "registry"
                        else "patient page", samples[name]) for name in apps]
        text = report(args.label, tree, args.runs, rows)
        print(text)
        if not args.no_write:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with RESULTS.open("a") as handle:
                handle.write(("\n" if RESULTS.exists() and RESULTS.stat().st_size else "")
                             + text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
