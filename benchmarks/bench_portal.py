"""Load test of the governance portal on loopback: 50 people signing in with password and
TOTP and reading their dashboards, projects and output reviews at once.

1. A child process builds a fresh portal in ``benchmarks/work/portal`` (SQLite): one
   account per virtual user (researcher and output checker, each with a TOTP device),
   two panel members and a custodian who approve one project per pair of users, and on
   each project an output request (a CSV of counts) taken for review by the pair of
   users of the project before it. So every virtual user has a project page of their
   own and an output review page of their own.
2. ``fjdp portal serve`` runs it under waitress on 127.0.0.1 (a free port), in its own
   process group.
3. N threads (default 50), each one virtual user with its own ``requests`` session, in
   this process, in two measured phases:

   - sign-in: the users start one after another over the ramp-up (default 20 s) and
     sign in (login page, password, second-step page, TOTP code); a failed sign-in is
     tried again at the next TOTP step, until the sign-in phase's limit (180 s);
   - pages: once every user is signed in, all of them at once load, in a loop, the
     dashboard, the projects list, their project, the outputs list and their review
     page, as fast as answers come, for the duration (default 40 s). A user that gets
     an error waits a second.

   Sign-in is measured apart because it is slow on purpose: Django's PBKDF2 password
   hash (1,000,000 iterations) costs about half a second of a core per sign-in.
4. Requests per second, p50/p95/p99 latency per page and overall, errors (any status
   other than the expected 200/302 and any connection error), and the server's peak
   resident memory (VmHWM) are printed and written to
   ``benchmarks/results/portal-load.md`` and ``portal-load.json``, with the load average
   before and after the run.

The users are distinct and each signs in with the right password, so the brute-force
lockout (5 failures per account and address) never trips; every request goes to
127.0.0.1 only and the run stops by itself. Client and server share the machine's
cores, so the figures are those of the pair.

Usage: python benchmarks/bench_portal.py [--users N] [--duration S] [--threads T] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, child_env, machine

WORK = ROOT / "benchmarks" / "work" / "portal"
RESULTS = ROOT / "benchmarks" / "results"
PASSWORD = "load test passphrase 2026"
TOTP_STEP = 30
SIGNIN_LIMIT = 180.0  # seconds for every user to sign in before the page phase starts anyway
SIGNIN_PAGES = ("login page", "login", "otp page", "otp")
PAGE_PAGES = ("dashboard", "projects", "project", "outputs", "review")


# --- set-up (child process: Django is configured once per process) ----------------------


def build_portal(folder: Path, users: int) -> dict[str, Any]:
    """A fresh portal with ``users`` load accounts; returns what the virtual users need."""
    from fjdp.portal.commands import ensure_secret, migrate
    from fjdp.portal.config import PortalConfig

    if folder.exists():
        shutil.rmtree(folder)
    portal = folder / "portal"
    ensure_secret(portal)
    cfg = PortalConfig(
        portal_dir=portal,
        secret_key=(portal / "secret_key").read_text().strip(),
        databank=folder / "databank",
        workspaces=folder / "workspaces",
    )
    migrate(cfg)

    from django.conf import settings

    from fjdp.governance import PanelOutcome, Role
    from fjdp.portal.actions import (
        add_totp_device,
        create_project,
        create_request,
        create_user,
        custodian_decide,
        panel_decide,
        submit,
        take_request,
    )
    from fjdp.portal.models import Project
    from fjdp.portal.outputs import FileIn

    today = dt.date.today()
    acc = {
        "trained_on": today - dt.timedelta(days=30),
        "expires_on": today + dt.timedelta(days=365),
        "agreement_signed_on": today - dt.timedelta(days=30),
    }
    pan = [create_user(f"panel{i}", PASSWORD, by="bench", roles=["panel_member"]) for i in (1, 2)]
    cust = create_user(
        "custodian", PASSWORD, by="bench", roles=["custodian"], organisation="registration service"
    )
    people = []
    for i in range(1, users + 1):
        user = create_user(
            f"load{i:03d}",
            PASSWORD,
            by="bench",
            roles=[Role.RESEARCHER.value, Role.PROJECT_LEAD.value, Role.OUTPUT_CHECKER.value],
            **acc,
        )
        device = add_totp_device(user, by="bench")
        people.append((user, device))

    # One project per pair of users (a single user left over gets a project alone).
    teams = [people[i : i + 2] for i in range(0, users, 2)]
    projects = []
    requests_ = []
    for n, team in enumerate(teams, 1):
        lead = team[0][0]
        project = create_project(
            lead,
            {
                "title": f"Load test project {n}",
                "lay_summary": "Pathways of children after court (load test).",
                "purpose": "p",
                "public_benefit": "b",
                "expected_outputs": "tables",
                "date_start": None,
                "date_end": None,
                "end_date": today + dt.timedelta(days=90),
            },
            [u for u, _d in team],
            {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
        )
        submit(project, lead)
        panel_decide(project, pan[0], PanelOutcome.APPROVE, "sound")
        panel_decide(project, pan[1], PanelOutcome.APPROVE, "sound")
        custodian_decide(project, cust, "deaths", True, "fine")
        # Provisioning needs a databank; the load test reads pages, so the project is
        # marked active as the flow would leave it.
        Project.objects.filter(pk=project.pk).update(state="active", provisioned=True)
        project.refresh_from_db()
        outputs = Path(settings.FJDP_ANALYSIS) / project.pid
        outputs.mkdir(parents=True, exist_ok=True)
        (outputs / "rates.csv").write_text("year,children\n2019,45\n2020,50\n2021,65\n")
        rec = create_request(
            project,
            team[-1][0],
            "Counts of children by year.",
            [FileIn(outputs / "rates.csv", "counts of 45 and more")],
            submit=True,
        )
        projects.append(project.pid)
        requests_.append(rec)

    # Each request is taken by the team of the project before it (never their own).
    vus = []
    for n, team in enumerate(teams):
        rec = requests_[(n + 1) % len(teams)]
        for user, device in team:
            if len(teams) > 1:
                take_request(rec, user)
            vus.append(
                {
                    "username": user.username,
                    "key": device.bin_key.hex(),
                    "project": projects[n],
                    "review": rec.rid if len(teams) > 1 else None,
                }
            )
    return {"portal": str(portal), "users": vus}


# --- the virtual users ------------------------------------------------------------------


def totp(key_hex: str, step: int) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), as django-otp's TOTP devices compute it."""
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", step), "sha1").digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float, ok: bool, what: str = "") -> None:
        with self.lock:
            self.latencies[page].append(seconds)
            if not ok:
                self.errors[page] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{page}: {what}")


