"""Load benchmark: the registry under 16 signed-in users, on gunicorn, SQLite and PostgreSQL.

For each backend: a synthetic registry of ``--patients`` patients (visits with answers and
scores, bulk-inserted; see ``load_registry.py``) is served by gunicorn with ``--workers``
sync workers (default cores + 1: 3 on the project's 2-core machine, where this CPU-bound
load measured best — gunicorn's starting point of 2 × cores + 1 = 5 did slightly worse
and 8 worse still) on 127.0.0.1.  16 coordinators are signed in first through the login form
(urllib/http.client: session cookie and CSRF token per user); then ``wrk`` in a second
process drives 16 connections, one user each (``benchmarks/load/registry.lua``; like a
browser, each keeps the session cookie the server last set): 70 % patient pages of the
user's own site, 20 % worklist pages, 10 % visit saves, for ``--duration`` seconds.
Afterwards every save answered with success is looked up in the database, and the gunicorn
error log is searched for "database is locked".

The yardstick, served the same way on the same database: a bare Flask page doing two
queries (``load_bare_app.py``, ``load/bare.lua``).  Both servers run side by side and are
measured in ``--rounds`` alternating slices (bare page, registry, bare page, …), so that a
slower stretch of a shared machine weighs on both; our requests/s are reported as a share
of the bare page's, the median of the rounds' shares.

    .venv/bin/python benchmarks/bench_load.py                       # SQLite (+ PostgreSQL)
    .venv/bin/python benchmarks/bench_load.py --smoke               # 500 patients, 2 rounds of 3 s
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
import statistics
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
# The target's calibration: 300 req/s where the bare page does about 850 — the same share of
# the bare page on any machine.
TARGET_RATIO = TARGET_RPS / 850.0


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


def merge_runs(runs: list[Run]) -> Run:
    """One Run for the rounds of a measurement: requests, time, errors and each thread's
    tallies added up, saved ids joined; latency: the median round's p50, the worst round's
    p90/p95/p99 and maximum (wrk's percentiles of separate runs cannot be pooled)."""
    merged: dict[str, str] = {}
    for run in runs:
        for key, value in run.values.items():
            if key.endswith((".saved", ".bad_statuses")):
                separator = "," if key.endswith(".saved") else " "
                merged[key] = separator.join(part for part in (merged.get(key), value) if part)
            elif key.startswith(("thread", "requests", "duration", "bytes", "errors")):
                merged[key] = str(float(merged.get(key, 0)) + float(value or 0))
    merged["p50_us"] = str(statistics.median(run.number("p50_us") for run in runs))
    for key in ("p90_us", "p95_us", "p99_us", "max_us"):
        merged[key] = str(max(run.number(key) for run in runs))
    return Run(merged)


def split_saves(connections: list[dict[str, Any]], rounds: int) -> list[list[dict[str, Any]]]:
    """The connections once per round, each round with its own share of every connection's
    visits to save (a visit is saved once, at the version it had when the run began)."""
    return [[{**item, "saves": item["saves"][number::rounds]} for item in connections]
            for number in range(rounds)]


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
    result: dict[str, Any] = {}
    bare = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{args.bare_port}",
         "--workers", str(args.workers), "--worker-class", "sync", "--chdir", str(ROOT),
         "--error-logfile", str(instance / "bare-error.log"),
         "benchmarks.load_bare_app:create_app()"],
        env={**os.environ, "BARE_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    server = LiveServer(instance=instance, database_url=url, today=TODAY,
                        workers=args.workers)
    bare_url, bare_env = f"http://127.0.0.1:{args.bare_port}", {"BARE_PATIENTS": str(args.patients)}
    try:
        server.start()
        connections = prepare_connections(server, engine, built.users, args.saves)
        dates = {t.visit_id: t.visit_date for c in connections for t in c["saves"]}
        answers, data_files = visit_form_answers(), []
        for number, part in enumerate(split_saves(connections, args.rounds)):
            data_files.append(instance / f"wrk-data-{number}.lua")
            data_files[-1].write_text(lua_data(part, answers))
        run_wrk("bare.lua", bare_url, args.connections, 3, bare_env)  # warm-ups
        run_wrk("registry.lua", server.base_url, args.connections, 3,
                {"WRK_DATA": str(data_files[0]), "WRK_NO_SAVES": "1"})
        result["busy"] = wait_until_idle(args.idle_retries, args.idle_pause)
        slice_s = max(1, args.duration // args.rounds)
        bares, runs = [], []
        for data in data_files:
            print(f"[{name}] round {len(runs) + 1}/{args.rounds}: bare Flask page, then the "
                  f"registry mix, {slice_s} s each …", flush=True)
            bares.append(run_wrk("bare.lua", bare_url, args.connections, slice_s, bare_env))
            runs.append(run_wrk("registry.lua", server.base_url, args.connections, slice_s,
                                {"WRK_DATA": str(data), "WRK_MIX": args.mix}))
    finally:
        server.stop()
        bare.terminate()
        bare.wait(timeout=30)
    run = result["run"] = merge_runs(runs)
    result["bare"] = merge_runs(bares)
    result["ratios"] = [one.rps / (base.rps or 1) for one, base in zip(runs, bares, strict=True)]
    result["locked"] = count_in_log(server.error_log, r"database is locked")
    result["tracebacks"] = count_in_log(server.error_log, r"Traceback")
    result["saves_ok"], result["saves_present"] = saves_present(engine, run, dates)
    engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    print(f"[{name}] {run.rps:.0f} req/s (bare {result['bare'].rps:.0f}; ratio by round "
          f"{', '.join(f'{ratio:.2f}' for ratio in result['ratios'])}), "
          f"p95 {run.ms(95):.0f} ms", flush=True)
    return result


def verdict(result: dict[str, Any]) -> list[str]:
    """The targets this backend missed (empty: all met)."""
    run: Run = result["run"]
    bad = run.total("bad_patient") + run.total("bad_worklist") + run.total("bad_save")
    missed = []
    if run.errors or bad or result["tracebacks"]:
        missed.append(f"errors ({run.errors} non-2xx/3xx or socket, {bad} unexpected status, "
                      f"{result['tracebacks']} tracebacks in the server log)")
    if result["locked"]:
        missed.append(f"{result['locked']} 'database is locked'")
    if result["saves_present"] != result["saves_ok"]:
        missed.append(f"only {result['saves_present']} of {result['saves_ok']} saves present")
    if run.ms(95) >= TARGET_P95_MS:
        missed.append(f"p95 {run.ms(95):.0f} ms ≥ {TARGET_P95_MS:.0f}")
    if run.rps < TARGET_RPS:
        missed.append(f"{run.rps:.0f} req/s < {TARGET_RPS:.0f}")
    ratio = statistics.median(result["ratios"])
    if ratio < TARGET_RATIO:
        missed.append(f"ratio {ratio:.2f} < {TARGET_RATIO:.2f} of the bare page")
    return missed


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    mix = args.mix.split(",")
    lines = [
        f"## Load — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{' (smoke run)' if args.smoke else ''}",
        f"{args.patients:,} synthetic patients at 3 sites; gunicorn {args.workers} sync "
        f"workers; wrk {args.connections} connections (one signed-in coordinator each), "
        f"{args.duration} s in {args.rounds} rounds alternating with the bare page: "
        f"{mix[0]} % patient page, {mix[1]} % worklist page, {mix[2]} % visit save; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs shared with wrk.",
        "",
        "| backend | req/s | p50 ms | p95 ms | p99 ms | errors | locked | saves ok / present "
        "| bare Flask req/s | ratio (median of rounds; range) "
        "| pages (patient / worklist / save) | machine | targets |",
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
            f"{statistics.median(r['ratios']):.2f} ({min(r['ratios']):.2f}–"
            f"{max(r['ratios']):.2f}) | {run.total('n_patient')} / "
            f"{run.total('n_worklist')} / {run.total('n_save')} | {machine} | "
            f"{'all met' if not missed else 'MISSED: ' + '; '.join(missed)} |")
        if run.bad_statuses():
            lines.append(f"|   | unexpected statuses: {run.bad_statuses()[:300]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=60,
                        help="seconds of load per server (bare page, registry)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternate the bare page and the registry this many times")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers (default: cores + 1)")
    parser.add_argument("--saves", type=int, default=400, help="visits to save per connection")
    parser.add_argument("--smoke", action="store_true", help="500 patients, 2 rounds of 3 s")
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
        args.patients, args.duration, args.saves, args.rounds = 500, 6, 40, 2
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
