"""Built-in ``ethos_secret_resolvers`` for the vault and AWS Secrets Manager.

Invariant: the vault resolver is offered when ``secrets.vault`` is configured or a vault file
exists in the home; the AWS resolver when ``secrets.aws`` is configured (it raises a clear
:class:`~ethos_core.errors.SecretResolutionError` at first use when boto3 is missing). Neither
touches the network or the key at registration; both resolve lazily and cache.
"""

from __future__ import annotations

from collections.abc import Callable

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.secrets.aws import AwsSecretsResolver
from ethos_core.secrets.vault import Vault, VaultResolver, vault_path


def vault_for(runtime: Runtime, passphrase: str | Callable[[], str] | None = None) -> Vault:
    """The vault of this home (``secrets.vault.path`` or ``$ETHOS_HOME/secrets/vault.json``)."""
    cfg = runtime.config.secrets.vault
    path = vault_path(runtime.home.root, cfg.path if cfg else None)
    return Vault(path, passphrase=passphrase, key_source=cfg.key_source if cfg else "keyring")


class ProviderResolvers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_secret_resolvers(self) -> list[object]:
        cfg = self.runtime.config.secrets
        resolvers: list[object] = []
        vault = vault_for(self.runtime)
        if cfg.vault is not None or vault.exists():
            resolvers.append(VaultResolver(vault))
        if cfg.aws is not None:
            resolvers.append(AwsSecretsResolver(cfg.aws.secret_id, cfg.aws.region, cfg.aws.endpoint_url))
        return resolvers


def make_plugin(runtime: Runtime) -> object:
    return ProviderResolvers(runtime)
