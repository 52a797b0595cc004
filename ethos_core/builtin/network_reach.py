"""Stage ⑩ network reach: the built-in floor delegates to :func:`ethos_core.network.judge.judge_url`.

Invariant: every URL is judged against the scheme allowlist, the SSRF/metadata floor on the
literal host and on every resolved address, and the personality's ``safety.networkReach``
(with the calling tool's declared hosts intersected when the tool declares any). DNS comes from
``access.resolve`` when given (``ethos check url --resolve``; a host missing from it fails, DNS
is never consulted), else ``runtime.service("dns_resolver")``, else the system resolver.
Anything that raises here is a DENY (the pipeline fails closed).

Not covered: following redirects and pinning the connection (the safe fetch does both and
calls this stage again for every hop).
"""

from __future__ import annotations

from typing import Any

from ethos_core.markers import hookimpl
from ethos_core.network.judge import judge_url
from ethos_core.network.resolver import Resolver, StaticResolver, SystemResolver
from ethos_core.runtime import Runtime
from ethos_core.types import Context, Decision, UrlAccess


class NetworkReachFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _resolver(self, access: UrlAccess) -> Resolver:
        if access.resolve is not None:
            return StaticResolver(access.resolve)
        attached = self.runtime.service("dns_resolver")
        return attached if attached is not None else SystemResolver()

    def _tool_hosts(self, access: UrlAccess) -> tuple[str, ...] | None:
        if not access.tool:
            return None
        registry: Any = self.runtime.service("tool_registry")
        tool = registry.get(access.tool) if registry is not None else None
        if tool is None:
            return None
        return tuple(tool.spec.hosts)

    @hookimpl
    def ethos_network_reach(self, access: UrlAccess, ctx: Context) -> Decision:
        safety = ctx.personality.safety
        decision, _target = judge_url(
            access.url,
            reach=safety.network_reach,
            reach_declared=safety.network_declared,
            resolver=self._resolver(access),
            allow_cidrs=self.runtime.config.network.allow_cidrs,
            method=access.method,
            tool_hosts=self._tool_hosts(access),
            tool=access.tool,
        )
        return decision


def make_plugin(runtime: Runtime) -> object:
    return NetworkReachFloor(runtime)
