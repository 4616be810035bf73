"""Bundles: the folder of envelopes plus a signed manifest that one zone sends another.

The manifest is the only thing signed; it pins every envelope by SHA-256, so one
signature covers the whole bundle without hashing gigabytes twice on the sender's side.
The receiver checks everything it can before decrypting (address, sender, signature,
envelope hashes), decrypts into a staging folder, checks plaintext hashes and row
counts, and only then renames the staging folder into place: a refused bundle leaves
nothing that a later step could mistake for received data.
"""

from __future__ import annotations

import json
import operator
import os
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from fjdp.errors import InputError, OutputError, RefusedError
from fjdp.fsutil import staged_or_removed
from fjdp.keys import PublicKeyCard, ZoneKeys
from fjdp.transfer.envelope import open_sealed, seal, sha256_file
from fjdp.types import Zone

FORMAT_VERSION: Literal[1] = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ENVELOPE_SUFFIX = ".env"
PLAINTEXT_SUFFIX = ".parquet"
REQUIRED_COUNTS = ("rows_in", "rows_accepted", "rows_quarantined")
_MAX_MANIFEST_BYTES = 16 << 20
_TABLE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""Table names become file names on the receiver: no dots, slashes or leading dashes."""
_HEX64 = r"^[0-9a-f]{64}$"
_FINGERPRINT = r"^[0-9a-f]{32}$"


class BundleFile(BaseModel):
    """One table in the bundle. ``bytes`` is the envelope's size, checked before hashing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    table: str = Field(pattern=_TABLE)
    rows: StrictInt = Field(ge=0)
    plaintext_sha256: str = Field(pattern=_HEX64)
    envelope_sha256: str = Field(pattern=_HEX64)
    bytes: StrictInt = Field(ge=0)

    @model_validator(mode="after")
    def _name_follows_table(self) -> BundleFile:
        # The receiver opens exactly this name; tying it to the table keeps it inside the bundle.
        if self.name != f"{self.table}{ENVELOPE_SUFFIX}":
            raise ValueError(f"file name {self.name!r} must be {self.table + ENVELOPE_SUFFIX!r}")
        return self


class Manifest(BaseModel):
    """What a bundle holds and who it is from and to; signed by the sender as canonical JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = FORMAT_VERSION
    dataset: str = Field(min_length=1)
    extract_id: str = Field(min_length=1)
    spec_version: str = Field(min_length=1)
    kind: Literal["file1", "file2", "file3"]
    # A File 3 is sent again, as a higher revision, when clerical review changes links.
    revision: int = Field(default=1, ge=1)
    sender_zone: Zone
    sender_fingerprint: str = Field(pattern=_FINGERPRINT)
    recipient_zone: Zone
    recipient_fingerprint: str = Field(pattern=_FINGERPRINT)
    created: AwareDatetime
    files: list[BundleFile]
    counts: dict[str, StrictInt]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        tables = [f.table for f in self.files]
        if len(set(tables)) != len(tables):
            raise ValueError("a table appears more than once in files")
        missing = [k for k in REQUIRED_COUNTS if k not in self.counts]
        if missing:
            raise ValueError(f"counts lack {', '.join(missing)}")
        if any(v < 0 for v in self.counts.values()):
            raise ValueError("counts must not be negative")
        c = self.counts
        # DESIGN.md 2: rows in = rows accepted + rows quarantined; nothing lost silently.
        if c["rows_in"] != c["rows_accepted"] + c["rows_quarantined"]:
            raise ValueError(
                f"rows_in {c['rows_in']} != rows_accepted {c['rows_accepted']} "
                f"+ rows_quarantined {c['rows_quarantined']}"
            )
        return self

    def canonical_json(self) -> bytes:
        """The exact bytes that are signed; sorted and compact so any writer agrees."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _parquet_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return int(pq.ParquetFile(fh).metadata.num_rows)


def _staging_beside(target: Path) -> Path:
    return target.parent / f".{target.name}.staging-{secrets.token_hex(6)}"


def _refuse(where: Path, what: str, fix: str | None = None) -> RefusedError:
    return RefusedError(
        what,
        where=str(where),
        fix=fix or "do not use this bundle; ask the sender to send it again",
    )


