"""Stage ⑨ filesystem boundary. Floor until ScopedStorage lands: every path is denied."""

from __future__ import annotations

from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, PathAccess


class FsBoundaryFloor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_fs_boundary(self, access: PathAccess, ctx: Context) -> Decision:
        return Decision.deny(Stage.FS_BOUNDARY, "fs.engine_pending", "filesystem engine not available")


def make_plugin(runtime: Runtime) -> object:
    return FsBoundaryFloor(runtime)
