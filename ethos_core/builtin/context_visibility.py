"""Stage ③ context visibility: the configured mode (default ``allowlist``) for quoted,
forwarded and history text; plugins can only pick a stricter mode.
"""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import ChannelPolicy, Context, ContextVisibility, InboundMessage


class ContextVisibilityFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_context_visibility(
        self, message: InboundMessage, policy: ChannelPolicy, ctx: Context
    ) -> ContextVisibility:
        return policy.context_visibility


def make_plugin(runtime: Runtime) -> object:
    return ContextVisibilityFloor(runtime)