def write_bundle(
    out_dir: Path,
    *,
    dataset: str,
    extract_id: str,
    spec_version: str,
    kind: str,
    files: Sequence[tuple[str, Path, int]],
    counts: dict[str, int],
    sender: ZoneKeys,
    recipient: PublicKeyCard,
    revision: int = 1,
) -> Manifest:
    """Encrypt each table to ``recipient`` and sign the manifest with ``sender``'s key.

    Built in a staging folder and renamed into place, so a half-written bundle is never
    picked up by whoever moves ``out_dir`` to the next zone.
    """
    out_dir = Path(out_dir)
    if kind not in ("file1", "file2", "file3"):
        raise ValueError(f"kind must be 'file1', 'file2' or 'file3', not {kind!r}")
    if recipient.zone == sender.zone:
        raise RefusedError(
            f"a {sender.zone} zone does not send bundles to another {recipient.zone} zone",
            where=str(out_dir),
            fix="encrypt the bundle to the card of the zone that should receive it",
        )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputError(
            "bundle folder already exists and is not empty",
            where=str(out_dir),
            fix="choose a new folder, or move the old bundle away",
        )
    tables = [table for table, _, _ in files]
    bad = [t for t in tables if not re.fullmatch(_TABLE, t)]
    if bad or len(set(tables)) != len(tables):
        raise ValueError(f"table names must be unique and match {_TABLE}: {tables}")
    for table, path, rows in files:
        path = Path(path)
        try:
            actual = _parquet_rows(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(
                f"cannot read table {table!r} as Parquet ({type(exc).__name__})",
                where=str(path),
                fix="check the file was written completely",
            ) from None
        if actual != rows:
            raise InputError(
                f"table {table!r} has {actual} rows, not the {rows} declared",
                where=str(path),
                fix="recount the rows of the step that wrote it",
            )

    staging = _staging_beside(out_dir)
    with staged_or_removed(
        staging,
        what="write the bundle",
        where=out_dir,
        fix="check the folder is writable and has space",
    ):
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)
        entries = []
        for table, path, rows in files:
            name = f"{table}{ENVELOPE_SUFFIX}"
            sealed = seal(Path(path), staging / name, recipient)
            entries.append(
                BundleFile(
                    name=name,
                    table=table,
                    rows=operator.index(rows),
                    plaintext_sha256=sealed.plaintext_sha256,
                    envelope_sha256=sealed.envelope_sha256,
                    bytes=sealed.envelope_bytes,
                )
            )
        manifest = Manifest(
            dataset=dataset,
            extract_id=extract_id,
            spec_version=spec_version,
            kind=kind,  # type: ignore[arg-type]  # checked against the Literal above
            revision=revision,
            sender_zone=sender.zone,
            sender_fingerprint=sender.card.fingerprint,
            recipient_zone=recipient.zone,
            recipient_fingerprint=recipient.fingerprint,
            created=datetime.now(UTC),
            files=entries,
            counts={str(k): operator.index(v) for k, v in counts.items()},  # numpy ints too
        )
        data = manifest.canonical_json()
        signature = sender.signing_key.sign(data).signature
        (staging / MANIFEST).write_bytes(data)
        (staging / SIGNATURE).write_text(bytes(signature).hex() + "\n", encoding="ascii")
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above); rename cannot replace a folder portably
        os.rename(staging, out_dir)
    return manifest


def _read_small(path: Path, bundle_dir: Path) -> bytes:
    try:
        if not path.is_file():
            raise _refuse(
                bundle_dir,
                f"bundle has no {path.name}",
                "do not use this bundle; ask the sender for the complete bundle",
            )
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise _refuse(path, f"{path.name} is too large to be a manifest")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {path.name} ({exc.strerror or type(exc).__name__})",
            where=str(path),
            fix="check the bundle folder's permissions",
        ) from None