@dataclass
class Phases:
    """When the page phase starts and ends: set once every user has signed in."""

    users: int
    duration: float
    signin_deadline: float
    signed_in: int = 0
    start: float = 0.0
    stop_at: float = 0.0
    go: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrived(self) -> None:
        with self.lock:
            self.signed_in += 1
            if self.signed_in == self.users:
                self.begin()

    def begin(self) -> None:
        if not self.go.is_set():
            self.start = time.time()
            self.stop_at = self.start + self.duration
            self.go.set()


class VirtualUser(threading.Thread):
    def __init__(
        self,
        base: str,
        who: dict[str, Any],
        signin: Tally,
        pages: Tally,
        phases: Phases,
        delay: float,
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.who, self.phases, self.delay = base, who, phases, delay
        self.signin_tally, self.page_tally = signin, pages
        self.tally = signin
        self.step = -1

    def call(self, page: str, method: str, path: str, expect: int, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            r = self.session.request(
                method, self.base + path, allow_redirects=False, timeout=60, **kw
            )
        except Exception as exc:  # a refused or dropped connection counts as an error
            self.tally.add(page, time.perf_counter() - start, False, type(exc).__name__)
            return None
        ok = r.status_code == expect
        self.tally.add(page, time.perf_counter() - start, ok, f"{r.status_code} {path}")
        return r if ok else None

    def csrf(self) -> str:
        return str(self.session.cookies.get("csrftoken", ""))

    def sign_in(self) -> bool:
        if self.call("login page", "GET", "/accounts/login/", 200) is None:
            return False
        data = {"username": self.who["username"], "password": PASSWORD}
        data["csrfmiddlewaretoken"] = self.csrf()
        if self.call("login", "POST", "/accounts/login/", 302, data=data) is None:
            return False
        page = self.call("otp page", "GET", "/accounts/otp/", 200)
        if page is None:
            return False
        device = re.search(r'name="otp_device" value="([^"]+)"', page.text)
        step = int(time.time()) // TOTP_STEP
        data = {"otp_token": totp(self.who["key"], step), "csrfmiddlewaretoken": self.csrf()}
        if device:
            data["otp_device"] = device.group(1)
        r = self.call("otp", "POST", "/accounts/otp/", 302, data=data)
        if r is None or urlparse(r.headers.get("Location", "")).path != "/":
            return False
        self.step = step
        return True

    def run(self) -> None:
        import requests

        self.session = requests.Session()
        pages = [
            ("dashboard", "/"),
            ("projects", "/projects/"),
            ("project", f"/projects/{self.who['project']}/"),
            ("outputs", "/outputs/"),
        ]
        if self.who["review"]:
            pages.append(("review", f"/outputs/{self.who['review']}/review/"))
        time.sleep(self.delay)
        while time.time() < self.phases.signin_deadline:
            if self.sign_in():
                break
            # A code is good once per TOTP step: wait for the next before trying again.
            time.sleep(max(1.0, TOTP_STEP - time.time() % TOTP_STEP))
            self.session.cookies.clear()
        else:
            return
        self.phases.arrived()
        self.tally = self.page_tally
        self.phases.go.wait(timeout=max(0.0, self.phases.signin_deadline - time.time()))
        if not self.phases.go.is_set():
            return
        while time.time() < self.phases.stop_at:
            for name, path in pages:
                if time.time() >= self.phases.stop_at:
                    break
                if self.call(name, "GET", path, 200) is None:
                    time.sleep(1)


# --- the run ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import requests

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the portal server stopped (exit {proc.returncode}); see the log")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"the portal did not answer on {url} within {seconds:.0f} s")


def vm_hwm_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index] * 1000


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def summarise(tally: Tally, seconds: float, names: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    every: list[float] = []
    for page in names:
        lat = tally.latencies.get(page)
        if not lat:
            continue
        every += lat
        rows.append(_row(page, lat, tally.errors.get(page, 0), seconds))
    if every:
        rows.append(_row("all", every, sum(tally.errors.values()), seconds))
    return rows


def _row(page: str, lat: list[float], errors: int, seconds: float) -> dict[str, Any]:
    return {
        "page": page,
        "requests": len(lat),
        "per_second": round(len(lat) / seconds, 1),
        "p50_ms": round(pct(lat, 50), 1),
        "p95_ms": round(pct(lat, 95), 1),
        "p99_ms": round(pct(lat, 99), 1),
        "errors": errors,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| page | requests | req/s | p50 ms | p95 ms | p99 ms | errors |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = f"**{r['page']}**" if r["page"] == "all" else r["page"]
        lines.append(
            f"| {name} | {r['requests']:,} | {r['per_second']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--duration", type=float, default=40.0, help="seconds of load (max 300)")
    ap.add_argument("--ramp", type=float, default=20.0, help="seconds over which users sign in")
    ap.add_argument("--threads", type=int, default=8, help="the server's threads (waitress)")
    ap.add_argument("--keep", action="store_true", help="keep benchmarks/work/portal")
    ap.add_argument("--child-setup", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child_setup is not None:
        print(json.dumps(build_portal(WORK, args.child_setup)))
        return 0
    if not 1 <= args.users <= 200 or not 1 <= args.duration <= 300:
        ap.error("--users must be 1-200 and --duration 1-300 seconds")
    if not 0 <= args.ramp <= SIGNIN_LIMIT / 2:
        ap.error(f"--ramp must be 0-{SIGNIN_LIMIT / 2:.0f} seconds")

    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"building a portal with {args.users} users in {WORK} ...", flush=True)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child-setup", str(args.users)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return 1
    setup = json.loads(out.stdout.strip().splitlines()[-1])
    setup_seconds = time.perf_counter() - start

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = WORK / "serve.log"
    env = {**child_env(), "FJDP_PORTAL_DIR": setup["portal"]}
    env.pop("FJDP_PORTAL_HTTPS", None)
    fjdp = Path(sys.executable).with_name("fjdp")
    cmd = [str(fjdp), "portal", "serve", "--port", str(port), "--threads", str(args.threads)]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        wait_for(base + "/accounts/login/", server)
        signin, pages = Tally(), Tally()
        before = loadavg()
        print(f"{args.users} users signing in over {args.ramp:.0f} s on {base} ...", flush=True)
        t0 = time.time()
        phases = Phases(len(setup["users"]), args.duration, t0 + SIGNIN_LIMIT)
        gap = args.ramp / max(1, len(setup["users"]))
        users = [
            VirtualUser(base, who, signin, pages, phases, i * gap)
            for i, who in enumerate(setup["users"])
        ]
        for u in users:
            u.start()
        phases.go.wait(timeout=SIGNIN_LIMIT + 5)
        phases.begin()  # whoever has signed in by the limit goes on
        signin_seconds = phases.start - t0
        print(
            f"{phases.signed_in} signed in after {signin_seconds:.1f} s; pages for "
            f"{args.duration:.0f} s ...",
            flush=True,
        )
        for u in users:
            u.join(timeout=max(1.0, phases.stop_at - time.time()) + 60)
        seconds = time.time() - phases.start
        after = loadavg()
        peak = vm_hwm_mib(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    signin_rows = summarise(signin, signin_seconds, SIGNIN_PAGES)
    page_rows = summarise(pages, seconds, PAGE_PAGES)
    errors = [*signin.examples, *pages.examples][:10]
    record = {
        "date": dt.date.today().isoformat(),
        "server": f"waitress, {args.threads} threads, SQLite",
        "users": args.users,
        "ramp_s": args.ramp,
        "signed_in": phases.signed_in,
        "signin_phase_s": round(signin_seconds, 1),
        "page_phase_s": round(seconds, 1),
        "server_peak_rss_mib": peak,
        "loadavg_before": before,
        "loadavg_after": after,
        "setup_s": round(setup_seconds, 1),
        "signin": signin_rows,
        "pages": page_rows,
        "error_examples": errors,
        "machine": machine(),
    }
    (RESULTS / "portal-load.json").write_text(json.dumps(record, indent=2) + "\n")
    md = [
        "# Portal under load",
        "",
        f"`make bench-portal` (`benchmarks/bench_portal.py --users {args.users} --duration "
        f"{args.duration:.0f} --ramp {args.ramp:.0f} --threads {args.threads}`), "
        f"{record['date']}.",
        "",
        f"- server: `fjdp portal serve` (waitress, {args.threads} threads) on 127.0.0.1, "
        "SQLite; client: one thread per virtual user in one process, on the same machine",
        f"- server peak resident memory: {peak} MiB",
        f"- load average (1, 5, 15 min) before: {before}; after: {after}; "
        f"{record['machine']['cpus']} cores",
        "",
        f"Sign-in: {phases.signed_in} of {args.users} users signed in with password and TOTP, "
        f"starting over {args.ramp:.0f} s, all done after {signin_seconds:.1f} s.",
        "",
        table(signin_rows),
        "",
        f"Pages: {phases.signed_in} signed-in users at once for {seconds:.1f} s, each loading "
        "its dashboard, projects, project, outputs and review page in a loop.",
        "",
        table(page_rows),
        "",
    ]
    if errors:
        md += ["Errors seen (first 10):", "", *[f"- {e}" for e in errors], ""]
    (RESULTS / "portal-load.md").write_text("\n".join(md))
    print(table(signin_rows))
    print()
    print(table(page_rows))
    print(f"server peak RSS {peak} MiB; load average before {before}, after {after}")
    print(f"written: {RESULTS / 'portal-load.md'} and portal-load.json")
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
