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
