"""The built-in global engine: one module per stage, registered first and never removable.

Each module exposes ``make_plugin(runtime) -> object`` returning an object whose ``ethos_*``
method implements that stage's floor. :data:`BUILTIN_MODULES` lists them in pipeline order.
"""

from __future__ import annotations

from ethos_core.stages import STAGE_ORDER

BUILTIN_MODULES: tuple[str, ...] = tuple(f"ethos_core.builtin.{stage.value}" for stage in STAGE_ORDER)
