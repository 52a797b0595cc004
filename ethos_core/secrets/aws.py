"""AWS Secrets Manager resolver (extra ``aws``: boto3), config ``secrets.aws``.

Invariant: the secret ``secretId`` is fetched once (``GetSecretValue``) and cached for the
process lifetime; its ``SecretString`` must be a JSON object of ``{ref: value}`` (a plain
string is served under the ref equal to the secret's name). Errors become
:class:`SecretResolutionError` naming the secret id and the AWS error code, never a value.

Not covered: rotation while the process runs (restart to pick up a rotated value; see
docs/rotation.md), binary secrets (``SecretBinary``), more than one secret id.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ethos_core.errors import SecretResolutionError


class AwsSecretsResolver:
    name = "aws"

    def __init__(
        self,
        secret_id: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.secret_id = secret_id
        self.region = region
        self.endpoint_url = endpoint_url
        self._client = client
        self._values: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _make_client(self) -> Any:
        try:
            import boto3  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise SecretResolutionError(
                "secrets.aws is configured but boto3 is not installed; install the extra: pip install 'ethos-core[aws]'"
            ) from None
        kwargs: dict[str, Any] = {}
        if self.region:
            kwargs["region_name"] = self.region
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return boto3.client("secretsmanager", **kwargs)

    def load(self) -> dict[str, str]:
        """Fetch and cache the secret (first call only)."""
        with self._lock:
            if self._values is not None:
                return self._values
            client = self._client or self._make_client()
            try:
                response = client.get_secret_value(SecretId=self.secret_id)
            except Exception as exc:  # noqa: BLE001 - botocore raises many types; name the code only
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
                raise SecretResolutionError(
                    f"AWS Secrets Manager: cannot read {self.secret_id!r}: {code or type(exc).__name__}"
                ) from None
            raw = response.get("SecretString")
            if raw is None:
                raise SecretResolutionError(f"AWS Secrets Manager: {self.secret_id!r} has no SecretString")
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if isinstance(data, dict):
                values = {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int))}
            else:
                name = self.secret_id.rsplit(":", 1)[-1] if self.secret_id.startswith("arn:") else self.secret_id
                values = {name: str(raw)}
            self._values = values
            return values

    def resolve(self, ref: str) -> str | None:
        return self.load().get(ref)

    def refs(self) -> list[str]:
        return sorted(self.load())
