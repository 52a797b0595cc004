"""Shared values for the audit tests: planted secrets and a known-value redactor."""

from __future__ import annotations

import re

SECRETS = (
    "sk-ant-PLANTEDsecretVALUE0123456789abcdef",
    "AKIAPLANTED0SECRET01",
    "hunter2-correct-horse-battery",
    "xoxb-planted-slack-token-0001",
)
_PATTERN = re.compile("|".join(re.escape(s) for s in SECRETS))


def known_redactor(text: str) -> str:
    """Stage ⑬ stand-in: hides the planted values (known-value redaction)."""
    return _PATTERN.sub("[REDACTED:secret]", text)


_JOIN = "\n\x00\x1e\x00\n"


def known_redactor_many(texts: list[str]) -> list[str]:
    """The same redaction for a batch, the engine's way: one scan of the joined strings."""
    out = known_redactor(_JOIN.join(texts)).split(_JOIN)
    assert len(out) == len(texts)
    return out
