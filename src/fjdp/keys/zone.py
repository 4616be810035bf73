"""Zone folders and their keys: created once, opened by every command that runs as the zone.

Private keys are raw 32-byte files created with mode 0600 before any byte is written, so
there is no moment at which another account could read them. Public key cards are JSON
with hex keys, because people move them between hosts by hand and compare fingerprints
by eye. A zone is built in a hidden sibling folder and renamed into place, so a failed
``init`` never leaves a half-made zone that ``open_zone`` would accept.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.errors import InputError, OutputError, RefusedError, UsageError
from fjdp.types import Zone

ROLES: dict[Zone, str] = {
    Zone.PROVIDER: "data provider",
    Zone.TTP: "linkage operator",
    Zone.DATABANK: "data manager",
}
"""The person who holds each zone's keys; the audit trail records actions under this role."""

_HMAC_ZONES = frozenset({Zone.TTP, Zone.DATABANK})
"""Only these zones derive pseudonyms (ALF, ALF_E; DESIGN.md 5), so only they get a secret."""

_KEY_BYTES = 32
_FINGERPRINT_CHARS = 32

ZONE_FILE = "zone.json"
BOX_KEY = "keys/box.key"
SIGN_KEY = "keys/sign.key"
HMAC_KEY = "keys/hmac.key"
CARD_FILE = "keys/card.json"
TRUSTED_DIR = "trusted"
AUDIT_DIR = "audit"


def fingerprint(box_public: bytes, sign_public: bytes) -> str:
    """Short enough to read aloud over the phone, long enough (128 bits) not to collide."""
    return hashlib.sha256(box_public + sign_public).hexdigest()[:_FINGERPRINT_CHARS]


def _hex_key(data: dict[str, Any], field: str, where: str) -> bytes:
    value = data.get(field)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != _KEY_BYTES:
        raise InputError(
            f"key card field {field!r} is not a {_KEY_BYTES}-byte hex key",
            where=where,
            fix="ask the zone's owner to export the card again with `fjdp zone export`",
        )
    return raw


@dataclass(frozen=True)
class PublicKeyCard:
    """What a zone publishes so others can encrypt to it and check its signatures."""

    zone: Zone
    name: str
    box_public: bytes
    sign_public: bytes
    fingerprint: str

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "zone": self.zone.value,
                    "name": self.name,
                    "box_public": self.box_public.hex(),
                    "sign_public": self.sign_public.hex(),
                    "fingerprint": self.fingerprint,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> PublicKeyCard:
        """Checks the fingerprint against the keys so a hand-edited card cannot pass."""
        fix = "ask the zone's owner to export the card again with `fjdp zone export`"
        try:
            data = json.loads(text)
        # ValueError also covers a number too long to convert; RecursionError, nesting
        # too deep for the parser: neither is a card.
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise InputError(f"key card is not valid JSON ({why})", where=where, fix=fix) from None
        if not isinstance(data, dict):
            raise InputError("key card is not a JSON object", where=where, fix=fix)
        try:
            zone = Zone(str(data.get("zone")))
        except ValueError:
            raise InputError(
                f"key card has an unknown zone {data.get('zone')!r}", where=where, fix=fix
            ) from None
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise InputError("key card has no name", where=where, fix=fix)
        box_public = _hex_key(data, "box_public", where)
        sign_public = _hex_key(data, "sign_public", where)
        expected = fingerprint(box_public, sign_public)
        if data.get("fingerprint") != expected:
            raise InputError(
                "key card fingerprint does not match its keys (the card was altered)",
                where=where,
                fix=fix,
            )
        return cls(zone, name, box_public, sign_public, expected)


