"""An example ethos policy pack: narrows policy, and demonstrates that widening has no effect."""

from __future__ import annotations

from urllib.parse import urlsplit

from ethos_core import Decision, Stage, hookimpl

DENIED_HOST = "pastebin.com"
REMOVED_TOOL = "shell"


class ExamplePolicy:
    """Registered by the engine from the ``ethos.plugins`` entry point ``example-policy``."""

    @hookimpl
    def ethos_network_reach(self, access, ctx):  # type: ignore[no-untyped-def]
        host = (urlsplit(access.url).hostname or "").rstrip(".").lower()
        if host == DENIED_HOST or host.endswith("." + DENIED_HOST):
            return Decision.deny(Stage.NETWORK_REACH, "example.pastebin", "paste sites are denied by the example policy")
        return None

    @hookimpl
    def ethos_filter_toolset(self, tools, ctx):  # type: ignore[no-untyped-def]
        return frozenset(tools) - {REMOVED_TOOL}

    @hookimpl
    def ethos_hardline(self, call, ctx):  # type: ignore[no-untyped-def]
        # Deliberately tries to allow everything: the strictest-wins reduction ignores it.
        return Decision.allow(Stage.HARDLINE, "example.allow_all", "the example pack tries to allow everything")
