"""Files that cross zones: authenticated-encrypted envelopes with a signed manifest.

A *bundle* is a folder sent from one zone to another:

  manifest.json   what is inside (below), canonical JSON
  manifest.sig    Ed25519 signature of manifest.json by the sender's signing key
  <name>.env      one envelope per table: the plaintext Parquet file, encrypted

An envelope is: magic b"FJDPENV1", the recipient's fingerprint (32 ASCII), a random
32-byte file key sealed to the recipient's X25519 key (nacl SealedBox), then the file
streamed through libsodium's crypto_secretstream_xchacha20poly1305 in 1 MiB chunks, the
last chunk tagged FINAL (so truncation is detected). No cryptography is written here:
PyNaCl does all of it.

Interface (``envelope.py``, ``bundle.py``):

- ``seal_file(src, dest, recipient: PublicKeyCard) -> str`` (hex SHA-256 of the envelope)
- ``open_envelope(src, dest, keys: ZoneKeys) -> None``: RefusedError if addressed to
  another zone's key, tampered, truncated or not an envelope.
- ``BundleFile``: name, table, rows, plaintext_sha256, envelope_sha256, bytes.
- ``Manifest`` (pydantic, frozen): format_version, dataset, extract_id, spec_version,
  kind ("file1" or "file2"), sender_zone, sender_fingerprint, recipient_zone,
  recipient_fingerprint, created, files (list of BundleFile), counts (dict[str, int]:
  rows_in, rows_accepted, rows_quarantined and any others).
- ``write_bundle(out_dir, *, dataset, extract_id, spec_version, kind, files, counts,
  sender: ZoneKeys, recipient: PublicKeyCard) -> Manifest`` where ``files`` is a list of
  (table, plaintext_path, rows). Streams; bounded memory.
- ``read_bundle(bundle_dir, receiver: ZoneKeys, dest_dir) -> Manifest``: verifies the
  signature against the sender's card in ``receiver``'s trusted/, that the recipient is
  ``receiver``, every envelope's SHA-256, decrypts into a staging folder beside
  ``dest_dir``, checks every plaintext SHA-256 and Parquet row count against the
  manifest, then renames the staging folder to ``dest_dir``. On any failure: RefusedError
  (or InputError for a missing/unreadable bundle) and nothing is left at ``dest_dir``.
"""

from fjdp.transfer.bundle import BundleFile, Manifest, read_bundle, write_bundle
from fjdp.transfer.envelope import open_envelope, seal_file

__all__ = ["BundleFile", "Manifest", "open_envelope", "read_bundle", "seal_file", "write_bundle"]