def load_card(path: Path) -> PublicKeyCard:
    """A card file from disk; missing or unreadable is the user's input problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read key card ({type(exc).__name__})",
            where=str(path),
            fix="check the path to the card file",
        ) from None
    return PublicKeyCard.from_json(text, where=str(path))


def write_atomic(path: Path, data: bytes, *, private: bool) -> None:
    """Temp file + rename so readers see the old file or the new one, never half of one.

    The temp file is created with its final mode by ``os.open``; a private key is never
    on disk, even for a moment, with permissions wider than 0600.
    """
    mode = 0o600 if private else 0o644
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)  # the umask may have narrowed a public file; keep it as meant
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_zone_file(path: Path) -> dict[str, Any] | None:
    """The parsed zone.json, or None when the folder is not a zone at all."""
    try:
        data = json.loads((path / ZONE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


@dataclass(frozen=True)
class ZoneKeys:
    """An opened zone: its private keys in memory and the folder they came from."""

    zone: Zone
    path: Path
    name: str
    card: PublicKeyCard
    box_private: PrivateKey
    signing_key: SigningKey
    hmac_key: bytes | None

    @property
    def role(self) -> str:
        return ROLES[self.zone]

    def _audit(self, actor: str, action: Action, obj: str, details: dict[str, Any]) -> None:
        zone_log(self.path).append(
            AuditEvent(
                zone=self.zone,
                actor=actor,
                role=self.role,
                action=action,
                object=obj,
                details=details,
            )
        )

    def trust(self, card: PublicKeyCard, *, actor: str) -> None:
        """One trusted card per peer kind: a bundle names its sender's zone, not a key id."""
        if card.zone == self.zone:
            raise RefusedError(
                f"a {self.zone} zone does not trust another {card.zone} zone's card",
                where=str(self.path),
                fix=f"trust the card of the zone this {self.zone} exchanges files with",
            )
        dest = self.path / TRUSTED_DIR / f"{card.zone.value}.json"
        previous: str | None = None
        if dest.exists():
            with contextlib.suppress(InputError):
                previous = load_card(dest).fingerprint
        dest.parent.mkdir(mode=0o700, exist_ok=True)
        write_atomic(dest, card.to_json().encode("utf-8"), private=False)
        details: dict[str, Any] = {"peer_zone": card.zone.value, "fingerprint": card.fingerprint}
        if previous is not None and previous != card.fingerprint:
            details["replaces"] = previous  # a key change must be visible in the trail
        self._audit(actor, Action.KEY_TRUST, f"{TRUSTED_DIR}/{dest.name}", details)

    def trusted(self, zone: Zone) -> PublicKeyCard:
        path = self.path / TRUSTED_DIR / f"{Zone(zone).value}.json"
        if not path.exists():
            raise RefusedError(
                f"this {self.zone} zone trusts no {zone} zone",
                where=str(self.path),
                fix=f"get the {zone} zone's card and run `fjdp zone trust` with it",
            )
        card = load_card(path)
        if card.zone != zone:
            raise InputError(
                f"trusted card for the {zone} zone is a {card.zone} card",
                where=str(path),
                fix=f"run `fjdp zone trust` again with the {zone} zone's card",
            )
        return card

    def export_card(self, dest: Path, *, actor: str | None = None) -> Path:
        """Write the public card for peers; ``dest`` may be a folder or a file name.

        ``actor`` defaults to the OS user, the same one the CLI would pass.
        """
        dest = Path(dest)
        target = dest / f"{self.zone.value}.card.json" if dest.is_dir() else dest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, self.card.to_json().encode("utf-8"), private=False)
        except OSError as exc:
            raise OutputError(
                f"cannot write the key card ({exc.strerror or type(exc).__name__})",
                where=str(target),
                fix="choose a folder you can write to",
            ) from None
        self._audit(
            actor or _default_actor(),
            Action.KEY_EXPORT,
            str(target),
            {"kind": "card", "fingerprint": self.card.fingerprint},
        )
        return target


