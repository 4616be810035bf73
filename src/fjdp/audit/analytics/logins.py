"""Failed logins and lockouts, and sign-ins without a verified second factor."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fjdp.audit.analytics._base import (
    ALL_TIME,
    DEFAULTS,
    PORTAL,
    Entry,
    Period,
    Thresholds,
    _in,
    _of,
    _show,
    _text,
)
from fjdp.audit.events import Action


@dataclass(frozen=True)
class LoginFailures:
    """Failed logins and lockouts of one account (``by="account"``) or one address."""

    by: str
    who: str
    failures: int
    lockouts: int
    first: str
    last: str
    peak: int
    peak_start: str
    signed_in_after: str
    alert: bool
    why: str


def _peak(times: Sequence[dt.datetime], window: dt.timedelta) -> tuple[int, int]:
    """The most of ``times`` (sorted) inside any ``window``, and the index it starts at."""
    best, start, lo = 0, 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        if hi - lo + 1 > best:
            best, start = hi - lo + 1, lo
    return best, start


def failed_logins(
    entries: Iterable[Entry], period: Period = ALL_TIME, limits: Thresholds = DEFAULTS
) -> list[LoginFailures]:
    """Failed logins and lockouts per account and per address, busiest first.

    A failed login names the account tried (its object) and the address (``ip``); a
    lockout names the account and, when recorded, the address. Alerts: ``limits.burst``
    failures within ``limits.burst_window`` (guessing), any lockout, and a successful
    login within the window after a burst (a guess that worked)."""
    seen = _in(entries, period)
    fails: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    locks: dict[tuple[str, str], int] = defaultdict(int)
    logins: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for e in seen:
        ip = _text(e.details.get("ip"))
        keys = [("account", e.object)] + ([("address", ip)] if ip else [])
        if e.action == Action.LOGIN_FAILED:
            for k in keys:
                fails[k].append(e.at)
        elif e.action == Action.LOGIN_LOCKED:
            for k in keys:
                locks[k] += 1
        elif e.action == Action.LOGIN:
            for k in keys:
                logins[k].append(e.at)
    rows = []
    for key in sorted(set(fails) | set(locks)):
        times = sorted(fails.get(key, []))
        peak, start = _peak(times, limits.burst_window) if times else (0, 0)
        reasons = []
        after = ""
        if peak >= limits.burst:
            last = times[start + peak - 1]
            reasons.append(
                f"{peak} failed logins within {_minutes(limits.burst_window)} "
                f"from {_show(times[start])}"
            )
            ok = [t for t in logins.get(key, []) if last <= t <= last + limits.burst_window]
            if ok:
                after = _show(ok[0])
                reasons.append(f"then a successful login at {after}")
        if locks.get(key):
            n = locks[key]
            reasons.append(f"locked out {n} time{'s' if n != 1 else ''}")
        rows.append(
            LoginFailures(
                by=key[0],
                who=key[1],
                failures=len(times),
                lockouts=locks.get(key, 0),
                first=_show(times[0]) if times else "",
                last=_show(times[-1]) if times else "",
                peak=peak,
                peak_start=_show(times[start]) if times else "",
                signed_in_after=after,
                alert=bool(reasons),
                why="; ".join(reasons),
            )
        )
    rows.sort(key=lambda r: (not r.alert, -r.peak, -r.failures, r.by, r.who))
    return rows


def _minutes(window: dt.timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- (b) the second factor --------------------------------------------------------------


@dataclass(frozen=True)
class SecondFactor:
    """A password sign-in that did not end in a verified code, or needed several."""

    account: str
    ip: str
    signed_in: str
    failed_codes: int
    verified: str
    outcome: str
    alert: bool
    why: str


def _session_row(
    account: str, session: Entry, failed: int, verified: Entry | None, limits: Thresholds
) -> SecondFactor:
    codes = f"{failed} wrong code{'s' if failed != 1 else ''}"
    if verified is None:
        outcome = "no code entered" if failed == 0 else f"stopped after {codes}"
        alert = failed > 0
        why = (
            "the password was right but the code was not: the password may be known to someone else"
            if alert
            else ""
        )
    else:
        outcome = f"verified after {codes}"
        alert = failed >= limits.code_failures
        why = f"{codes} before the right one: guessing?" if alert else ""
    return SecondFactor(
        account=account,
        ip=_text(session.details.get("ip")),
        signed_in=session.time,
        failed_codes=failed,
        verified=verified.time if verified else "",
        outcome=outcome,
        alert=alert,
        why=why,
    )


def second_factor(
    entries: Iterable[Entry], period: Period = ALL_TIME, limits: Thresholds = DEFAULTS
) -> list[SecondFactor]:
    """Each password sign-in (``login``) is one session of its account until the
    account's next sign-in or sign-out; its codes are the ``otp.verified`` and
    ``otp.failed`` events of that account in between.

    Listed: sessions that never verified a code (stopped at the second step) and
    sessions with failed codes. Alerts: a session with a right password and wrong codes
    that never verified (someone else may know the password), and ``limits.code_failures``
    or more failed codes in one session even if a code worked at last (guessing)."""
    by_account: dict[str, list[Entry]] = defaultdict(list)
    for e in _of(
        _in(entries, period),
        Action.LOGIN,
        Action.LOGOUT,
        Action.OTP_VERIFIED,
        Action.OTP_FAILED,
    ):
        if e.zone == PORTAL:
            by_account[e.object].append(e)
    rows: list[SecondFactor] = []
    for account, events in by_account.items():
        session: Entry | None = None
        failed = 0
        verified: Entry | None = None
        ends: list[Entry | None] = [*events, None]
        for ev in ends:
            if ev is None or ev.action in (Action.LOGIN, Action.LOGOUT):
                if session is not None and (verified is None or failed):
                    rows.append(_session_row(account, session, failed, verified, limits))
                session = ev if ev is not None and ev.action == Action.LOGIN else None
                failed, verified = 0, None
            elif session is None or verified is not None:
                continue  # a code outside a session we saw begin, or after it was verified
            elif ev.action == Action.OTP_FAILED:
                failed += 1
            else:
                verified = ev
    rows.sort(key=lambda r: (not r.alert, r.signed_in, r.account))
    return rows
