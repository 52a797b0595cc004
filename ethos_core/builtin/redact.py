"""Stage ⑬ credential redaction. Floor until the redaction engine lands: known secret values."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Context, RedactionSpan


class RedactFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_redact(self, text: str, ctx: Context) -> list[RedactionSpan]:
        spans = []
        for ref, value in self.runtime.secret_values.items():
            if len(value) < 6:
                continue
            start = text.find(value)
            while start != -1:
                spans.append(RedactionSpan(start, start + len(value), f"secret:{ref}"))
                start = text.find(value, start + len(value))
        return spans


def make_plugin(runtime: Runtime) -> object:
    return RedactFloor(runtime)
