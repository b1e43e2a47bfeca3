"""Self-report campaign benchmark: 200 patients answer and submit at once, gunicorn on PostgreSQL.

Each run builds a fresh PostgreSQL database (created on ``--postgres-url``, migrated to
head with Alembic, dropped afterwards): one site, ``--patients`` treated patients whose
3-month window is open (half of them Spanish-speaking), the demo text packs, and one
e-mail link per patient issued through the self-report service (``issue_link``), as the
reminder campaign does.  gunicorn serves the registry (``--workers`` sync workers,
default 3 = cores + 1 on the 2-core machine, the count ``bench_load.py`` found best for
this CPU-bound app; ``--threads`` > 1 switches to gthread).

Two warm-up patients (one per language) are walked first with a form parser
(``sr_client.walk``: every page's form as rendered, every question answered, the forward
button pressed until the thank-you page); their requests become the script that the
``--patients`` clients replay, each in its own thread with its own cookie jar (session
and CSRF token) and its own link, in two phases:

1. filling in, all at once: open the link, every section (POST, redirect, next page),
   the review page: requests/s and latency under a 200-client burst;
2. sending: every patient presses "Send my answers" (POST, redirect to "thank you"),
   the i-th at ``i / --rate`` seconds (default 50/s: an open-loop arrival rate, so the
   latency is the server's at that sustained rate, not a queue of 200 made by the
   client; ``--rate 0`` sends all at once).  Submissions/s = submissions / (last
   thank-you page - first send).

Errors: any status other than the walk's, any refused connection, any traceback in the
gunicorn log.  Then the database is checked: every visit done with collection mode
``self_link``, its scores present, its self-report submitted.

    .venv/bin/python benchmarks/bench_self_report.py               # 3 runs, median reported
    .venv/bin/python benchmarks/bench_self_report.py --runs 1 --patients 50
    .venv/bin/python benchmarks/bench_self_report.py --profile --keep   # cProfile per worker
    .venv/bin/python benchmarks/bench_self_report.py --rate 0     # all 200 at once

Results are appended to ``benchmarks/results/self_report.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.bench_load import machine_state  # noqa: E402
from benchmarks.sr_client import (  # noqa: E402
    TOKEN_IN_PATH,
    Client,
    Replayer,
    Step,
    recorded_token,
    split,
    walk,
)
from registry import audit_chain, create_app, migrate  # noqa: E402
from registry.db import get_session, make_engine, writing  # noqa: E402
from registry.models import ScoreValue, SelfReport, Site, Visit  # noqa: E402
from tests.e2e.self_report import (  # noqa: E402
    PatientSpec,
    issue_links,
    load_text_packs,
    seed_patients,
)
from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY, LiveServer  # noqa: E402
from tests.fixtures.database import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
)

TODAY = date(2026, 6, 1)
RESULTS = ROOT / "benchmarks" / "results" / "self_report.md"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_SUBMISSIONS_S = 50.0
TARGET_P95_MS = 300.0
# The thank-you page (English or Spanish); the walk stops there.
THANKS = re.compile(r"data-page=\"thanks\"|thank you|gracias", re.IGNORECASE)


@dataclass
class Phase:
    """One phase's requests: count, wall time, latencies (ms), CPU seconds used."""

    seconds: float = 0.0
    app_cpu: float = 0.0  # gunicorn workers
    db_cpu: float = 0.0  # PostgreSQL backends of the benchmark's database
    ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    submissions: int = 0

    @property
    def requests(self) -> int:
        return len(self.ms)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def submissions_per_second(self) -> float:
        return self.submissions / self.seconds if self.seconds else 0.0


@dataclass
class RunResult:
    fill: Phase = field(default_factory=Phase)
    send: Phase = field(default_factory=Phase)
    errors: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    tracebacks: int = 0
    machine: str = ""

    @property
    def all_ms(self) -> list[float]:
        return self.fill.ms + self.send.ms


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build(url: str, server: LiveServer, patients: int) -> tuple[list[str], list[str], list[int]]:
    """Migrate, seed, load packs, issue links; (campaign URLs, warm-up URLs, visit ids)."""
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(server.instance),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": TODAY.isoformat(),
                      "BASE_URL": server.base_url})
    with app.app_context(), writing():
        session = get_session()
        session.add(Site(code="SRB", name="Self-report Benchmark Clinic",
                         timezone="Europe/Madrid"))
        session.commit()
    load_text_packs(app)
    specs = [PatientSpec(number=n + 1, language="es" if n % 2 else "en",
                         email=f"bench{n + 1}@example.org") for n in range(patients + 2)]
    seeded = seed_patients(app, "SRB", TODAY, specs)
    urls = issue_links(app, [s.m3_visit_id for s in seeded])
    app.extensions["registry.engine"].dispose()
    return urls[2:], urls[:2], [s.m3_visit_id for s in seeded[2:]]