def check_private_mode(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RefusedError(
            f"private key is readable by other accounts (mode {mode:04o})",
            where=str(path),
            fix=f"run `chmod 600 {path}` and check who may have copied it",
        )


def read_private(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError:
        raise InputError(
            "zone key file is missing or unreadable",
            where=str(path),
            fix="restore the zone's keys folder from its backup",
        ) from None
    if len(raw) != _KEY_BYTES:
        raise InputError(
            f"zone key file is {len(raw)} bytes, not {_KEY_BYTES}",
            where=str(path),
            fix="restore the zone's keys folder from its backup",
        )
    return raw


def open_zone(path: Path, expected: Zone | None = None) -> ZoneKeys:
    """Load a zone and check it is whole: key modes, and card, keys and zone.json agree."""
    path = Path(path)
    info = _read_zone_file(path)
    if info is None:
        raise InputError(
            "folder is not an fjdp zone (no readable zone.json)",
            where=str(path),
            fix="check the zone folder, or create one with `fjdp zone init`",
        )
    try:
        zone = Zone(str(info.get("zone")))
    except ValueError:
        raise InputError(
            f"zone.json names an unknown zone {info.get('zone')!r}",
            where=str(path / ZONE_FILE),
            fix="restore zone.json from the zone's backup",
        ) from None
    if expected is not None and zone != expected:
        raise RefusedError(
            f"folder is a {zone} zone, not a {Zone(expected)} zone",
            where=str(path),
            fix=f"run this command with the {Zone(expected)} zone's folder",
        )
    key_files = [path / BOX_KEY, path / SIGN_KEY]
    if zone in _HMAC_ZONES:
        key_files.append(path / HMAC_KEY)
    raw = []
    for key_file in key_files:
        secret = read_private(key_file)
        check_private_mode(key_file)
        raw.append(secret)
    box_private = PrivateKey(raw[0])
    signing_key = SigningKey(raw[1])
    card = load_card(path / CARD_FILE)
    if (
        card.zone != zone
        or card.box_public != bytes(box_private.public_key)
        or card.sign_public != bytes(signing_key.verify_key)
        or info.get("fingerprint") != card.fingerprint
    ):
        raise InputError(
            "zone's public card does not match its private keys",
            where=str(path / CARD_FILE),
            fix="restore the zone's keys folder from its backup",
        )
    return ZoneKeys(
        zone=zone,
        path=path,
        name=card.name,
        card=card,
        box_private=box_private,
        signing_key=signing_key,
        hmac_key=raw[2] if zone in _HMAC_ZONES else None,
    )


def init_zone(path: Path, zone: Zone, *, name: str | None = None, actor: str) -> ZoneKeys:
    """Create a zone, or open it if the folder is already this zone (safe to re-run).

    Keys are never regenerated over an existing zone: that would orphan every file
    already encrypted to it and every pseudonym derived from its HMAC secret.
    """
    path = Path(path)
    zone = Zone(zone)
    if zone not in ROLES:
        raise UsageError(
            f"a {zone} zone has no keys of its own",
            fix="initialise a provider, ttp or databank zone",
        )
    if path.exists():
        if not path.is_dir():
            raise OutputError(
                "zone path exists and is not a folder",
                where=str(path),
                fix="choose a new or empty folder for the zone",
            )
        if any(path.iterdir()):
            info = _read_zone_file(path)
            if info is not None and info.get("zone") == zone.value:
                return open_zone(path, zone)
            what = (
                f"folder is already a {info.get('zone')} zone"
                if info is not None
                else "folder is not empty and is not a zone"
            )
            raise OutputError(what, where=str(path), fix="choose a new or empty folder")

    box_private = PrivateKey.generate()
    signing_key = SigningKey.generate()
    hmac_key = os.urandom(_KEY_BYTES) if zone in _HMAC_ZONES else None
    box_public = bytes(box_private.public_key)
    sign_public = bytes(signing_key.verify_key)
    card = PublicKeyCard(
        zone=zone,
        name=name or zone.value,
        box_public=box_public,
        sign_public=sign_public,
        fingerprint=fingerprint(box_public, sign_public),
    )

    staging = path.parent / f".{path.name}.init-{secrets.token_hex(6)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)
        for sub in ("keys", TRUSTED_DIR, AUDIT_DIR):
            (staging / sub).mkdir(mode=0o700)
        write_atomic(staging / BOX_KEY, bytes(box_private), private=True)
        write_atomic(staging / SIGN_KEY, bytes(signing_key), private=True)
        if hmac_key is not None:
            write_atomic(staging / HMAC_KEY, hmac_key, private=True)
        write_atomic(staging / CARD_FILE, card.to_json().encode("utf-8"), private=False)
        info_json = {
            "zone": zone.value,
            "name": card.name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "fingerprint": card.fingerprint,
        }
        text = json.dumps(info_json, indent=2, sort_keys=True) + "\n"
        write_atomic(staging / ZONE_FILE, text.encode("utf-8"), private=False)
        if path.exists():
            path.rmdir()  # empty (checked above); rename cannot replace a folder portably
        os.rename(staging, path)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(
            f"cannot create the zone ({exc.strerror or type(exc).__name__})",
            where=str(path),
            fix="choose a folder you can write to",
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    keys = ZoneKeys(
        zone=zone,
        path=path,
        name=card.name,
        card=card,
        box_private=box_private,
        signing_key=signing_key,
        hmac_key=hmac_key,
    )
    keys._audit(actor, Action.ZONE_INIT, str(path), {"name": card.name, "zone": zone.value})
    created = [("box", BOX_KEY, card.fingerprint), ("sign", SIGN_KEY, card.fingerprint)]
    if hmac_key is not None:
        # A secret has no public half; a hash of it identifies it without revealing it.
        hmac_id = hashlib.sha256(b"fjdp-hmac-id" + hmac_key).hexdigest()[:_FINGERPRINT_CHARS]
        created.append(("hmac", HMAC_KEY, hmac_id))
    for kind, rel, key_id in created:
        keys._audit(actor, Action.KEY_CREATE, rel, {"kind": kind, "fingerprint": key_id})
    return keys
