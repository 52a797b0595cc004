"""Stage ③ context visibility: the configured mode (default ``allowlist``) for quoted,
forwarded and history text; plugins can only pick a stricter mode.

Invariant: the built-in returns the policy's mode, and an unknown/missing mode is ``allowlist``.
The channel engine applies the reduced mode with
:func:`ethos_core.channel.visibility.apply_context_visibility` (three distinct behaviours
documented there). Not covered: injection inside allowlisted senders' own text (stage ④).
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
        mode = policy.context_visibility
        return mode if isinstance(mode, ContextVisibility) else ContextVisibility.ALLOWLIST


def make_plugin(runtime: Runtime) -> object:
    return ContextVisibilityFloor(runtime)
