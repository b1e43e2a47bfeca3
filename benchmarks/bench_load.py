"""Load benchmark: the registry under 16 signed-in users, on gunicorn, SQLite and PostgreSQL.

For each backend: a synthetic registry of ``--patients`` patients (visits with answers and
scores, bulk-inserted; see ``load_registry.py``) is served by gunicorn with ``--workers``
sync workers (default cores + 1: 3 on the project's 2-core machine, where this CPU-bound
load measured best — gunicorn's starting point of 2 × cores + 1 = 5 did slightly worse
and 8 worse still) on 127.0.0.1.  16 coordinators are signed in first through the login form
(urllib/http.client: session cookie and CSRF token per user); then ``wrk`` in a second
process drives 16 connections, one user each (``benchmarks/load/registry.lua``): 70 %
patient pages of the user's own site, 20 % worklist pages, 10 % visit saves, for
``--duration`` seconds.  Afterwards every save answered with success is looked up in the
database, and the gunicorn error log is searched for "database is locked".

The yardstick, measured in the same run and served the same way on the same database: a
bare Flask page doing two queries (``load_bare_app.py``, ``load/bare.lua``); our
requests/s are reported as a share of it.

    .venv/bin/python benchmarks/bench_load.py                       # SQLite (+ PostgreSQL)
    .venv/bin/python benchmarks/bench_load.py --smoke               # 500 patients, 5 s
    .venv/bin/python benchmarks/bench_load.py --postgres-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL: the server comes from ``--postgres-url`` or REGISTRY_TEST_POSTGRES_URL; the
benchmark creates a database of its own there and drops it at the end.  Results are
appended to ``benchmarks/results/load.txt`` (smoke runs: ``load-smoke.txt``).  Needs
``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from benchmarks.load_client import sign_in, visit_form_answers  # noqa: E402
from benchmarks.load_registry import (  # noqa: E402
    build_registry,
    open_followup_visits,
    site_patient_ids,
)
from registry import create_app, migrate  # noqa: E402
from registry.db import make_engine  # noqa: E402
from registry.models import InstrumentResponse, Visit  # noqa: E402
from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY, LiveServer  # noqa: E402
from tests.fixtures.database import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
)

TODAY = date(2026, 6, 1)
PASSWORD = "benchmark coordinator password"
LOAD = ROOT / "benchmarks" / "load"
RESULTS = ROOT / "benchmarks" / "results"
WORKLIST_PAGES = 5
TARGET_P95_MS = 150.0
TARGET_RPS = 300.0


@dataclass
class Run:
    """What one wrk run measured (from the Lua scripts' summary file)."""

    values: dict[str, str] = field(default_factory=dict)

    def number(self, key: str) -> float:
        return float(self.values.get(key, 0) or 0)

    @property
    def rps(self) -> float:
        return self.number("requests") / (self.number("duration_us") / 1e6 or 1)

    def ms(self, percentile: int) -> float:
        return self.number(f"p{percentile}_us") / 1000

    @property
    def errors(self) -> int:
        return int(sum(self.number(f"errors_{kind}") for kind in
                       ("connect", "read", "write", "status", "timeout")))

    def total(self, name: str) -> int:
        return int(sum(float(v) for k, v in self.values.items() if k.endswith("." + name)))

    def saved_ids(self) -> list[int]:
        return [int(i) for k, v in self.values.items() if k.endswith(".saved")
                for i in v.split(",") if i]

    def bad_statuses(self) -> str:
        return " ".join(v for k, v in self.values.items() if k.endswith(".bad_statuses") and v)


def machine_state() -> tuple[list[str], str]:
    """Other test runs (``pgrep -fa pytest``) and the load average, right now."""
    found = subprocess.run(["pgrep", "-fa", "pytest"], capture_output=True, text=True,
                           check=False).stdout.splitlines()
    others = [line for line in found if str(os.getpid()) != line.split(" ", 1)[0]]
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return others, load


def wait_until_idle(retries: int, pause_s: float) -> tuple[list[str], str]:
    others, load = machine_state()
    for _attempt in range(retries):
        if not others:
            break
        print(f"  other test runs are busy ({len(others)} pytest processes); waiting "
              f"{pause_s:.0f} s …", flush=True)
        time.sleep(pause_s)
        others, load = machine_state()
    return others, load


def run_wrk(script: str, url: str, connections: int, duration: int,
            environment: dict[str, str]) -> Run:
    with tempfile.NamedTemporaryFile("r", suffix=".txt", delete=False) as handle:
        results = Path(handle.name)
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--latency",
               "--timeout", "10s", "-s", script, url]
    env = {**os.environ, **environment, "WRK_RESULTS": str(results)}
    subprocess.run(command, cwd=LOAD, env=env, check=True, capture_output=True,
                   timeout=duration + 120)
    values = dict(line.split("=", 1) for line in results.read_text().splitlines()
                  if "=" in line)
    results.unlink()
    return Run(values)


