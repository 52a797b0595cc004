"""The credential pattern set of stage ⑬: one :class:`Detector` per format, with a stable label.

Invariant: every pattern here runs in time linear in the input. Each one either starts with a
literal (so ``re`` jumps between occurrences with its literal-prefix search) or is only run in a
bounded window around a literal anchor; every repetition over a character class is either
bounded or possessive (``{n,}+``) and starts at the beginning of a run (a negative lookbehind on
the same class), so a run of key-like characters is scanned once per detector, however long.
``tests/adversarial/test_redact_bypass.py`` feeds 5 MB adversarial inputs to all of them.

Labels are part of the public contract (``[REDACTED:<label>]``, ``audit.redacted`` counts,
docs/redaction.md): never rename one.

Not covered: secrets with no recognisable shape and no keyword next to them (a bare random
password in prose) unless the process knows the value (known-value redaction, ``known.py``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import attrs

# Characters of url-safe / base62 tokens, used for boundaries (a token starts where a run starts).
_TOK = r"A-Za-z0-9_\-"
_B62 = r"A-Za-z0-9"


def _start(first: str, klass: str = _TOK) -> str:
    """``first`` literal then a lookbehind that it begins a run of ``klass`` (keeps the literal prefix fast)."""
    return f"{re.escape(first)}(?<![{klass}]{re.escape(first)})"


def _prefix(first: str) -> str:
    """``first`` literal anywhere, even inside a longer run: for prefixes distinctive enough that
    a run holding one is a credential glued to other text (``s-sk-ant-…``, ``tokengithub_pat_…``)."""
    return re.escape(first)


@attrs.frozen
class Detector:
    """One credential format.

    ``anchors``: literals of which every match contains one; the detector only runs when one
    occurs (a cheap prefilter; an empty tuple means always run). They are matched exactly
    against the text when the regex is case-sensitive, and are lower-case and matched against
    the ASCII-lower-cased text when it ignores case. ``requires``: characters of which every
    match contains one (``":="`` for ``key: value`` / ``key=value`` shapes); when the text has
    none of them the detector is skipped without searching for its anchors. ``group``: the regex
    group that is the secret (0 = the whole match). ``priority``: on overlap, the higher wins
    the label. ``check``: an extra test on the secret text (e.g. "looks random") to keep words out.
    ``lead``, ``gate``, ``requires`` and ``anchors`` are claims the engine's shortcuts rely on;
    tests/redaction/test_fast_paths.py checks them against a plain ``finditer`` reference.
    """

    label: str
    regex: re.Pattern[str]
    anchors: tuple[str, ...] = ()
    group: int | str = 0
    priority: int = 2
    check: Callable[[str], bool] | None = None
    # Extend the span leftwards over these characters (at most n): parts verified by a lookbehind.
    left: tuple[str, int] | None = None
    # Keyword-first, case-insensitive: matched only where an anchor occurs (``regex.match`` there).
    anchored: bool = False
    requires: str = ""
    # Case-sensitive detectors: every match starts exactly ``lead`` characters before an anchor
    # occurrence, so the regex is tried only there (``match``) instead of scanning the text.
    lead: int | None = None
    # ``(regex, lo, hi)``: every match holds a match of this literal-first regex (whose other
    # characters are all in a lookahead, so ``finditer`` reports every place it matches) starting
    # ``lo`` to ``hi`` characters after its own start; the detector's regex is tried only at those
    # starts, in order, as ``finditer`` would find them.
    gate: tuple[re.Pattern[str], int, int] | None = None
    # Keyword-first detectors, Hyperscan engine only: a fixed-width regex (ASCII, valid for both
    # ``re`` and Hyperscan) that occurs wherever a match starts, in the text as Hyperscan sees it
    # (one byte per character, every non-ASCII character a byte in \x7f-\xff: a class Python's
    # IGNORECASE could match with a non-ASCII character must hold \x7f-\xff). Replaces the
    # detector's single anchor in the Hyperscan database, so anchor occurrences where no match
    # can start (the "--" of "-----BEGIN") are neither reported nor tried.
    starts: str | None = None

    @property
    def ignorecase(self) -> bool:
        return bool(self.regex.flags & re.IGNORECASE)


def _mixed(value: str) -> bool:
    """At least two of lower/upper/digit: random tokens pass, hyphenated words do not."""
    # ``map`` over the characters: the same per-character tests as a generator, at C speed.
    classes = (
        any(map(str.islower, value)),
        any(map(str.isupper, value)),
        any(map(str.isdigit, value)),
    )
    return sum(classes) >= 2


def _has_digit(value: str) -> bool:
    return any(map(str.isdigit, value))


def _d(label: str, pattern: str, anchors: tuple[str, ...], **kw: object) -> Detector:
    ignorecase = bool(kw.pop("ignorecase", False))
    flags = re.IGNORECASE if ignorecase else 0
    kw.setdefault("anchored", ignorecase)
    if not ignorecase and len(anchors) == 1 and pattern.startswith(re.escape(anchors[0])):
        kw.setdefault("lead", 0)  # a literal-first pattern starts at its anchor
    return Detector(label, re.compile(pattern, flags), anchors, **kw)  # type: ignore[arg-type]


# Keywords whose assigned value is a secret (env, YAML, JSON, query strings, CLI flags).
SECRET_KEYWORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api_key",
    "api-key",
    "apikey",
    "access_key",
    "access-key",
    "accesskey",
    "private_key",
    "private-key",
    "privatekey",
    "auth_key",
    "authkey",
    "credential",
    "session_key",
    "session-key",
)
# Keys that name metadata about the secret (token_count, password_file, secret_name), not a secret.
METADATA_SUFFIXES = (
    "count|counts|limit|limits|size|length|len|type|types|ttl|expiry|expires|expires_in|expiration|"
    "url|uri|endpoint|file|path|name|names|id|ids|index|usage|budget|window|bucket|field|header|prefix|format|"
    "policy|hint|reset|rotation|store|manager|ref"
).split("|")


def _by_first_letter(words: list[str]) -> str:
    """``words`` as an alternation grouped by first letter (``c(?:ount|ounts)|l(?:imit|…)``).

    The same language as ``a|b|…`` in any order (it only sits in a lookahead followed by
    ``\\b``), but ``re`` under IGNORECASE tries one branch per letter instead of one per word:
    about 3x cheaper per keyword occurrence.
    """
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    return "|".join(f"{first}(?:{'|'.join(rest)})" for first, rest in groups.items())


_KW = (
    r"(?<![{$])(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|"
    r"credentials?|session[_-]?key)"
    # ...but not a key that names metadata about the secret
    r"(?![_.\-]?(?:" + _by_first_letter(METADATA_SUFFIXES) + r")\b)"
)
# A value that is a placeholder, a reference or an empty literal, not a secret.
_NOT_SECRET_VALUE = (
    r"(?!(?:null|none|nil|true|false|undefined|changeme|redacted|\*+|x{3,}|<[^>\s]{0,40}>)(?:[\"'\s,;&}\]]|$))"
    r"(?!\[REDACTED:)(?!\$\{)(?!\{\{)(?!%\()(?!\$[A-Za-z_(])"
)
# A forged marker in front of a value does not shield it (the engine cuts real markers out later).
_MARKERS = r"(?:\[REDACTED:[A-Za-z0-9_.:/\-]{1,96}\]){0,8}+"
_VALUE = r"(?P<v>" + _MARKERS + _NOT_SECRET_VALUE + r"[^\s\"'`,;&<>\\|(){}\[\]]{3,}+)"
_QVALUE = r"(?P<v>" + _NOT_SECRET_VALUE + r"[^\"'\\\n]{3,512}+)"

_DB_SCHEMES = (
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongodb",
    "mongodb+srv",
    "redis",
    "rediss",
    "amqp",
    "amqps",
    "mssql",
    "sqlserver",
    "oracle",
    "cockroachdb",
    "clickhouse",
    "couchdb",
    "neo4j",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql+asyncpg",
    "mysql+pymysql",
    "jdbc:postgresql",
    "jdbc:mysql",
)

DETECTORS: tuple[Detector, ...] = (
    # --- LLM providers ---------------------------------------------------------------------
    _d("anthropic", _prefix("sk-ant-") + r"[a-z]{2,8}\d{0,3}-[" + _TOK + r"]{20,}+", ("sk-ant-",), priority=3),
    _d("openrouter", _prefix("sk-or-") + r"v\d-[a-f0-9]{32,}+", ("sk-or-",), priority=3),
    _d(
        "openai",
        _start("sk-") + r"(?!ant-|or-)(?:(?:proj|svcacct|admin|None)-)?[" + _TOK + r"]{20,}+",
        ("sk-",),
        check=_mixed,
    ),
    _d("groq", _start("gsk_") + r"[" + _B62 + r"]{40,}+", ("gsk_",), priority=3),
    _d("huggingface", _start("hf_") + r"[" + _B62 + r"]{30,}+", ("hf_",), check=_mixed),
    _d("huggingface", _start("api_org_") + r"[" + _B62 + r"]{30,}+", ("api_org_",)),
    # --- cloud -------------------------------------------------------------------------------
    _d(
        "aws_access_key_id",
        r"A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|PKA|BIA|CCA)(?<![A-Z0-9]A...)[A-Z0-9]{16}(?![A-Z0-9])",
        ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA"),
        priority=3,
        lead=0,
    ),
    _d(
        "aws_secret_access_key",
        r"aws.{0,24}?(?:secret|sk|private).{0,24}?[\"'\s:=>]{1,6}(?P<v>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))",
        ("aws",),
        group="v",
        ignorecase=True,
        priority=3,
    ),
    _d("google_api_key", _start("AIza") + r"[" + _TOK + r"]{35}(?![" + _TOK + "])", ("AIza",), priority=3),
    _d(
        "gcp_service_account",
        r"\"private_key_id\"\s{0,5}:\s{0,5}\"(?P<v>[a-f0-9]{40})\"",
        ('"private_key_id"',),
        group="v",
        priority=3,
        lead=0,
    ),
    _d(
        "azure_connection_string",
        r"(?:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecretValue)\s{0,3}=\s{0,3}(?P<v>[^;\s\"'<>]{8,}+)",
        ("accountkey", "sharedaccesskey", "sharedaccesssignature", "sharedsecretvalue"),
        group="v",
        ignorecase=True,
        requires="=",
        priority=3,
    ),
    _d(
        "azure_storage_key",
        r"azure.{0,40}?(?:key|secret).{0,20}?[\"'\s:=>]{1,6}(?P<v>[A-Za-z0-9+/]{86}==)",
        ("azure",),
        group="v",
        ignorecase=True,
        requires="=",
        priority=3,
    ),
    _d(
        "azure_sas",
        r"[?&]sig=(?P<v>[A-Za-z0-9%+/=]{20,}+)",
        ("sig=",),
        group="v",
        priority=3,
        lead=1,
    ),
    # --- code hosting --------------------------------------------------------------------------
    _d("github", r"gh[pousr]_(?<![" + _TOK + r"]gh._)[" + _B62 + r"]{36,}+", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), priority=3, lead=0),
    _d("github", _prefix("github_pat_") + r"[" + _B62 + r"_]{22,}+", ("github_pat_",), priority=3),
    _d(
        "gitlab",
        r"gl(?<![" + _TOK + r"]gl)(?:pat|dt|rt|ptt|cbt|ft|imt|agent|oas|soat|ffct)-[" + _TOK + r"]{20,}+",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glimt-", "glagent-", "gloas-", "glsoat-", "glffct-"),
        check=_has_digit,
        priority=3,
        lead=0,
    ),
    _d("gitlab", _prefix("GR1348941") + r"[" + _TOK + r"]{20,}+", ("GR1348941",), priority=3),
    _d("npm", _start("npm_") + r"[" + _B62 + r"]{36,}+", ("npm_",), priority=3),
    _d("pypi", _start("pypi-") + r"[" + _TOK + r"]{50,}+", ("pypi-",), priority=3),
    # --- chat platforms -------------------------------------------------------------------------
    _d("slack_token", r"xox[abposre]-(?<![" + _TOK + r"]xox.-)[" + _B62 + r"\-]{10,}+", ("xox",), check=_has_digit, priority=3),
    _d("slack_token", _prefix("xapp-") + r"\d-[" + _B62 + r"\-]{20,}+", ("xapp-",), priority=3),
    _d(
        "slack_webhook",
        r"hooks\.slack\.com\\?/(?:services|workflows|triggers)\\?/[A-Za-z0-9_+\-]{6,}+(?:\\?/[A-Za-z0-9_+\-]{4,}+){1,3}",
        ("hooks.slack.com",),
        priority=3,
    ),
    _d(
        "telegram_bot_token",
        r":AA(?:(?<=(?<![0-9])[0-9]{8}:AA)|(?<=(?<![0-9])[0-9]{9}:AA)|(?<=(?<![0-9])[0-9]{10}:AA))"
        r"[" + _TOK + r"]{33}(?![" + _TOK + r"])",
        (":AA",),
        priority=3,
        left=("0123456789", 10),
    ),
    _d(
        "discord_bot_token",
        r"[MNO](?<![" + _TOK + r"][MNO])[" + _TOK + r"]{23,27}+\.[" + _TOK + r"]{6}\.[" + _TOK + r"]{27,38}(?![" + _TOK + r"])",
        (".",),
        check=_mixed,
        priority=3,
        # the first "." follows [MNO] and 23-27 token characters
        gate=(re.compile(r"\.(?=[" + _TOK + r"]{6}\.)"), 24, 28),
    ),
    _d(
        "discord_webhook",
        r"discord(?:app)?\.com\\?/api\\?/(?:v\d{1,2}\\?/)?webhooks\\?/\d{5,30}\\?/[" + _TOK + r"]{20,}+",
        ("discord",),
        priority=3,
    ),
    # --- payments / messaging SaaS ------------------------------------------------------------
    _d("stripe", r"(?:sk|rk)_(?:live|test)_(?<![" + _TOK + r"][a-z]{2}_[a-z]{4}_)[" + _B62 + r"]{10,}+", ("_live_", "_test_"), priority=3, lead=2),
    _d("stripe", _start("whsec_") + r"[" + _B62 + r"]{20,}+", ("whsec_",), priority=3),
    _d("twilio", r"(?:AC|SK)(?<![" + _B62 + r"]..)[a-f0-9]{32}(?![" + _B62 + r"])", ("AC", "SK"), priority=3, lead=0),
    _d(
        "twilio",
        r"twilio.{0,30}?(?:token|secret).{0,20}?[\"'\s:=>]{1,6}(?P<v>[a-f0-9]{32})(?![A-Za-z0-9])",
        ("twilio",),
        group="v",
        ignorecase=True,
        priority=3,
    ),
    _d("sendgrid", _start("SG.") + r"[" + _TOK + r"]{16,32}\.[" + _TOK + r"]{30,60}(?![" + _TOK + r"])", ("SG.",), priority=3),
    _d(
        "mailchimp",
        r"-us(?<=(?<![A-Za-z0-9])[0-9a-f]{32}-us)\d{1,2}(?![A-Za-z0-9])",
        ("-us",),
        priority=3,
        lead=0,
        left=("0123456789abcdef", 32),
    ),
    _d("square", r"sq0(?:csp|atp)-(?<![" + _TOK + r"]sq0...-)[" + _TOK + r"]{22,}+", ("sq0",), priority=3),
    _d("linear", _prefix("lin_api_") + r"[" + _B62 + r"]{32,}+", ("lin_api_",), priority=3),
    _d("linear", _prefix("lin_oauth_") + r"[a-f0-9]{32,}+", ("lin_oauth_",), priority=3),
    # --- generic structures ---------------------------------------------------------------------
    _d(
        "private_key",
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        # a possessive run per class stretch: the same tokens as one character at a time, faster
        r"(?:[A-Za-z0-9+/=:,. \t\r\n]++|\\[nr/]|-(?!----))*+"
        r"(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)?",
        ("PRIVATE KEY",),
        priority=4,
    ),
    _d(
        "private_key",
        r"PuTTY-User-Key-File-\d: [^\n]{0,80}(?:\n[^\n]{0,200}){0,6}?\nPrivate-Lines: \d{1,4}(?:\n[A-Za-z0-9+/=]{1,128})+",
        ("PuTTY-User-Key-File-",),
        priority=4,
        lead=0,
    ),
    _d(
        "jwt",
        r"eyJ(?<![" + _TOK + r"]eyJ)[" + _TOK + r"]{8,}+\.eyJ[" + _TOK + r"]{2,}+\.[" + _TOK + r"]*+",
        ("eyJ",),
        priority=3,
    ),
    _d(
        "authorization",
        r"(?:proxy-)?authorization[\"']?\s{0,5}[:=]\s{0,5}[\"']?\s{0,3}"
        r"(?:(?:bearer|basic|token|digest|bot|apikey|api-key|sso-key|key|otp|negotiate|ntlm)\s{1,5})?"
        r"(?P<v>(?!\[REDACTED:)(?!(?:bearer|basic|token|digest|bot|negotiate|ntlm)\s)[^\s\"',;]{6,}+(?:,\s{0,3}[A-Za-z]+=\"?[^\s\",]{1,512}+\"?){0,12})",
        ("authorization",),
        group="v",
        ignorecase=True,
        requires=":=",
    ),
    _d(
        "authorization",
        r"\b(?:bearer|token)\s{1,5}(?P<v>(?!\[REDACTED:)[A-Za-z0-9._~+/\-]{16,}+=*)",
        ("bearer", "token"),
        group="v",
        ignorecase=True,
        check=_mixed,
    ),
    _d(
        "authorization",
        r"(?:x-api-key|x-auth-token|x-access-token|api-key|x-goog-api-key|x-functions-key|private-token|x-gitlab-token)"
        r"[\"']?\s{0,5}[:=]\s{0,5}[\"']?(?P<v>(?!\[REDACTED:)(?!\$\{)(?!\{\{)[^\s\"',;]{6,}+)",
        ("x-api-key", "x-auth-token", "x-access-token", "api-key", "x-goog-api-key", "x-functions-key", "private-token", "x-gitlab-token"),
        group="v",
        ignorecase=True,
        requires=":=",
    ),
    _d(
        "secret_assignment",
        # env lines, YAML, JSON (also JSON-escaped), INI, query strings: KEYWORD[suffix] sep value
        _KW + r"(?:[_.\-][A-Za-z0-9_.\-]{0,30})?(?:\\?[\"'])?\s{0,10}(?::=|=>|=|:)\s{0,10}(?:\\?[\"'])?" + _VALUE,
        SECRET_KEYWORDS,
        group="v",
        ignorecase=True,
        priority=1,
        requires=":=",
    ),
    _d(
        "secret_assignment",
        # a quoted value may contain spaces: password = "correct horse battery staple"
        _KW + r"(?:[_.\-][A-Za-z0-9_.\-]{0,30})?[\"']?\s{0,10}(?::=|=>|=|:)\s{0,10}[\"']" + _QVALUE + r"[\"']",
        SECRET_KEYWORDS,
        group="v",
        ignorecase=True,
        priority=1,
        requires=":=",
    ),
    _d(
        "secret_assignment",
        # command-line flags: --password VALUE, --api-key=VALUE, --db-password 'x y'
        r"--(?:[a-z0-9]{1,20}-){0,3}" + _KW + r"(?:-[a-z0-9]{1,20}){0,2}(?:=|\s{1,5})[\"']?" + _VALUE,
        ("--",),
        group="v",
        ignorecase=True,
        priority=1,
        # a letter or digit follows "--" (ASCII, or a non-ASCII one IGNORECASE folds onto it)
        starts=r"--[A-Za-z0-9\x7f-\xff]",
    ),
    _d(
        "secret_assignment",
        # mysql -pSECRET / mysqldump -p'SECRET'
        r"mysql(?:dump|admin|import|sh)?\b[^\n]{0,200}?\s-p[\"']?(?P<v>[^\s\"'-][^\s\"']{2,}+)",
        ("mysql",),
        group="v",
        priority=1,
    ),
    _d(
        "secret_assignment",
        # .netrc: machine HOST login USER password SECRET
        r"\bmachine\s{1,10}\S{1,256}\s{1,10}login\s{1,10}\S{1,256}\s{1,10}password\s{1,10}(?P<v>\S{1,256})",
        ("machine",),
        group="v",
        priority=1,
        anchored=True,
    ),
)

# URL credentials (scheme://user:pass@host): handled in code around each "://" (engine.py),
# because the scheme decides the label and the password may itself contain "@".
URL_USERINFO = re.compile(r"://(?P<user>[^\s/?#@:\"'<>]{0,256}+):(?P<pw>[^\s/?#\"'<>]{1,256})@(?=[A-Za-z0-9\[])")
DB_SCHEMES = frozenset(_DB_SCHEMES)
URL_SCHEME_BEFORE = re.compile(r"(?<![A-Za-z0-9+.\-:])[A-Za-z][A-Za-z0-9+.\-:]{0,30}\Z")

#: Every label the engine can emit (docs/redaction.md lists them; known values add ``secret:<ref>``).
LABELS: frozenset[str] = frozenset(d.label for d in DETECTORS) | {
    "url_credentials",
    "db_url_password",
    "secret_field",
    "redaction_depth",
}


# --- multi-literal search ------------------------------------------------------------------

# pyahocorasick ships no type information; the automaton is used through ``Any``.
_ahocorasick: Any = importlib.import_module("ahocorasick")

# Characters of tool output (prose, code, logs, JSON) from most to least common, roughly;
# anything not listed counts as rarer still. Only the order matters: it picks each needle's pivot.
_COMMONNESS = " etaoinsrhldcu\nmfpgwyb.,\"vk0123456789-_:/=()'TSAICEMPRNDOLBFHWGxjU[]{}#;Yq>V<zK+@!%&*?\\|$~^`JXQZ"
_RARITY = {c: i for i, c in enumerate(_COMMONNESS)}
# Pivots at least this rare are searched by one regex per pivot; commoner ones by ``str.find``.
_RARE_FROM = _RARITY["."]


def _rarity(char: str) -> int:
    return _RARITY.get(char, len(_COMMONNESS))


def _pass_cost(char: str) -> float:
    """Rough cost of one pivot pass, in units of one literal scan of the text.

    Frequency is modelled as decaying geometrically with the rank in ``_COMMONNESS``; each
    occurrence of the pivot costs about 3 % of a scan of 4 KB.
    """
    return 1.0 + 4096 * 0.15 * 0.9 ** _rarity(char) * 0.03


def _choose_pivots(needles: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Greedy set cover: few pivot characters, each rare, covering every needle that has one."""
    groups: dict[str, list[tuple[str, int]]] = {}
    uncovered = set(needles)
    while uncovered:
        counts: dict[str, int] = {}
        for needle in uncovered:
            for char in set(needle):
                if _rarity(char) >= _RARE_FROM:
                    counts[char] = counts.get(char, 0) + 1
        char = max(sorted(counts), key=lambda c: counts[c] / _pass_cost(c))
        for needle in sorted(n for n in uncovered if char in n):
            groups.setdefault(char, []).append((needle, needle.index(char)))
            uncovered.discard(needle)
    return groups


