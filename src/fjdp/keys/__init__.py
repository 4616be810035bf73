"""Zones and their key material.

A zone is a folder (provider, ttp or databank) holding:

  zone.json            {"zone": "ttp", "name": ..., "created": ..., "fingerprint": ...}
  keys/box.key         X25519 private key (receiving), mode 0600
  keys/sign.key        Ed25519 signing seed, mode 0600
  keys/hmac.key        the zone's HMAC secret (ttp and databank only), mode 0600
  keys/card.json       this zone's public key card (box + sign public keys, fingerprint)
  trusted/<zone>.json  public key cards of peers this zone trusts
  audit/log.jsonl      the zone's audit trail

Interface (implemented in ``zone.py``):

- ``PublicKeyCard`` (frozen dataclass): zone (``Zone``), name, box_public (bytes),
  sign_public (bytes), fingerprint (hex SHA-256 of box_public + sign_public, first 32
  chars); ``to_json() -> str`` / ``from_json(text, where) -> PublicKeyCard`` (raises
  InputError with a clear message on a malformed card).
- ``init_zone(path, zone, *, name=None, actor) -> ZoneKeys``: refuses (OutputError) a
  non-empty folder that is not already this zone; creates everything above; writes
  audit events ``zone.init`` and ``key.create``.
- ``open_zone(path, expected=None) -> ZoneKeys``: InputError if not a zone; RefusedError
  if ``expected`` is given and differs; checks private key files are 0600.
- ``ZoneKeys``: zone, path, name, card, box_private (nacl PrivateKey), signing_key
  (nacl SigningKey), hmac_key (bytes | None); ``trust(card, *, actor)`` stores a peer
  card (RefusedError for a card of the zone's own kind); ``trusted(zone) -> PublicKeyCard``
  (RefusedError naming ``fjdp zone trust`` if none); ``export_card(dest) -> Path``.
- ``load_card(path) -> PublicKeyCard``.
"""

from fjdp.keys.zone import PublicKeyCard, ZoneKeys, init_zone, load_card, open_zone

__all__ = ["PublicKeyCard", "ZoneKeys", "init_zone", "load_card", "open_zone"]