def _phase(clients: list[Client], marks: list[int], started: float,
           ended: float) -> Phase:
    phase = Phase(seconds=ended - started)
    for client, mark in zip(clients, marks, strict=True):
        for kind, seconds, status in client.timings[mark:]:
            phase.ms.append(seconds * 1000)
            if kind == "submit":
                phase.submit_ms.append(seconds * 1000)
                phase.submissions += status < 400
    return phase


def campaign(server: LiveServer, urls: list[str], scripts: dict[int, list[Step]],
             rate: float, database: str) -> RunResult:
    """Phase 1: every patient opens its link and answers every section, all at once.
    Phase 2: every patient presses "Send": all at once (``rate`` 0) or the i-th at
    ``i / rate`` seconds (an open-loop arrival rate, the "sustained" submissions/s)."""
    parts = {language: split(script) for language, script in scripts.items()}
    clients = [Client("127.0.0.1", server.port) for _ in urls]
    players = [Replayer(client, TOKEN_IN_PATH.search(url).group(1),  # type: ignore[union-attr]
                        recorded_token(scripts[number % 2]))
               for number, (client, url) in enumerate(zip(clients, urls, strict=True))]
    problems: list[list[str]] = [[] for _ in urls]
    finished = [[0.0, 0.0] for _ in urls]
    gates = threading.Barrier(len(urls) + 1), threading.Barrier(len(urls) + 1)
    send_at: list[float] = [0.0]
    marks: list[int] = [0 for _ in urls]

    def patient(number: int) -> None:
        fill, send = parts[number % 2]
        gates[0].wait()
        problems[number] = _guarded(players[number], fill)
        finished[number][0] = time.perf_counter()
        gates[1].wait()
        marks[number] = len(clients[number].timings)
        delay = send_at[0] + (number / rate if rate else 0.0) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if not problems[number]:
            problems[number] = _guarded(players[number], send)
        finished[number][1] = time.perf_counter()

    threads = [threading.Thread(target=patient, args=(n,)) for n in range(len(urls))]
    for thread in threads:
        thread.start()
    cpu = [cpu_used(server, database)]
    gates[0].wait()
    started = time.perf_counter()
    send_at[0] = started + 3600.0  # set for real once every patient has filled in
    while gates[1].n_waiting < len(urls):
        time.sleep(0.01)
    filled = max(end for end, _ in finished)
    cpu.append(cpu_used(server, database))
    send_at[0] = time.perf_counter() + 0.05
    gates[1].wait()
    for thread in threads:
        thread.join()
    cpu.append(cpu_used(server, database))
    result = RunResult()
    result.fill = _phase(clients, [0 for _ in urls], started, filled)
    result.fill.ms = [s * 1000 for client, mark in zip(clients, marks, strict=True)
                      for _, s, _ in client.timings[:mark]]
    result.send = _phase(clients, marks, send_at[0], max(end for _, end in finished))
    result.errors = [problem for found in problems for problem in found]
    for phase, (before, after) in ((result.fill, (cpu[0], cpu[1])),
                                   (result.send, (cpu[1], cpu[2]))):
        phase.app_cpu, phase.db_cpu = after[0] - before[0], after[1] - before[1]
    return result


def _guarded(player: Replayer, steps: list[Step]) -> list[str]:
    try:
        return player.run(steps)
    except Exception as error:  # a refused connection, a timeout: an error, counted
        return [f"{type(error).__name__}: {error}"]


TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[int, int, str, float]]:
    """(pid, parent pid, command line, CPU seconds used) of every process we can read."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found.append((int(entry.name), int(fields[1]),
                      command, (int(fields[11]) + int(fields[12])) / TICKS))
    return found


def cpu_used(server: LiveServer, database: str) -> tuple[float, float]:
    """CPU seconds used so far by gunicorn's workers and by PostgreSQL's backends of the
    benchmark's database: the cost of the work, whatever else runs on the machine."""
    master = server.process.pid if server.process is not None else -1
    processes = _processes()
    workers = sum(cpu for pid, parent, _, cpu in processes if parent == master)
    backends = sum(cpu for _, _, command, cpu in processes
                   if command.startswith("postgres:") and f" {database} " in command)
    return workers, backends


