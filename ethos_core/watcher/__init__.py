"""The watcher (stages ⑤ and ⑪): an out-of-band observer that pauses or terminates a runaway
or hijacked turn. See :mod:`ethos_core.watcher.service` for the invariants and
:mod:`ethos_core.watcher.rules` for rule ids, actions and thresholds; docs/watcher.md for users.
"""

from __future__ import annotations

from ethos_core.watcher.rules import DEFAULTS, RULES, Thresholds, args_digest, effective_thresholds
from ethos_core.watcher.service import Finding, Watcher, session_key

__all__ = ["DEFAULTS", "RULES", "Finding", "Thresholds", "Watcher", "args_digest", "effective_thresholds", "session_key"]
