"""One file encrypted to one zone: a sealed file key, then a libsodium secretstream.

Layout (all lengths fixed, so no length field can be forged)::

    b"FJDPENV1" | recipient fingerprint (32 ASCII) | SealedBox(file key) (80 bytes)
    | secretstream header (24) | chunk ciphertexts (1 MiB + 17 bytes each, last shorter)

The magic, fingerprint and sealed key are the additional data of the first chunk, so
they cannot be swapped without the first chunk failing. Every chunk is authenticated,
and only the last carries TAG_FINAL: a file cut at a chunk boundary is still detected.
Plaintext is written to a temporary file and renamed into place only after the FINAL
chunk and end of file are seen, so a refusal never leaves partial plaintext behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nacl import bindings as sodium
from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox

from fjdp.errors import InputError, OutputError, RefusedError
from fjdp.keys import PublicKeyCard, ZoneKeys

MAGIC = b"FJDPENV1"
CHUNK = 1 << 20
_FP_LEN = 32
_KEY_LEN = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
_SEALED_LEN = _KEY_LEN + sodium.crypto_box_SEALBYTES
_HEADER_LEN = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


@dataclass(frozen=True)
class Sealed:
    """What the bundle writer records about an envelope, measured in the one pass."""

    plaintext_sha256: str
    plaintext_bytes: int
    envelope_sha256: str
    envelope_bytes: int


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    """``n`` bytes or fewer only at end of file; a short read is never taken as the end."""
    parts: list[bytes] = []
    remaining = n
    while remaining:
        part = fh.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _temp_beside(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.partial")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 in bounded memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def seal(src: Path, dest: Path, recipient: PublicKeyCard) -> Sealed:
    """Encrypt ``src`` to ``recipient``, hashing plaintext and envelope as they stream."""
    src, dest = Path(src), Path(dest)
    try:
        fin = open(src, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise InputError(
            f"cannot read the file to encrypt ({exc.strerror or type(exc).__name__})",
            where=str(src),
            fix="check the path and permissions",
        ) from None
    file_key = os.urandom(_KEY_LEN)
    sealed_key = SealedBox(PublicKey(recipient.box_public)).encrypt(file_key)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)
    prefix = MAGIC + recipient.fingerprint.encode("ascii") + sealed_key
    plain_hash, env_hash = hashlib.sha256(), hashlib.sha256()
    plain_bytes = env_bytes = 0
    tmp = _temp_beside(dest)
    try:
        with fin, open(tmp, "xb") as fout:

            def emit(data: bytes) -> None:
                nonlocal env_bytes
                fout.write(data)
                env_hash.update(data)
                env_bytes += len(data)

            emit(prefix + header)
            ad: bytes | None = prefix
            chunk = _read_exact(fin, CHUNK)
            while True:
                # Read one ahead: the last chunk must be known as last to carry FINAL.
                following = _read_exact(fin, CHUNK) if len(chunk) == CHUNK else b""
                tag = _TAG_MESSAGE if following else _TAG_FINAL
                plain_hash.update(chunk)
                plain_bytes += len(chunk)
                emit(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag))
                ad = None
                if tag == _TAG_FINAL:
                    break
                chunk = following
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(
            f"cannot write the envelope ({exc.strerror or type(exc).__name__})",
            where=str(dest),
            fix="check the output folder exists and is writable",
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Sealed(plain_hash.hexdigest(), plain_bytes, env_hash.hexdigest(), env_bytes)


def seal_file(src: Path, dest: Path, recipient: PublicKeyCard) -> str:
    """Encrypt ``src`` to ``recipient`` at ``dest``; returns the envelope's hex SHA-256."""
    return seal(src, dest, recipient).envelope_sha256


def _refuse(src: Path, what: str, fix: str | None = None) -> RefusedError:
    return RefusedError(
        what,
        where=str(src),
        fix=fix or "do not use this file; ask the sender to send it again",
    )


def _decrypt(fin: BinaryIO, fout: BinaryIO, src: Path, keys: ZoneKeys) -> tuple[str, int]:
    magic = _read_exact(fin, len(MAGIC))
    if magic != MAGIC:
        raise _refuse(src, "file is not an fjdp envelope (wrong magic bytes)")
    fp_raw = _read_exact(fin, _FP_LEN)
    fp = fp_raw.decode("ascii", errors="replace")
    if fp != keys.card.fingerprint:
        raise _refuse(
            src,
            f"envelope is addressed to key {fp!r}, not this {keys.zone} zone's key "
            f"{keys.card.fingerprint}",
            "open it in the zone it was encrypted to, or ask the sender to encrypt it to "
            "this zone's card",
        )
    sealed_key = _read_exact(fin, _SEALED_LEN)
    header = _read_exact(fin, _HEADER_LEN)
    if len(sealed_key) != _SEALED_LEN or len(header) != _HEADER_LEN:
        raise _refuse(src, "envelope is truncated (it ends inside its header)")
    try:
        file_key = SealedBox(keys.box_private).decrypt(sealed_key)
    except CryptoError:
        raise _refuse(src, "envelope's file key cannot be opened (tampered or corrupted)") from None
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, file_key)
    ad: bytes | None = magic + fp_raw + sealed_key
    plain_hash = hashlib.sha256()
    plain_bytes = 0
    index = 0
    while True:
        block = _read_exact(fin, CHUNK + _ABYTES)
        if len(block) < _ABYTES:
            raise _refuse(src, f"envelope is truncated (it ends before chunk {index + 1} is whole)")
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, ad)
        except CryptoError:
            raise _refuse(
                src,
                f"envelope chunk {index + 1} fails authentication "
                "(tampered, truncated or corrupted)",
            ) from None
        if tag not in (_TAG_MESSAGE, _TAG_FINAL):
            raise _refuse(src, f"envelope chunk {index + 1} has an unexpected tag {tag}")
        ad = None
        fout.write(message)
        plain_hash.update(message)
        plain_bytes += len(message)
        index += 1
        if tag == _TAG_FINAL:
            break
    if fin.read(1):
        raise _refuse(src, "envelope has data after its final chunk")
    return plain_hash.hexdigest(), plain_bytes


def open_sealed(src: Path, dest: Path, keys: ZoneKeys) -> tuple[str, int]:
    """Decrypt ``src`` to ``dest``; returns the plaintext's hex SHA-256 and size.

    ``dest`` appears only when the whole envelope has been authenticated.
    """
    src, dest = Path(src), Path(dest)
    try:
        fin = open(src, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise InputError(
            f"cannot read the envelope ({exc.strerror or type(exc).__name__})",
            where=str(src),
            fix="check the path and permissions",
        ) from None
    tmp = _temp_beside(dest)
    try:
        with fin, open(tmp, "xb") as fout:
            result = _decrypt(fin, fout, src, keys)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(
            f"cannot write the decrypted file ({exc.strerror or type(exc).__name__})",
            where=str(dest),
            fix="check the output folder exists and is writable",
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return result


def open_envelope(src: Path, dest: Path, keys: ZoneKeys) -> None:
    """Decrypt an envelope addressed to ``keys``; RefusedError if it is not whole and ours."""
    open_sealed(src, dest, keys)