def check_database(url: str, visit_ids: list[int]) -> dict[str, int]:
    """How many of the visits are done, self_link, scored, with a submitted self-report."""
    engine = make_engine(url)
    with engine.connect() as connection:
        done = connection.scalar(select(func.count()).select_from(Visit).where(
            Visit.id.in_(visit_ids), Visit.status == "done",
            Visit.collection_mode == "self_link"))
        scored = connection.scalar(select(func.count(func.distinct(ScoreValue.visit_id)))
                                   .where(ScoreValue.visit_id.in_(visit_ids)))
        submitted = connection.scalar(select(func.count()).select_from(SelfReport).where(
            SelfReport.visit_id.in_(visit_ids), SelfReport.state == "submitted"))
        chain = audit_chain.verify(connection, AUDIT_KEY.encode())
    engine.dispose()
    return {"done_self_link": int(done or 0), "scored": int(scored or 0),
            "submitted": int(submitted or 0),
            "audit_chain_ok": len(visit_ids) if chain.ok else 0}


def one_run(number: int, args: argparse.Namespace) -> RunResult:
    url = create_postgres_database(args.postgres_url)
    instance = Path(tempfile.mkdtemp(prefix="bench-self-report-"))
    options = ["--threads", str(args.threads), "--worker-class", "gthread"] \
        if args.threads > 1 else []
    options += ["--config", str(ROOT / "benchmarks" / "sr_gunicorn.py")]
    server = LiveServer(instance=instance, database_url=url, today=TODAY,
                        workers=args.workers, gunicorn_options=options)
    server.settings["BASE_URL"] = server.base_url
    os.environ["SR_PROFILE"] = "1" if args.profile else "0"
    try:
        print(f"[run {number}] building {args.patients} patients, links …", flush=True)
        urls, warmups, visit_ids = build(url, server, args.patients)
        server.start()
        scripts = {}
        for index, warmup in enumerate(warmups):
            scripts[index] = walk(Client("127.0.0.1", server.port), warmup, thanks=THANKS)
        args.steps = len(scripts[0])
        print(f"[run {number}] script: {len(scripts[0])} requests per patient "
              f"({sum(1 for s in scripts[0] if s.method == 'POST')} POST); "
              f"{len(urls)} patients at once …", flush=True)
        others, load = machine_state()
        machine = (f"busy: {len(others)} other pytest runs, load {load}" if others
                   else f"idle (load {load})")
        result = campaign(server, urls, scripts, args.rate, make_url(url).database or "")
        result.machine = machine
    finally:
        server.stop()
    result.tracebacks = len(re.findall("Traceback", server.log_tail(100000)))
    result.checked = check_database(url, visit_ids)
    drop_postgres_database(args.postgres_url, url)
    if not args.keep:
        shutil.rmtree(instance, ignore_errors=True)
    fill, send = result.fill, result.send
    print(f"[run {number}] {result.machine}; filling in: {fill.requests} requests in "
          f"{fill.seconds:.1f} s ({fill.per_second:.0f}/s), p95 {percentile(fill.ms, .95):.0f} "
          f"ms, {cpu_ms(fill, fill.requests)} ms CPU each; sending: {send.submissions} in "
          f"{send.seconds:.2f} s = {send.submissions_per_second:.1f}/s, p50 "
          f"{percentile(send.submit_ms, .5):.0f} ms, p95 {percentile(send.submit_ms, .95):.0f}"
          f" ms, {cpu_ms(send, send.submissions)} ms CPU each; errors {len(result.errors)}; "
          f"db {result.checked}", flush=True)
    return result


def cpu_ms(phase: Phase, count: int) -> str:
    """CPU ms per request or submission: gunicorn workers + PostgreSQL backends."""
    if not count:
        return "–"
    return f"{phase.app_cpu * 1000 / count:.1f} + {phase.db_cpu * 1000 / count:.1f}"


