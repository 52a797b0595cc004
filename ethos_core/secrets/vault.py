"""The encrypted local vault: ``ethos secrets set|rm``, resolver ``vault``.

Invariant: secret values are on disk only as AES-256-GCM ciphertext. The key comes from the OS
keyring (a random 256-bit key, when the ``keyring`` package is importable and the vault was
created in keyring mode) or from a passphrase through scrypt (``ETHOS_VAULT_PASSPHRASE`` or an
interactive prompt). Each entry is sealed with its ref as associated data, so a ciphertext moved
to another ref fails to decrypt. A wrong passphrase or key is detected with a sealed check value
and reported as :class:`VaultError` naming the vault, never a value. The vault directory is
created 0700 and the file 0600; a vault file or directory readable by group or others is
refused. Writes are atomic (temporary file + ``os.replace``) under an exclusive ``flock``, so
concurrent ``set`` calls cannot lose each other's entries.

Not covered: an attacker who can read process memory or the keyring of the logged-in user; a
weak passphrase (scrypt only slows guessing); ref names are stored in clear.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ethos_core.errors import SecretResolutionError

VAULT_FILE = "vault.json"
PASSPHRASE_ENV = "ETHOS_VAULT_PASSPHRASE"
KEYRING_SERVICE = "ethos-vault"
_FORMAT = 1
_CHECK_AAD = b"ethos-vault:check"
_CHECK_PLAINTEXT = b"ethos-vault-v1"
# scrypt cost: n=2**15, r=8, p=1 (~32 MiB, ~0.1 s): the interactive-login setting.
DEFAULT_SCRYPT_N = 2**15


class VaultError(SecretResolutionError):
    """The vault cannot be opened or written (wrong passphrase, unsafe modes, corrupt file)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def keyring_available() -> bool:
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


