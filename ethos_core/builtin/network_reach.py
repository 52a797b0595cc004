"""Stage ⑩ network reach. Floor until the network engine lands: every URL is denied."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, UrlAccess


class NetworkReachFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_network_reach(self, access: UrlAccess, ctx: Context) -> Decision:
        return Decision.deny(Stage.NETWORK_REACH, "network.engine_pending", "network engine not available")


def make_plugin(runtime: Runtime) -> object:
    return NetworkReachFloor(runtime)