def missed(result: RunResult, patients: int, rate: float) -> list[str]:
    """The targets a run missed: every submission saved, >= 50 submissions/s sustained,
    submit p95 < 300 ms.

    Offered at ``rate`` per second (open loop), the last of n submissions arrives at
    (n - 1) / rate s, so n / elapsed is a little below the rate even when the server keeps
    pace; the run sustains the rate when the last answer comes within the latency target
    of the last arrival.  All at once (rate 0), the rate is n / elapsed.  The latency of
    the filling-in burst (200 clients at once, a closed loop: latency = concurrency /
    throughput) is reported, not a target.
    """
    out = []
    if result.errors or result.tracebacks:
        out.append(f"{len(result.errors)} errors, {result.tracebacks} tracebacks")
    if any(value != patients for value in result.checked.values()):
        out.append(f"database: {result.checked} of {patients}")
    send = result.send
    if rate:
        kept_pace = send.seconds <= (patients - 1) / rate + TARGET_P95_MS / 1000
        if rate < TARGET_SUBMISSIONS_S or not kept_pace:
            out.append(f"did not sustain {TARGET_SUBMISSIONS_S:.0f}/s "
                       f"({send.submissions_per_second:.1f}/s offered {rate:g}/s)")
    elif send.submissions_per_second < TARGET_SUBMISSIONS_S:
        out.append(f"{send.submissions_per_second:.1f} submissions/s < "
                   f"{TARGET_SUBMISSIONS_S:.0f}")
    if percentile(send.submit_ms, .95) >= TARGET_P95_MS:
        out.append(f"submit p95 {percentile(send.submit_ms, .95):.0f} ms ≥ "
                   f"{TARGET_P95_MS:.0f}")
    return out


def report(args: argparse.Namespace, runs: list[RunResult]) -> str:
    median = sorted(runs, key=lambda r: r.send.submissions_per_second)[len(runs) // 2]
    worker = (f"{args.workers} gthread workers × {args.threads} threads" if args.threads > 1
              else f"{args.workers} sync workers")
    sending = (f"then the {args.patients} submissions arrive at {args.rate:g}/s (the i-th "
               f"at i/{args.rate:g} s: an open-loop, sustained rate)" if args.rate else
               f"then all {args.patients} press Send at once")
    lines = [
        f"## Self-report campaign — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"{args.patients} patients (one thread and cookie jar each) open their link and "
        f"answer every section ({args.steps} requests each, sending included) all at "
        f"once; {sending}. "
        f"gunicorn {worker}; PostgreSQL (fresh database per run); {platform.machine()}, "
        f"{os.cpu_count()} CPUs shared by gunicorn, PostgreSQL and the clients; Python "
        f"{platform.python_version()}; load average before the runs {args.load_before}.",
        "",
        "| run | machine during the run | filling in: requests, s, req/s | fill p50 / p95 ms "
        "| CPU ms per request (app + db) | submissions | send s | submissions/s "
        "| submit p50 / p95 ms | CPU ms per submission (app + db) "
        "| all requests p50 / p95 ms | errors | db: done+self_link / scored / submitted "
        "| targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(runs, 1):
        miss = missed(run, args.patients, args.rate)
        fill, send = run.fill, run.send
        lines.append(
            f"| {number}{' (median)' if run is median else ''} | {run.machine} | "
            f"{fill.requests}, {fill.seconds:.1f}, {fill.per_second:.0f} | "
            f"{percentile(fill.ms, .5):.0f} / {percentile(fill.ms, .95):.0f} | "
            f"{cpu_ms(fill, fill.requests)} | {send.submissions} | {send.seconds:.2f} | "
            f"{send.submissions_per_second:.1f} | {percentile(send.submit_ms, .5):.0f} / "
            f"{percentile(send.submit_ms, .95):.0f} | {cpu_ms(send, send.submissions)} | "
            f"{percentile(run.all_ms, .5):.0f} / {percentile(run.all_ms, .95):.0f} | "
            f"{len(run.errors)} | {run.checked.get('done_self_link')} / "
            f"{run.checked.get('scored')} / {run.checked.get('submitted')}"
            f"{'' if run.checked.get('audit_chain_ok') else ' / AUDIT CHAIN BROKEN'} | "
            f"{'all met' if not miss else 'MISSED: ' + '; '.join(miss)} |")
    errors = [e for run in runs for e in run.errors][:5]
    if errors:
        lines += ["", "First errors: " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=TARGET_SUBMISSIONS_S,
                        help="submissions arriving per second (0: all at once)")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL")
                        or DEFAULT_POSTGRES)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each worker (sr_gunicorn.py); stats in the instance")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    args.steps = 0
    runs = [one_run(number + 1, args) for number in range(args.runs)]
    text = report(args, runs)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return 1 if any(missed(run, args.patients, args.rate) for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
