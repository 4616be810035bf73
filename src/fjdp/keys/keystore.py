"""The databank's keystore: versions of K_bank and one K_project per project.

Layout under the databank zone::

  keys/hmac.key                   K_bank version 1 (created with the zone)
  keystore/bank/v2.key, v3.key    later versions, added by ``rotate-key`` (which version
                                  is in use is the databank catalogue's to say)
  keystore/projects/<id>.key      K_project, created at first provisioning
  keystore/projects/<id>.revoked  the tombstone left when a project's key is destroyed
  keystore/bridges/<id>.k<N>.parquet  ALF_E under bank key N -> the project's ALF_PE,
                                  written by a rotation so pseudonyms do not change

Every key is 32 random bytes in a file of mode 0600, written atomically. Nothing in
this module is ever copied into a workspace.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fjdp.errors import InputError, RefusedError, UsageError
from fjdp.keys.zone import HMAC_KEY, ZoneKeys, check_private_mode, read_private, write_atomic
from fjdp.types import Zone

_PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_KEY_BYTES = 32


def check_project_id(project: str) -> str:
    if not _PROJECT_ID.match(project):
        raise UsageError(
            f"project id {project!r} is not valid",
            fix="use letters, digits, '-' and '_' (at most 64), starting with a letter or digit",
        )
    return project


@dataclass(frozen=True)
class BankKeystore:
    """Key material of one databank zone. Open it with :meth:`of`."""

    root: Path

    @classmethod
    def of(cls, zone: ZoneKeys) -> BankKeystore:
        if zone.zone is not Zone.DATABANK:
            raise RefusedError(f"a {zone.zone} zone has no databank keystore", where=str(zone.path))
        return cls(zone.path)

    # --- K_bank versions -------------------------------------------------------------

    def _bank_dir(self) -> Path:
        return self.root / "keystore" / "bank"

    def bank_versions(self) -> list[int]:
        found = [1]
        if self._bank_dir().is_dir():
            for p in self._bank_dir().glob("v*.key"):
                if p.stem[1:].isdigit():
                    found.append(int(p.stem[1:]))
        return sorted(set(found))

    def bank_key(self, version: int) -> bytes:
        path = self.root / HMAC_KEY if version == 1 else self._bank_dir() / f"v{version}.key"
        if not path.exists():
            raise InputError(
                f"bank key version {version} is missing",
                where=str(path),
                fix="restore the databank's keystore from its backup",
            )
        check_private_mode(path)
        return read_private(path)

    def bank_chain(self, upto: int) -> list[bytes]:
        """Keys of versions 1..``upto``, oldest first: ALF_E(v) = HMAC(K_v, ALF_E(v-1))
        and ALF_E(1) = HMAC(K_1, ALF)."""
        return [self.bank_key(v) for v in range(1, upto + 1)]

    def new_bank_version(self, version: int) -> None:
        """Write a fresh key for ``version``, replacing one a killed rotation left unused."""
        self._bank_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(
            self._bank_dir() / f"v{version}.key", secrets.token_bytes(_KEY_BYTES), private=True
        )

    # --- K_project -------------------------------------------------------------------

    def _project_dir(self) -> Path:
        return self.root / "keystore" / "projects"

    def project_key_path(self, project: str) -> Path:
        return self._project_dir() / f"{check_project_id(project)}.key"

    def tombstone(self, project: str) -> Path:
        return self._project_dir() / f"{check_project_id(project)}.revoked"

    def is_revoked(self, project: str) -> bool:
        return self.tombstone(project).exists()

    def has_project_key(self, project: str) -> bool:
        return self.project_key_path(project).exists()

    def projects(self) -> list[str]:
        if not self._project_dir().is_dir():
            return []
        return sorted(p.stem for p in self._project_dir().glob("*.key"))

    def project_key(self, project: str, *, create: bool) -> tuple[bytes, bool]:
        """The project's key and whether it was created now. A revoked project never
        gets a key again: its old pseudonyms must stay unlinkable."""
        if self.is_revoked(project):
            info = json.loads(self.tombstone(project).read_text())
            raise RefusedError(
                f"project {project} was revoked on {info.get('revoked')} and its key destroyed",
                where=str(self.tombstone(project)),
                fix="a new study needs a new project id and a new approval",
            )
        path = self.project_key_path(project)
        if path.exists():
            check_private_mode(path)
            return read_private(path), False
        if not create:
            raise InputError(
                f"project {project} has no key: it was never provisioned",
                where=str(path),
                fix=f"run `fjdp databank provision --project {project}` first",
            )
        self._project_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, secrets.token_bytes(_KEY_BYTES), private=True)
        return read_private(path), True

    def discard_new_project_key(self, project: str) -> None:
        """Remove a key created by a provisioning that then failed, with any bridge it
        began: no workspace ever held its pseudonyms, so no tombstone is left and the
        next provisioning starts as the first."""
        self.project_key_path(project).unlink(missing_ok=True)
        for bridge in self.bridges(project):
            bridge.unlink(missing_ok=True)

    def destroy_project_key(self, project: str, *, reason: str) -> None:
        """Crypto-shredding: overwrite the key in place, remove it and its bridge, and
        leave a tombstone so the project id is never keyed again."""
        path = self.project_key_path(project)
        self._project_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        tomb = {"project": project, "revoked": datetime.now(UTC).isoformat(), "reason": reason}
        write_atomic(self.tombstone(project), json.dumps(tomb).encode(), private=False)
        if path.exists():
            with path.open("r+b") as fh:
                fh.write(secrets.token_bytes(_KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
        for bridge in self.bridges(project):
            bridge.unlink(missing_ok=True)

    # --- bridges kept across rotations ---------------------------------------------

    def bridge_path(self, project: str, key_version: int) -> Path:
        return (
            self.root
            / "keystore"
            / "bridges"
            / f"{check_project_id(project)}.k{key_version}.parquet"
        )

    def bridges(self, project: str) -> list[Path]:
        folder = self.root / "keystore" / "bridges"
        return (
            sorted(folder.glob(f"{check_project_id(project)}.k*.parquet"))
            if folder.is_dir()
            else []
        )