class Vault:
    """One vault file. ``passphrase`` may be a string or a zero-argument callable (prompt)."""

    def __init__(
        self,
        path: str | Path,
        *,
        passphrase: str | Callable[[], str] | None = None,
        key_source: str = "keyring",
        scrypt_n: int = DEFAULT_SCRYPT_N,
    ) -> None:
        p = Path(path).expanduser()
        self.path = p / VAULT_FILE if p.suffix != ".json" else p
        self.directory = self.path.parent
        self._passphrase = passphrase
        self.key_source = key_source
        self.scrypt_n = scrypt_n
        self._key: bytes | None = None

    # --- file handling -------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def _check_modes(self) -> None:
        for target, kind in ((self.directory, "directory"), (self.path, "file")):
            try:
                st = target.stat()
            except FileNotFoundError:
                continue
            if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                wanted = "700" if kind == "directory" else "600"
                raise VaultError(
                    f"vault {kind} {target} is accessible by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod {wanted} {target}"
                )

    def _read(self) -> dict[str, Any]:
        self._check_modes()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VaultError(f"no vault at {self.path}; create one with: ethos secrets set REF") from None
        except (OSError, ValueError) as exc:
            raise VaultError(f"vault {self.path} is not readable: {type(exc).__name__}") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("entries"), dict):
            raise VaultError(f"vault {self.path} has an unknown format")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        tmp = self.directory / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        lock_path = self.directory / f".{self.path.name}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- keys ------------------------------------------------------------------------------

    def _get_passphrase(self) -> str:
        value: str | None
        if callable(self._passphrase):
            value = self._passphrase()
        else:
            value = self._passphrase
        if not value:
            value = os.environ.get(PASSPHRASE_ENV) or None
        if not value:
            raise VaultError(
                f"vault {self.path} is locked: set {PASSPHRASE_ENV} or run interactively to enter the passphrase"
            )
        return value

    def _derive(self, salt: bytes, n: int) -> bytes:
        return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(self._get_passphrase().encode("utf-8"))

    def _new_header(self) -> dict[str, Any]:
        use_keyring = (
            self.key_source == "keyring"
            and keyring_available()
            and not self._passphrase
            and not os.environ.get(PASSPHRASE_ENV)
        )
        if use_keyring:
            import keyring  # type: ignore[import-not-found,unused-ignore]

            key = AESGCM.generate_key(bit_length=256)
            keyring.set_password(KEYRING_SERVICE, str(self.path), _b64(key))
            header: dict[str, Any] = {"kdf": "keyring"}
        else:
            salt = os.urandom(16)
            key = Scrypt(salt=salt, length=32, n=self.scrypt_n, r=8, p=1).derive(self._get_passphrase().encode("utf-8"))
            header = {"kdf": "scrypt", "salt": _b64(salt), "n": self.scrypt_n, "r": 8, "p": 1}
        nonce = os.urandom(12)
        header["check"] = {"nonce": _b64(nonce), "ct": _b64(AESGCM(key).encrypt(nonce, _CHECK_PLAINTEXT, _CHECK_AAD))}
        self._key = key
        return {"format": _FORMAT, **header, "entries": {}}

    def _unlock(self, data: dict[str, Any]) -> bytes:
        if self._key is not None:
            return self._key
        kdf = data.get("kdf")
        try:
            if kdf == "keyring":
                if not keyring_available():
                    raise VaultError(f"vault {self.path} keeps its key in the OS keyring, but 'keyring' is not installed")
                import keyring  # type: ignore[import-not-found,unused-ignore]

                stored = keyring.get_password(KEYRING_SERVICE, str(self.path))
                if not stored:
                    raise VaultError(f"vault {self.path}: no key in the OS keyring for this vault")
                key = _unb64(stored)
            elif kdf == "scrypt":
                key = self._derive(_unb64(data["salt"]), int(data["n"]))
            else:
                raise VaultError(f"vault {self.path} has an unknown key derivation {kdf!r}")
            check = data["check"]
            AESGCM(key).decrypt(_unb64(check["nonce"]), _unb64(check["ct"]), _CHECK_AAD)
        except InvalidTag:
            raise VaultError(f"wrong passphrase for vault {self.path} (or the vault file was tampered with)") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultError(f"vault {self.path} is corrupt: {type(exc).__name__}") from None
        self._key = key
        return key

    # --- operations ------------------------------------------------------------------------

    def refs(self) -> list[str]:
        """Stored refs (no key needed)."""
        if not self.exists():
            return []
        return sorted(self._read()["entries"])

    def set_at(self, ref: str) -> float | None:
        """When ``ref`` was last set (epoch seconds), without decrypting anything."""
        if not self.exists():
            return None
        entry = self._read()["entries"].get(ref)
        return float(entry["set_at"]) if isinstance(entry, dict) and "set_at" in entry else None

    def get(self, ref: str) -> str | None:
        if not self.exists():
            return None
        data = self._read()
        entry = data["entries"].get(ref)
        if entry is None:
            return None
        key = self._unlock(data)
        try:
            plaintext = AESGCM(key).decrypt(_unb64(entry["nonce"]), _unb64(entry["ct"]), ref.encode("utf-8"))
        except InvalidTag:
            raise VaultError(f"vault {self.path}: entry {ref!r} does not decrypt (tampered or moved)") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultError(f"vault {self.path}: entry {ref!r} is corrupt: {type(exc).__name__}") from None
        return plaintext.decode("utf-8")

    def set(self, ref: str, value: str, *, now: float | None = None) -> None:
        if not ref or not value:
            raise VaultError("both a ref and a non-empty value are required")
        with self._locked():
            data = self._read() if self.exists() else self._new_header()
            key = self._unlock(data)
            nonce = os.urandom(12)
            data["entries"][ref] = {
                "nonce": _b64(nonce),
                "ct": _b64(AESGCM(key).encrypt(nonce, value.encode("utf-8"), ref.encode("utf-8"))),
                "set_at": time.time() if now is None else now,
            }
            self._write(data)

    def remove(self, ref: str) -> bool:
        if not self.exists():
            return False
        with self._locked():
            data = self._read()
            self._unlock(data)  # only the key holder may remove entries
            if ref not in data["entries"]:
                return False
            del data["entries"][ref]
            self._write(data)
            return True


class VaultResolver:
    """``ethos_secret_resolvers`` entry for the vault; decrypts on first use and caches."""

    name = "vault"

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._cache: dict[str, str | None] = {}

    def resolve(self, ref: str) -> str | None:
        if ref not in self._cache:
            self._cache[ref] = self.vault.get(ref)
        return self._cache[ref]

    def set_at(self, ref: str) -> float | None:
        return self.vault.set_at(ref)

    def refs(self) -> list[str]:
        return self.vault.refs()


def vault_path(home_root: Path, configured: str | None) -> Path:
    """Where the vault file lives: ``secrets.vault.path`` or ``$ETHOS_HOME/secrets/``."""
    base = Path(configured).expanduser() if configured else home_root / "secrets"
    return base if base.suffix == ".json" else base / VAULT_FILE