class LiteralSet:
    """Every occurrence of each of a fixed set of literal strings, in a few C-level passes.

    ``str.find`` costs one pass over the text per needle, and ``re`` alternations of many
    literals run far slower than that, so each needle is keyed on its rarest character (its
    pivot, by a fixed frequency order for tool output). Needles sharing a rare pivot are found
    by one regex that starts with the pivot literal (which ``re`` scans for at memchr speed) and
    checks each needle around it with fixed-width lookarounds; a pass whose pivot does not occur
    in the text is skipped after a ``memchr``. A needle whose rarest character is still common
    (``token``) is searched with ``str.find``, skipped likewise when its pivot is absent.

    Linear time: each pass is a literal scan plus, per pivot occurrence, fixed-width checks.
    Matching is exact (case-sensitive); lower-case the haystack and the needles for the
    case-insensitive case.
    """

    def __init__(self, needles: Iterable[str]) -> None:
        rare: list[str] = []
        plain: list[tuple[str, str]] = []
        for needle in sorted(set(needles)):
            if not needle:
                raise ValueError("empty needle")
            rarest = max(needle, key=_rarity)
            if _rarity(rarest) < _RARE_FROM:
                plain.append((rarest, needle))
            else:
                rare.append(needle)
        self._plain = tuple(plain)
        self._passes = tuple(
            (pivot, _pivot_regex(pivot, items), tuple(items)) for pivot, items in sorted(_choose_pivots(rare).items())
        )

    def passes(self, haystack: str) -> int:
        """How many scans :meth:`find` makes over ``haystack`` (the passes whose pivot occurs)."""
        plain = sum(pivot in haystack for pivot, _ in self._plain)
        return plain + sum(pivot in haystack for pivot, _, _ in self._passes)

    def find(self, haystack: str) -> dict[str, list[int]]:
        """``{needle: ascending start positions}`` for each needle that occurs, overlaps included."""
        hits: dict[str, list[int]] = {}
        for pivot, needle in self._plain:
            if pivot in haystack:
                i = haystack.find(needle)
                if i != -1:
                    positions = hits[needle] = []
                    while i != -1:
                        positions.append(i)
                        i = haystack.find(needle, i + 1)
        for pivot, regex, items in self._passes:
            if pivot not in haystack:
                continue
            for m in regex.finditer(haystack):
                p = m.start()
                for needle, idx in items:
                    start = p - idx
                    if start >= 0 and haystack.startswith(needle, start):
                        hits.setdefault(needle, []).append(start)
        return hits


