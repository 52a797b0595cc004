"""Prompt-injection defenses: prelude, provenance markers, sanitising, tier-1/tier-2
classification, the post-read tool downgrade and outbound link scrubbing.

What the engine/Session calls (see docs/injection.md):
- ``new_nonce()`` once per session; ``system_prompt(personality_prompt, nonce)`` for the model.
- ``pipeline.provenance(Content(...))`` / ``pipeline.wrap_untrusted(result)`` for a verdict, then
  ``prepare_for_model(text, source, verdict, nonce)`` for everything entering the context.
- ``DowngradeState`` per session: ``note_untrusted(turn)`` when a verdict is untrusted,
  ``check(name, capabilities, turn)`` before each tool call.
- ``scrub_outbound(text, reach)`` on every message the agent sends to a channel.
"""

from ethos_core.injection.classifier import Tier1Match, Tier1Result, classify
from ethos_core.injection.downgrade import DOWNGRADE_RULE, DowngradeState
from ethos_core.injection.engine import Prepared, judge, prepare, prepare_for_model
from ethos_core.injection.markers import new_nonce, wrap
from ethos_core.injection.outbound import OUTBOUND_RULE, scrub_outbound
from ethos_core.injection.prelude import PRELUDE, system_prompt
from ethos_core.injection.sanitize import sanitize
from ethos_core.injection.tier2 import Tier2Classifier, Tier2Result

__all__ = [
    "DOWNGRADE_RULE",
    "OUTBOUND_RULE",
    "PRELUDE",
    "DowngradeState",
    "Prepared",
    "Tier1Match",
    "Tier1Result",
    "Tier2Classifier",
    "Tier2Result",
    "classify",
    "judge",
    "new_nonce",
    "prepare",
    "prepare_for_model",
    "sanitize",
    "scrub_outbound",
    "system_prompt",
    "wrap",
]
