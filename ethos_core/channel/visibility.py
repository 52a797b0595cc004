"""Stage ③ engine: what quoted, forwarded, replied-to and history text the agent may see.

Three distinct behaviours for content whose author is *not* allowlisted (owner, allowedSenders
or paired); content with no attributable author (``author is None``, hidden forward origins)
always counts as not allowlisted:
- ``allowlist``: the text is removed and replaced by a visible placeholder naming its kind;
- ``allowlist_quote``: the text stays, wrapped as untrusted with its author;
- ``all``: the text stays, still wrapped as untrusted with its author.
(``allowlist_quote`` and ``all`` differ for thread history: under ``allowlist_quote`` only what
the admitted sender deliberately brought in — quotes, replied-to and forwarded messages — stays;
ambient history from non-allowlisted authors is removed as under ``allowlist``.)
Allowlisted authors' content passes unchanged in every mode. Marker brackets inside the text or
the author are neutralised so content cannot close its own wrapper. Provenance (④) wraps the
result again; this module does not scan for injection.
"""

from __future__ import annotations

import attrs

from ethos_core.types import ChannelPolicy, ContextVisibility, InboundMessage, QuotedText

OPEN, CLOSE = "\u27ea", "\u27eb"  # ⟪ ⟫
QUOTE_KINDS = frozenset({"quote", "reply", "forward"})


def _neutral(text: str) -> str:
    return text.replace(OPEN, "(").replace(CLOSE, ")")


def placeholder(kind: str) -> str:
    return f"{OPEN}{_neutral(kind)} from a sender who is not allowlisted was removed{CLOSE}"


def wrap_untrusted(item: QuotedText) -> str:
    author = _neutral(item.author) if item.author else "unknown"
    return f"{OPEN}untrusted {_neutral(item.kind)} from {author}{CLOSE}{_neutral(item.text)}{OPEN}/untrusted{CLOSE}"


def _filter(item: QuotedText, mode: ContextVisibility, allowed: set[str] | frozenset[str]) -> QuotedText:
    if item.author is not None and item.author in allowed:
        return item
    if mode is ContextVisibility.ALLOWLIST or (mode is ContextVisibility.ALLOWLIST_QUOTE and item.kind not in QUOTE_KINDS):
        return QuotedText(placeholder(item.kind), item.author, item.kind)
    return QuotedText(wrap_untrusted(item), item.author, item.kind)


def allowed_authors(policy: ChannelPolicy, paired: set[str] | frozenset[str] = frozenset()) -> set[str]:
    allowed = set(policy.allowed_senders) | set(paired)
    if policy.owner is not None:
        allowed.add(str(policy.owner))
    return allowed


def apply_context_visibility(
    message: InboundMessage,
    mode: ContextVisibility,
    policy: ChannelPolicy,
    allowed: set[str] | frozenset[str] | None = None,
) -> InboundMessage:
    """The message with every ``quoted`` entry filtered per ``mode`` (see module docstring).

    ``allowed`` is the set of allowlisted author ids; ``None`` means owner + ``allowedSenders``
    (paired senders then count as not allowlisted, which is stricter).
    """
    if allowed is None:
        allowed = allowed_authors(policy)
    if not isinstance(mode, ContextVisibility):
        mode = ContextVisibility.ALLOWLIST
    quoted = tuple(_filter(item, mode, allowed) for item in message.quoted)
    return attrs.evolve(message, quoted=quoted)