def _pivot_regex(pivot: str, items: list[tuple[str, int]]) -> re.Pattern[str]:
    """``pivot`` then, for each needle, lookarounds for the text before and after its pivot."""
    alternatives: list[str] = []
    for needle, idx in items:
        before, after = needle[:idx], needle[idx + 1 :]
        if not before and not after:
            return re.compile(re.escape(pivot))
        alternatives.append(
            (f"(?<={re.escape(before + pivot)})" if before else "") + (f"(?={re.escape(after)})" if after else "")
        )
    return re.compile(re.escape(pivot) + "(?:" + "|".join(alternatives) + ")")


class AnchorIndex:
    """Every occurrence of each of a fixed set of literals, in one Aho-Corasick pass (C level).

    ``cased`` needles are matched exactly against the text, ``lower`` needles (lower-case)
    against its ASCII-lower-cased form. One automaton, keyed on the lower-cased needles, runs
    over the lower-cased text; a hit on a cased needle is confirmed with ``startswith`` on the
    text, so a result holds exactly the occurrences ``str.find`` would report, overlaps included.

    Measured against the pivot-character passes this replaces (one ``re`` scan per rare pivot
    character plus ``str.find`` per common needle): about half the time on the mixed corpus of
    bench/redaction.py, and about 1 µs instead of ~15 µs of fixed cost per call on short text.

    Linear time: the automaton scan is linear in the text; each hit costs one ``startswith`` per
    needle ending there, and at most a fixed number of needles end at any position.
    """

    def __init__(self, cased: Iterable[str], lower: Iterable[str]) -> None:
        needles = [(n, True) for n in sorted(set(cased))] + [(n, False) for n in sorted(set(lower))]
        for needle, is_cased in needles:
            if not needle or not needle.isascii() or (not is_cased and needle != needle.lower()):
                raise ValueError(f"bad needle {needle!r}")
        entries: dict[str, list[tuple[str, int, bool]]] = {}
        for needle, is_cased in needles:
            entries.setdefault(needle.lower(), []).append((needle, len(needle) - 1, is_cased))
        automaton = _ahocorasick.Automaton()
        for suffix, items in sorted(entries.items()):
            automaton.add_word(suffix, tuple(items))
        automaton.make_automaton()
        #: The automaton (over lower-cased text); ``automaton.iter(lowered)`` yields its raw hits.
        self.automaton = automaton

    def find(self, text: str, lowered: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """``({cased needle: starts}, {lower needle: starts})``, positions ascending, overlaps included.

        ``lowered`` must be ``ascii_lower(text)`` (same length, same indices).
        """
        cased: dict[str, list[int]] = {}
        lower: dict[str, list[int]] = {}
        for end, items in self.automaton.iter(lowered):
            for needle, back, is_cased in items:
                if not is_cased:
                    lower.setdefault(needle, []).append(end - back)
                elif text.startswith(needle, end - back):
                    cased.setdefault(needle, []).append(end - back)
        return cased, lower