def lua_data(connections: list[dict[str, Any]], answers: str) -> str:
    """The wrk script's data file: a Lua table literal."""
    parts = ["return {", f'  answers = "{answers}",', f"  worklist_pages = {WORKLIST_PAGES},",
             "  connections = {"]
    for item in connections:
        saves = ",".join(f'{{{t.patient_id},{t.visit_id},{t.version},"{t.visit_date}"}}'
                         for t in item["saves"])
        patients = ",".join(str(pid) for pid in item["patients"])
        parts.append(f'    {{cookie = "{item["cookie"]}", csrf = "{item["csrf"]}", '
                     f"patients = {{{patients}}}, saves = {{{saves}}}}},")
    parts += ["  },", "}"]
    return "\n".join(parts) + "\n"


def prepare_connections(server: LiveServer, engine: Any, users: list[tuple[str, int]],
                        saves_per_connection: int) -> list[dict[str, Any]]:
    """Sign every user in; give each its site's patients and its own visits to save."""
    by_site: dict[int, list[Any]] = {}
    patients: dict[int, list[int]] = {}
    for _email, site_id in users:
        if site_id not in by_site:
            by_site[site_id] = open_followup_visits(engine, site_id, TODAY)
            patients[site_id] = site_patient_ids(engine, site_id)
    connections = []
    for email, site_id in users:
        pool = by_site[site_id]
        mine, by_site[site_id] = pool[:saves_per_connection], pool[saves_per_connection:]
        first = mine[0] if mine else None
        form_path = (f"/patients/{first.patient_id}/visits/{first.visit_id}" if first
                     else "/followup/")
        cookie, csrf = sign_in(server.port, email, PASSWORD, form_path)
        connections.append({"cookie": cookie, "csrf": csrf, "patients": patients[site_id],
                            "saves": mine})
    return connections


def saves_present(engine: Any, run: Run, dates: dict[int, date]) -> tuple[int, int]:
    """(saves answered with success, of those: done in the database with 4 responses)."""
    saved = run.saved_ids()
    present = 0
    with engine.connect() as connection:
        for start in range(0, len(saved), 500):
            chunk = saved[start:start + 500]
            rows = connection.execute(
                select(Visit.id, Visit.status, Visit.visit_date,
                       select(func.count()).where(InstrumentResponse.visit_id == Visit.id)
                       .scalar_subquery())
                .where(Visit.id.in_(chunk)))
            present += sum(1 for vid, status, when, responses in rows
                           if status == "done" and when == dates[vid] and responses == 4)
    return len(saved), present