def _verified_manifest(bundle_dir: Path, receiver: ZoneKeys) -> Manifest:
    """Parse, check the address, find the sender's card, verify the signature."""
    data = _read_small(bundle_dir / MANIFEST, bundle_dir)
    sig_text = _read_small(bundle_dir / SIGNATURE, bundle_dir)
    try:
        signature = bytes.fromhex(sig_text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise _refuse(bundle_dir / SIGNATURE, "manifest signature is not hex") from None
    try:
        manifest = Manifest.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise _refuse(
            bundle_dir / MANIFEST, f"manifest is not valid ({loc}: {first['msg']})"
        ) from None

    here = receiver.zone
    if manifest.recipient_zone != here:
        raise _refuse(
            bundle_dir,
            f"bundle is addressed to the {manifest.recipient_zone}, not this {here} zone",
            f"open it with the {manifest.recipient_zone} zone's folder",
        )
    if manifest.recipient_fingerprint != receiver.card.fingerprint:
        raise _refuse(
            bundle_dir,
            f"bundle is addressed to {here} key {manifest.recipient_fingerprint}, not this "
            f"{here} zone's key {receiver.card.fingerprint}",
            "ask the sender to trust this zone's current card and send again",
        )
    sender = manifest.sender_zone
    try:
        card = receiver.trusted(sender)
    except RefusedError:
        raise _refuse(
            bundle_dir,
            f"bundle is from a {sender} zone, but this {here} zone trusts no {sender} zone",
            f"check the sender; to accept it, run `fjdp zone trust` with the {sender} zone's card",
        ) from None
    if card.fingerprint != manifest.sender_fingerprint:
        raise _refuse(
            bundle_dir,
            f"bundle is signed by {sender} key {manifest.sender_fingerprint}, not the trusted "
            f"{sender} key {card.fingerprint}",
            "do not use this bundle; confirm the sender's key with its owner before trusting it",
        )
    try:
        VerifyKey(card.sign_public).verify(data, signature)
    except CryptoError:
        raise _refuse(
            bundle_dir / MANIFEST,
            "manifest signature does not verify (the manifest was altered after signing)",
        ) from None
    return manifest


def _check_envelopes(bundle_dir: Path, manifest: Manifest) -> None:
    listed = {f.name for f in manifest.files}
    extra = sorted(p.name for p in bundle_dir.glob(f"*{ENVELOPE_SUFFIX}") if p.name not in listed)
    if extra:
        raise _refuse(bundle_dir, f"bundle holds envelopes its manifest does not list: {extra}")
    for entry in manifest.files:
        path = bundle_dir / entry.name
        if not path.is_file():
            raise _refuse(bundle_dir, f"bundle lacks the envelope {entry.name} its manifest lists")
        size = path.stat().st_size
        if size != entry.bytes:
            raise _refuse(path, f"envelope is {size} bytes, the manifest says {entry.bytes}")
        if sha256_file(path) != entry.envelope_sha256:
            raise _refuse(path, "envelope's SHA-256 differs from the signed manifest")


def read_bundle(bundle_dir: Path, receiver: ZoneKeys, dest_dir: Path) -> Manifest:
    """Verify and decrypt a bundle into ``dest_dir`` (tables as ``<table>.parquet``)."""
    bundle_dir, dest_dir = Path(bundle_dir), Path(dest_dir)
    if not bundle_dir.is_dir():
        raise InputError(
            "bundle folder does not exist",
            where=str(bundle_dir),
            fix="check the path to the bundle",
        )
    if dest_dir.exists() or dest_dir.is_symlink():
        raise OutputError(
            "destination already exists",
            where=str(dest_dir),
            fix="choose a new folder, or move the old one away",
        )
    manifest = _verified_manifest(bundle_dir, receiver)
    _check_envelopes(bundle_dir, manifest)

    staging = _staging_beside(dest_dir)
    with staged_or_removed(
        staging,
        what="write the received tables",
        where=dest_dir,
        fix="check the folder is writable and has space",
    ):
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)
        for entry in manifest.files:
            src = bundle_dir / entry.name
            out = staging / f"{entry.table}{PLAINTEXT_SUFFIX}"
            digest, _ = open_sealed(src, out, receiver)
            if digest != entry.plaintext_sha256:
                raise _refuse(src, "decrypted table's SHA-256 differs from the signed manifest")
            try:
                rows = _parquet_rows(out)
            except (OSError, pa.ArrowException):
                raise _refuse(src, "decrypted table is not a readable Parquet file") from None
            if rows != entry.rows:
                raise _refuse(
                    src, f"decrypted table has {rows} rows, the signed manifest says {entry.rows}"
                )
        # The verified manifest is kept beside the tables: what later steps check counts
        # and hashes against.
        (staging / MANIFEST).write_bytes(manifest.canonical_json())
        os.rename(staging, dest_dir)
    return manifest
