"""Behaviour of the redaction engine (stage ⑬): formats, JSON, known values, logs, pipeline."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from ethos_core.redaction import (
    LABELS,
    count_labels,
    find_spans,
    find_spans_many,
    is_secret_key,
    redact_json,
    redact_json_with_counts,
    redact_many,
    redact_text,
    redact_with_counts,
)
from ethos_core.redaction.logging import RedactingFilter, redact_exception, redact_message

CORPUS = Path(__file__).resolve().parent.parent / "data" / "secrets_corpus" / "corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
POSITIVES = [r for r in ROWS if r["label"]]
NEGATIVES = [r for r in ROWS if not r["label"]]
KNOWN = {"github": "Zq8vX3pL0mN4bR7tY2wK9sD1fG6hJ5", "tg": "r7Fp2Lq9Xw4Zc8Vb"}


def _leaks(secret: str, out: str) -> bool:
    return secret in out or any(len(part) >= 8 and part in out for part in secret.split("\n"))


@pytest.mark.parametrize("row", POSITIVES, ids=[f"{i}-{r['label']}" for i, r in enumerate(POSITIVES)])
def test_each_format_is_redacted_with_its_label(row: dict[str, Any]) -> None:
    out = redact_text(row["text"])
    for secret in row["secrets"]:
        assert not _leaks(secret, out), out
    assert row["label"] in {s.label for s in find_spans(row["text"])}
    assert row["label"] in LABELS


@pytest.mark.parametrize("row", NEGATIVES, ids=[f"neg{i}" for i in range(len(NEGATIVES))])
def test_negatives_survive_unchanged(row: dict[str, Any]) -> None:
    assert redact_text(row["text"]) == row["text"]


def test_whole_corpus_is_idempotent() -> None:
    for row in ROWS:
        once = redact_text(row["text"], KNOWN)
        assert redact_text(once, KNOWN) == once


def test_text_around_a_secret_is_untouched() -> None:
    token = "ghp_" + "a1B2" * 9
    text = f"before «{token}» after\n\tnext line"
    assert redact_text(text) == "before «[REDACTED:github]» after\n\tnext line"


@pytest.mark.parametrize(
    "wrap",
    ['"{}"', "'{}'", "`{}`", "```\n{}\n```", "<token>{}</token>", "**{}**", "({})", "[{}]", '{{"k": "{}"}}', "{},", "{}."],
)
def test_surroundings(wrap: str) -> None:
    token = "sk-ant-api03-" + "Ab3_" * 24 + "AA"
    text = "x " + wrap.format(token) + " y"
    out = redact_text(text)
    assert token not in out and "[REDACTED:anthropic]" in out
    assert out.startswith("x ") and out.endswith(" y")


@pytest.mark.parametrize(
    "text",
    [
        "sk-learn",
        "sk-1234",
        "the skeleton key",
        "task-ant",
        "sk-some-long-hyphenated-words-here",
        "git 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "123e4567-e89b-12d3-a456-426614174000",
        "glpat-not-a-real-token-just-words",
    ],
)
def test_short_and_lookalike_words_survive(text: str) -> None:
    assert find_spans(text) == []


def test_empty_and_marker_only_text() -> None:
    assert find_spans("") == []
    assert redact_text("[REDACTED:github]") == "[REDACTED:github]"


def test_counts_for_audit() -> None:
    text = "a ghp_" + "a1B2" * 9 + " b ghs_" + "c3D4" * 9 + " AKIAIOSFODNN7EXAMPL3"
    redacted, counts = redact_with_counts(text)
    assert counts == {"github": 2, "aws_access_key_id": 1}
    assert count_labels(find_spans(text)) == counts
    assert "ghp_" not in redacted


# --- JSON -----------------------------------------------------------------------------------


def test_redact_json_keeps_keys_and_stays_valid() -> None:
    doc = {
        "password": "hunter22",
        "githubToken": "anything-at-all",
        "X-Api-Key": 12345678,
        "token_count": 1532,
        "enabled": True,
        "nested": {"client_secret": "abc", "note": "key is ghp_" + "a1B2" * 9, "list": ["AKIAIOSFODNN7EXAMPL3", 1, None]},
        "placeholder": {"api_key": "${secrets:openai}", "auth_token": "{{secret:github}}"},
    }
    out = redact_json(doc)
    json.loads(json.dumps(out))
    assert set(out) == set(doc)
    assert out["password"] == "[REDACTED:secret_field]"
    assert out["githubToken"] == "[REDACTED:secret_field]"
    assert out["X-Api-Key"] == "[REDACTED:secret_field]"
    assert out["token_count"] == 1532
    assert out["enabled"] is True
    assert out["nested"]["client_secret"] == "[REDACTED:secret_field]"
    assert out["nested"]["note"] == "key is [REDACTED:github]"
    assert out["nested"]["list"] == ["[REDACTED:aws_access_key_id]", 1, None]
    assert out["placeholder"] == doc["placeholder"]
    assert redact_json(out) == out


def test_redact_json_counts_and_pattern_label_under_secret_key() -> None:
    out, counts = redact_json_with_counts({"api_key": "sk-ant-api03-" + "Ab3_" * 24 + "AA", "pwd": "x"})
    assert out["api_key"] == "[REDACTED:anthropic]"
    assert out["pwd"] == "[REDACTED:secret_field]"
    assert counts == {"anthropic": 1, "secret_field": 1}


@pytest.mark.parametrize("key", ["password", "DB_PASSWORD", "apiKey", "api-key", "accessToken", "client_secret", "Authorization", "set-cookie"])
def test_secret_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["token_count", "max_tokens", "passwordHint", "name", "keyboard", "secretary_name"])
def test_non_secret_key_names(key: str) -> None:
    assert not is_secret_key(key)


# --- known values ---------------------------------------------------------------------------


def _forms(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": value,
        "upper": value.upper(),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "url": urllib.parse.quote(value, safe=""),
        "hex": binascii.hexlify(raw).decode(),
        "HEX": binascii.hexlify(raw).decode().upper(),
        "json": json.dumps(value)[1:-1],
    }


@pytest.mark.parametrize("form", list(_forms("x").keys()))
def test_known_value_in_every_form(form: str) -> None:
    value = "p@ss/Wo+rd?with\"odd=chars&1"
    encoded = _forms(value)[form]
    out = redact_text(f"log: {encoded} end", {"db": value})
    assert encoded not in out
    assert "[REDACTED:secret:db]" in out
    assert out.startswith("log: ") and out.endswith(" end")


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_known_value_inside_larger_base64_blob(offset: int) -> None:
    value = "Zq8vX3pL0mN4bR7tY2wK"
    blob = base64.b64encode(b"P" * offset + b"prefix:" + value.encode() + b":suffix").decode()
    out = redact_text(f"data={blob}", {"k": value})
    assert "[REDACTED:secret:k]" in out


def test_every_resolved_secret_is_redacted() -> None:
    values = {f"ref{i}": f"V{i}-Zq8vX3pL0mN4bR{i}" for i in range(10)}
    text = " | ".join(values.values())
    out = redact_text(text, values)
    for ref, value in values.items():
        assert value not in out
        assert f"[REDACTED:secret:{ref}]" in out


def test_short_known_values_are_skipped() -> None:
    assert redact_text("the pin is 1234567 and abc", {"pin": "1234567"}) == "the pin is 1234567 and abc"


def test_known_value_split_across_lines_and_fields() -> None:
    value = KNOWN["github"]
    split_lines = f"first {value[:14]}\n{value[14:]} rest"
    out = redact_text(split_lines, KNOWN)
    assert value[:14] not in out and value[14:] not in out
    fields = json.dumps({"a": value[:15], "b": value[15:]})
    out = redact_text(fields, KNOWN)
    assert value[:15] not in out and value[15:] not in out


# --- logs and errors ------------------------------------------------------------------------


_ERROR_MESSAGE = "connect failed for postgres://app:" + "Sup3rS3cretPw" + "@db:5432/x with " + "ghp_" + "a1B2" * 9


def _secret_error() -> ValueError:
    try:
        raise ValueError(_ERROR_MESSAGE)
    except ValueError as exc:
        return exc


def test_exception_text_and_traceback_are_redacted() -> None:
    exc = _secret_error()
    full = redact_exception(exc, KNOWN)
    assert "Sup3rS3cretPw" not in full and "ghp_" not in full and "Traceback" in full
    assert "Sup3rS3cretPw" not in redact_message(exc)


def test_logging_filter_redacts_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ethos.test.redaction")
    flt = RedactingFilter(lambda: KNOWN)
    caplog.handler.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO, logger="ethos.test.redaction"):
            logger.info("token %s and %s", "ghp_" + "a1B2" * 9, KNOWN["tg"])
            try:
                raise RuntimeError("boom " + KNOWN["github"])
            except RuntimeError:
                logger.exception("failed with Authorization: Bearer %s", "abcDEF1234567890ghiJKL")
    finally:
        caplog.handler.removeFilter(flt)
    text = caplog.text
    assert "ghp_" not in text and KNOWN["tg"] not in text and KNOWN["github"] not in text
    assert "abcDEF1234567890ghiJKL" not in text
    assert "[REDACTED:github]" in text and "RuntimeError" in text


# --- batches and the pipeline -------------------------------------------------------------


def test_many_equals_one_by_one() -> None:
    texts = [r["text"] for r in ROWS[:40]] + ["", "password:", "x"]
    assert redact_many(texts, KNOWN) == [redact_text(t, KNOWN) for t in texts]
    assert len(find_spans_many(texts)) == len(texts)


def test_builtin_stage_uses_runtime_secret_values(tmp_path: Path) -> None:
    from ethos_core.manager import build_plugin_manager
    from ethos_core.pipeline import Pipeline
    from ethos_core.runtime import HomePaths, Runtime
    from ethos_core.types import Context, Personality

    runtime = Runtime(home=HomePaths(tmp_path), secret_values=dict(KNOWN))
    pipeline = Pipeline(build_plugin_manager(runtime, autoload=False))
    ctx = Context(Personality("p", str(tmp_path)))
    text = f"value {KNOWN['github']} and AKIAIOSFODNN7EXAMPL3 and {base64.b64encode(KNOWN['tg'].encode()).decode()}"
    out = pipeline.redact(text, ctx)
    assert out == "value [REDACTED:secret:github] and [REDACTED:aws_access_key_id] and [REDACTED:secret:tg]"
