"""Photograph the governance portal of a demo into docs/img/portal-*.png.

    make demo                                           # once: builds demo/
    .venv/bin/python docs/figures/portal_screenshots.py [--demo demo] [--out docs/img]

(`make figures` runs it.) The demo is only read: its portal, databank, workspaces,
analysis and releases are copied into a temporary folder, with the three zones' audit
logs. In the copy an auditor account is added if the demo has none, and the zones' logs
are collected, so the auditor's timeline covers every zone. The copy's portal is served
on a free port of 127.0.0.1 with `fjdp portal serve`, and Debian's Chromium, driven by
Playwright as the browser tests drive it, signs in as each demo account with its
password and a TOTP code from `demo-accounts.txt`, and saves one screen of:

- portal-request.png: the researcher's output request, released (demo-researcher);
- portal-review.png: the output checker's review page (demo-checker-1);
- portal-audit.png: the auditor's timeline of one extract (court_public) across the
  zones (demo-auditor).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

from django_otp.oath import TOTP

from fjdp.flow import DEMO_PROJECT
from fjdp.portal.demo import ACCOUNTS_FILE, CHECKERS, DEMO_PASSWORD, RESEARCHER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FJDP_CHROMIUM", "/usr/bin/chromium")
# The browser tests' flags: no sandbox (containers), and none of Chromium's calls home,
# which a closed network refuses slowly.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AUDITOR = "demo-auditor"
EXTRACT = "court_public-"  # the audit shot follows one extract of this dataset
VIEWPORT = {"width": 1200, "height": 860}
COPIED = ("portal", "databank", "workspaces", "analysis", "releases")
ZONES = ("provider", "ttp", "databank")


@dataclass(frozen=True)
class Shot:
    name: str
    user: str
    path: str
    ready: str  # a selector that is on the page once it has loaded


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(3)


def fjdp(*args: str, password: bool = False) -> str:
    """Run one `fjdp` command with this interpreter; its stdout."""
    env = {**os.environ, "FJDP_ACTOR": "fjdp screenshots"}
    if password:
        env["FJDP_PORTAL_PASSWORD"] = DEMO_PASSWORD
    done = subprocess.run(
        [sys.executable, "-m", "fjdp", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        fail(f"fjdp {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def secret_of(uri: str) -> bytes:
    return base64.b32decode(parse_qs(urlparse(uri).query)["secret"][0])


def accounts(portal: Path) -> dict[str, tuple[str, bytes]]:
    """Each demo account's roles and TOTP key, from the demo's accounts file."""
    keys = {}
    for line in (portal / ACCOUNTS_FILE).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, roles, uri = line.split("\t")
            keys[name] = (roles, secret_of(uri))
    return keys


def copy_demo(demo: Path, into: Path) -> None:
    for name in COPIED:
        shutil.copytree(demo / name, into / name, symlinks=True)
    for zone in ZONES:
        if zone != "databank":  # copied whole above: the catalogue page reads it
            log = into / "zones" / zone / "audit"
            log.mkdir(parents=True)
            shutil.copyfile(demo / zone / "audit" / "log.jsonl", log / "log.jsonl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(portal: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fjdp",
            "portal",
            "serve",
            "--dir",
            str(portal),
            "--port",
            f"{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    fail(f"the portal did not start on {url}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def sign_in(browser: Browser, url: str, user: str, key: bytes) -> Page:
    context = browser.new_context(base_url=url, viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]:has-text('Continue')")
    page.wait_for_url("**/accounts/otp/**")
    page.fill("input[name=otp_token]", f"{TOTP(key).token():06d}")
    page.click("button[type=submit]:has-text('Verify')")
    page.wait_for_selector("h1:has-text('Dashboard')")
    return page


def request_id(demo: Path) -> str:
    """The demo's output request, from its release bundle's name."""
    for bundle in sorted((demo / "releases").glob(f"release-{DEMO_PROJECT}-*-r*.zip")):
        m = re.fullmatch(rf"release-{re.escape(DEMO_PROJECT)}-(R\d+)-r\d+\.zip", bundle.name)
        if m:
            return m.group(1)
    fail(f"no release bundle of {DEMO_PROJECT} in {demo / 'releases'}: run `make demo`")
    raise AssertionError  # fail() does not return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=REPO / "demo", help="a demo folder")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="PNG folder")
    args = parser.parse_args()
    demo: Path = args.demo
    if not (demo / "portal" / ACCOUNTS_FILE).exists():
        fail(f"{demo} holds no demo portal ({ACCOUNTS_FILE} missing): run `make demo` first")
    if not Path(CHROMIUM).exists():
        fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set FJDP_CHROMIUM")
    rid = request_id(demo)
    shots = [
        Shot("portal-request.png", RESEARCHER, f"/outputs/{rid}/", "h1:has-text('Output request')"),
        Shot("portal-review.png", CHECKERS[0], f"/outputs/{rid}/review/", "h1:has-text('Review')"),
        Shot("portal-audit.png", "auditor", f"/audit/?object={EXTRACT}", "h1:has-text('Audit')"),
    ]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="fjdp-screenshots-") as tmp:
        root = Path(tmp)
        copy_demo(demo, root)
        portal = root / "portal"
        known = accounts(portal)
        keys = {name: key for name, (_roles, key) in known.items()}
        auditor = next((n for n, (roles, _k) in known.items() if "auditor" in roles), None)
        if auditor is None:
            auditor = AUDITOR
            fjdp(
                "portal",
                "add-user",
                auditor,
                "--role",
                "auditor",
                "--dir",
                f"{portal}",
                password=True,
            )
            keys[auditor] = secret_of(fjdp("portal", "totp-device", auditor, "--dir", str(portal)))
        zones = [root / "zones" / "provider", root / "zones" / "ttp", root / "databank"]
        fjdp("portal", "collect", *map(str, zones), "--dir", str(portal))
        args.out.mkdir(parents=True, exist_ok=True)
        with served(portal) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                for shot in shots:
                    user = auditor if shot.user == "auditor" else shot.user
                    page = sign_in(browser, url, user, keys[user])
                    page.goto(shot.path)
                    page.wait_for_selector(shot.ready)
                    page.screenshot(path=str(args.out / shot.name))
                    page.context.close()
                    print(f"wrote {args.out / shot.name}")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