def count_in_log(path: Path, pattern: str) -> int:
    if not path.exists():
        return 0
    return len(re.findall(pattern, path.read_text(errors="replace")))


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    migrate.upgrade(url)
    instance = Path(tempfile.mkdtemp(prefix=f"bench-load-{name}-"))
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": TODAY.isoformat()})
    print(f"[{name}] building {args.patients:,} patients …", flush=True)
    built = build_registry(app, patients=args.patients, users=args.connections,
                           password=PASSWORD, today=TODAY, seed=args.seed)
    app.extensions["registry.engine"].dispose()
    print(f"[{name}] built in {built.build_seconds:.0f} s", flush=True)
    engine = make_engine(url)
    result: dict[str, Any] = {"build_seconds": built.build_seconds}
    bare_log = instance / "bare-error.log"
    bare = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{args.bare_port}",
         "--workers", str(args.workers), "--worker-class", "sync", "--chdir", str(ROOT),
         "--error-logfile", str(bare_log), "benchmarks.load_bare_app:create_app()"],
        env={**os.environ, "BARE_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(3)
        run_wrk("bare.lua", f"http://127.0.0.1:{args.bare_port}", args.connections, 3,
                {"BARE_PATIENTS": str(args.patients)})  # warm-up
        result["busy_before_bare"] = wait_until_idle(args.idle_retries, args.idle_pause)
        print(f"[{name}] bare Flask page, {args.duration} s …", flush=True)
        result["bare"] = run_wrk("bare.lua", f"http://127.0.0.1:{args.bare_port}",
                                 args.connections, args.duration,
                                 {"BARE_PATIENTS": str(args.patients)})
    finally:
        bare.terminate()
        bare.wait(timeout=30)
    server = LiveServer(instance=instance, database_url=url, today=TODAY,
                        workers=args.workers)
    server.start()
    try:
        connections = prepare_connections(server, engine, built.users, args.saves)
        data = instance / "wrk-data.lua"
        data.write_text(lua_data(connections, visit_form_answers()))
        dates = {t.visit_id: t.visit_date for c in connections for t in c["saves"]}
        run_wrk("registry.lua", server.base_url, args.connections, 3,
                {"WRK_DATA": str(data), "WRK_NO_SAVES": "1"})  # warm-up, pages only
        result["busy"] = wait_until_idle(args.idle_retries, args.idle_pause)
        print(f"[{name}] registry mix, {args.duration} s …", flush=True)
        run = run_wrk("registry.lua", server.base_url, args.connections, args.duration,
                      {"WRK_DATA": str(data), "WRK_MIX": args.mix})
    finally:
        server.stop()
    result["run"] = run
    result["locked"] = count_in_log(server.error_log, r"database is locked")
    result["tracebacks"] = count_in_log(server.error_log, r"Traceback")
    result["saves_ok"], result["saves_present"] = saves_present(engine, run, dates)
    result["save_targets"] = len(dates)
    engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    print(f"[{name}] {run.rps:.0f} req/s (bare {result['bare'].rps:.0f}), "
          f"p95 {run.ms(95):.0f} ms", flush=True)
    return result


def verdict(result: dict[str, Any]) -> list[str]:
    """The targets this backend missed (empty: all met)."""
    run: Run = result["run"]
    bad = run.total("bad_patient") + run.total("bad_worklist") + run.total("bad_save")
    missed = []
    if run.errors or bad:
        missed.append(f"errors ({run.errors} non-2xx/3xx or socket, {bad} unexpected status)")
    if result["locked"]:
        missed.append(f"{result['locked']} 'database is locked'")
    if result["saves_present"] != result["saves_ok"]:
        missed.append(f"only {result['saves_present']} of {result['saves_ok']} saves present")
    if run.ms(95) >= TARGET_P95_MS:
        missed.append(f"p95 {run.ms(95):.0f} ms ≥ {TARGET_P95_MS:.0f}")
    if run.rps < TARGET_RPS:
        missed.append(f"{run.rps:.0f} req/s < {TARGET_RPS:.0f}")
    return missed


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    mix = args.mix.split(",")
    lines = [
        f"## Load — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{' (smoke run)' if args.smoke else ''}",
        f"{args.patients:,} synthetic patients at 3 sites; gunicorn {args.workers} sync "
        f"workers; wrk {args.connections} connections (one signed-in coordinator each), "
        f"{args.duration} s: {mix[0]} % patient page, {mix[1]} % worklist page, {mix[2]} % "
        f"visit save; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs shared with wrk.",
        "",
        "| backend | req/s | p50 ms | p95 ms | p99 ms | errors | locked | saves ok / present "
        "| bare Flask req/s | ratio | pages (patient / worklist / save) | machine | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        run: Run = r["run"]
        bad = run.total("bad_patient") + run.total("bad_worklist") + run.total("bad_save")
        others, load = r["busy"]
        loaded = float(load.split()[0]) > (os.cpu_count() or 1)
        machine = (f"busy: {len(others)} pytest, load {load}" if others or loaded
                   else f"idle (load {load})")
        missed = verdict(r)
        lines.append(
            f"| {name} | {run.rps:.0f} | {run.ms(50):.1f} | {run.ms(95):.1f} | "
            f"{run.ms(99):.1f} | {run.errors + bad} | {r['locked']} | "
            f"{r['saves_ok']} / {r['saves_present']} | {r['bare'].rps:.0f} | "
            f"{run.rps / (r['bare'].rps or 1):.2f} | {run.total('n_patient')} / "
            f"{run.total('n_worklist')} / {run.total('n_save')} | {machine} | "
            f"{'all met' if not missed else 'MISSED: ' + '; '.join(missed)} |")
        if run.bad_statuses():
            lines.append(f"|   | unexpected statuses: {run.bad_statuses()[:300]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=60, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers (default: cores + 1)")
    parser.add_argument("--saves", type=int, default=400, help="visits to save per connection")
    parser.add_argument("--smoke", action="store_true", help="500 patients, 5 s")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--bare-port", type=int, default=0)
    parser.add_argument("--idle-retries", type=int, default=6,
                        help="times to wait for other test runs to finish before measuring")
    parser.add_argument("--idle-pause", type=float, default=30.0)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--mix", default="70,20,10",
                        help="percent of patient pages, worklist pages, visit saves")
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients, args.duration, args.saves = 500, 5, 40
        args.idle_retries = 0
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    if not args.bare_port:
        from tests.e2e.server import free_port

        args.bare_port = free_port()
    output = args.output or RESULTS / ("load-smoke.txt" if args.smoke else "load.txt")
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
            results["sqlite"] = run_backend("sqlite", f"sqlite:///{folder}/load.sqlite3", args)
    if args.postgres_url:
        url = create_postgres_database(args.postgres_url)
        try:
            results["postgresql"] = run_backend("postgresql", url, args)
        finally:
            drop_postgres_database(args.postgres_url, url)
    text = report(args, results)
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return 1 if any(verdict(r) for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
