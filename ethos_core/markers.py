"""Hook markers for the ``ethos`` project name.

``hookspec`` is for ethos itself; plugin authors import ``hookimpl`` (re-exported as
``ethos_core.hookimpl``) and decorate functions named after the hooks in :mod:`ethos_core.hookspecs`.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "ethos"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
