"""The Env and File secret resolvers (``${secrets:ref}``).

- Env: ``ref`` → environment variable ``<prefix><REF>`` (upper-cased, ``-``/``.`` → ``_``).
- File: a JSON object ``{ref: value}`` in a file *outside* ETHOS_HOME that is not readable or
  writable by group or others; anything else is refused with a reason (never the value).
Both are registered as the built-in ``ethos_secret_resolvers`` implementation.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ethos_core.errors import SecretResolutionError
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime


def env_var_name(ref: str, prefix: str = "") -> str:
    return prefix + ref.upper().replace("-", "_").replace(".", "_").replace("/", "_")


class EnvSecretsResolver:
    """Secrets injected as environment variables by the orchestrator."""

    name = "env"

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def resolve(self, ref: str) -> str | None:
        value = os.environ.get(env_var_name(ref, self.prefix))
        return value if value else None


class FileSecretsResolver:
    """A JSON file of ``{ref: value}`` outside ETHOS_HOME, mode 0600 or stricter."""

    name = "file"

    def __init__(self, path: str | Path, home: Path | None = None):
        self.path = Path(path).expanduser()
        self.home = home
        self._values: dict[str, str] | None = None

    def check(self) -> None:
        """Raise SecretResolutionError when the file is unsafe or unreadable."""
        path = self.path
        if self.home is not None:
            try:
                resolved = path.resolve()
                home = self.home.resolve()
            except OSError as exc:
                raise SecretResolutionError(f"secrets file {path}: {exc.strerror}") from None
            if resolved == home or home in resolved.parents:
                raise SecretResolutionError(
                    f"secrets file {path} is inside ETHOS_HOME; keep it outside (e.g. /etc/ethos/secrets.json)"
                )
        try:
            st = path.stat()
        except OSError as exc:
            raise SecretResolutionError(f"secrets file {path}: {exc.strerror}") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretResolutionError(
                f"secrets file {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )

    def _load(self) -> dict[str, str]:
        if self._values is None:
            self.check()
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SecretResolutionError(f"secrets file {self.path} is not a readable JSON object: {type(exc).__name__}") from None
            if not isinstance(data, dict):
                raise SecretResolutionError(f"secrets file {self.path} must hold a JSON object of ref → value")
            self._values = {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int))}
        return self._values

    def resolve(self, ref: str) -> str | None:
        return self._load().get(ref)


class BuiltinResolvers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_secret_resolvers(self) -> list[object]:
        cfg = self.runtime.config.secrets
        resolvers: list[object] = []
        if cfg.file is not None:
            resolvers.append(FileSecretsResolver(cfg.file.path, home=self.runtime.home.root))
        resolvers.append(EnvSecretsResolver(cfg.env.prefix if cfg.env else ""))
        return resolvers


def make_plugin(runtime: Runtime) -> object:
    return BuiltinResolvers(runtime)
