"""Stage ⑨ filesystem boundary: fs_reach plus the always-deny floor, lexical and resolved.

Invariant: every path argument is judged by :meth:`ethos_core.fs.paths.FsPolicy.judge` with
the personality's ``fs_reach`` (none declared = its ``data`` directory only), the user's home
and ETHOS_HOME; any failure inside the engine denies. Opens themselves go through
:class:`ethos_core.fs.scoped.ScopedStorage`, which judges the object it actually reached.
"""

from __future__ import annotations

from ethos_core.fs.scoped import policy_for
from ethos_core.markers import hookimpl
from ethos_core.runtime import Runtime
from ethos_core.types import Context, Decision, PathAccess


class FsBoundary:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @hookimpl
    def ethos_fs_boundary(self, access: PathAccess, ctx: Context) -> Decision:
        return policy_for(self.runtime, ctx.personality).judge(access.path, access.op)


def make_plugin(runtime: Runtime) -> object:
    return FsBoundary(runtime)
