"""Redaction before disk: planted secrets never reach the database bytes, WAL included."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from ethos_core.audit import AuditStore
from ethos_core.types import AuditEvent
from tests.audit.helpers import SECRETS

ANT, AWS, PASSWORD, SLACK = SECRETS


def _raw_bytes(path: Path) -> bytes:
    blob = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = Path(str(path) + suffix)
        if f.exists():
            blob += f.read_bytes()
    return blob


def _traceback_with(secret: str) -> str:
    try:
        raise ConnectionError(f"auth failed for token={secret}")
    except ConnectionError:
        return traceback.format_exc()


def _assert_clean(blob: bytes) -> None:
    for secret in SECRETS:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in blob, f"{secret} found on disk ({encoding})"


def test_secrets_in_every_field_never_reach_disk(make_store: Callable[..., AuditStore]) -> None:
    store = make_store()
    store.register_policy("eng", {"safety": {"networkReach": [{"host": f"{AWS}.example.com"}]}, "note": PASSWORD})
    store.write(
        AuditEvent(
            category="audit.block",
            code=f"deny {ANT}",
            severity=f"warning {SLACK}",
            personality="eng",
            session=f"session-{PASSWORD}",
            turn=1,
            stage=f"network_reach {AWS}",
            rule=f"ssrf.metadata {ANT}",
            verdict=f"deny {SLACK}",
            source=f"plugin {PASSWORD}",
            data={
                "url": f"https://user:{PASSWORD}@example.com/path?api_key={ANT}&x=1",
                "headers": {"X-Custom": f"Bearer {SLACK}"},
                ANT: "secret as a dict key",
                "nested": [{"deep": [[{"deeper": AWS}]]}, (PASSWORD, SLACK)],
                "traceback": _traceback_with(ANT),
                "error": f"OSError: cannot open /home/u/.aws/credentials containing {AWS}",
                "bytes": f"raw {SLACK}".encode(),
                "set": frozenset({PASSWORD}),
                "number_key": {7: ANT},
            },
        )
    )
    store.flush()
    # Checked while the WAL still holds the pages (no checkpoint yet) …
    assert Path(str(store.path) + "-wal").stat().st_size > 0
    _assert_clean(_raw_bytes(store.path))
    store.close()
    # … and after close (checkpointed into the main file).
    _assert_clean(_raw_bytes(store.path))


def test_secret_naming_keys_mask_values_the_redactor_does_not_know(make_store: Callable[..., AuditStore]) -> None:
    unknown = "zq-unknown-value-8d7f6e5c"
    store = make_store()
    store.write(
        AuditEvent(
            "audit.tool_call",
            data={
                "args": {"password": unknown, "api_key": unknown, "Authorization": unknown, "github_token": unknown},
                "headers": {"X-Api-Key": unknown, "Cookie": unknown},
                "aws_secret_access_key": unknown,
                "credentials": {"user": "bob", "pass": unknown},
                "max_tokens": 512,
            },
        )
    )
    store.close()
    blob = _raw_bytes(store.path)
    assert unknown.encode() not in blob
    assert b"[REDACTED:secret_key]" in blob
    assert b'"max_tokens":512' in blob  # counters are not secrets


def test_sink_copy_is_redacted_too(tmp_path: Path, make_store: Callable[..., AuditStore]) -> None:
    from ethos_core.audit import JsonlSink

    out = tmp_path / "ship.jsonl"
    store = make_store(sinks=[JsonlSink(out)])
    store.write(AuditEvent("audit.redacted", data={"leak": ANT}, rule=AWS))
    store.close()
    text = out.read_text()
    assert ANT not in text and AWS not in text and "[REDACTED:secret]" in text
