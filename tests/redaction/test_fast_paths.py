"""The engine's shortcuts change nothing: spans equal those of a straightforward reference.

The engine finds anchors with one Aho-Corasick pass or with pivot passes (both are forced here
in turn), skips detectors whose ``requires``
characters are absent, runs case-sensitive detectors only ``lead`` characters before an anchor
or around a ``gate`` occurrence, returns at once for short ASCII text without anchors
(``_quiet``), and finds escapes with one literal-first regex per introducer. The reference here
does none of that: every non-keyword detector's regex runs with ``finditer`` over the whole
text, keyword detectors ``match`` at every ``str.find`` occurrence of their anchors, and the
decoding layers get their anchor positions from ``str.find``. Any per-detector fast-path field
that claims too much (a wrong ``lead``, ``requires``, ``gate`` or anchor) shows up as a difference.
"""

from __future__ import annotations

import base64
import html
import json
import os
import random
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ethos_core.redaction import engine, hyperscan_index, patterns
from ethos_core.redaction.hyperscan_index import HyperscanIndex, hyperscan_module, to_scan_bytes
from ethos_core.redaction.known import KnownValueMatcher, ascii_lower, matcher_for
from ethos_core.redaction.patterns import DETECTORS, URL_USERINFO, AnchorIndex, LiteralSet
from ethos_core.types import RedactionSpan

CORPUS = Path(__file__).resolve().parent.parent / "data" / "secrets_corpus" / "corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
KNOWN = {"github": "Zq8vX3pL0mN4bR7tY2wK9sD1fG6hJ5", "tg": "r7Fp2Lq9Xw4Zc8Vb"}
# The alternation the per-introducer escape regexes replace.
_ESCAPE_ALTERNATION = re.compile(
    r"%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|\\[/\\\"]|&#(?:x[0-9A-Fa-f]{1,6}|[0-9]{1,7});"
)


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    i = haystack.find(needle)
    while i != -1:
        yield i
        i = haystack.find(needle, i + 1)


def _reference_known(matcher: KnownValueMatcher, lowered: str) -> list[Any]:
    """Known values by ``str.find``, form by form and window by window (no automaton)."""
    out: list[Any] = []
    for form, label in matcher.forms:
        i = lowered.find(form)
        while i != -1:
            out.append((i, i + len(form), label, 5))
            i = lowered.find(form, i + len(form))
    covered_until = -1
    hits: list[Any] = []
    for window, low, off, label in matcher.fragments:
        i = lowered.find(window)
        while i != -1:
            start, end = matcher._extend(lowered, i, low, off)
            hits.append((start, end, label, 5))
            i = lowered.find(window, max(end - len(window) + 1, i + 1))
    for hit in sorted(hits):
        if hit[1] > covered_until:
            out.append(hit)
            covered_until = hit[1]
    return out


def _reference_candidates(text: str, known_values: Mapping[str, str], decode: bool, scan: object = None) -> list[Any]:
    """Every detector over the whole text; ``scan`` (the engine's Hyperscan result) is ignored."""
    lowered = ascii_lower(text)
    out: list[Any] = []
    for detector in DETECTORS:
        if detector.anchored:
            hay = lowered if detector.ignorecase else text
            positions = sorted({p for a in detector.anchors for p in _find_all(hay, a)})
            last_end = -1
            for pos in positions:
                if pos < last_end:
                    continue
                m = detector.regex.match(text, pos)
                if m is not None and engine._emit(detector, m, text, out):
                    last_end = m.end()
        else:
            for m in detector.regex.finditer(text):
                engine._emit(detector, m, text, out)
    engine._url_credentials(text, out)
    matcher = matcher_for(known_values) if known_values else None
    if matcher is not None:
        out.extend(_reference_known(matcher, lowered))
    if decode:
        b64 = sorted(p for a in engine._B64_ANCHORS for p in _find_all(text, a))
        hexes = sorted(p for a in engine._HEX_ANCHORS for p in _find_all(lowered, a))
        out.extend(engine._base64_layer(text, known_values, b64))
        out.extend(engine._hex_layer(lowered, known_values, hexes))
        out.extend(engine._escape_layer(text, known_values))
    return out


def _reference_spans(text: str, known: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> list[RedactionSpan]:
    with monkeypatch.context() as m:
        m.setattr(engine, "_candidates", _reference_candidates)
        m.setattr(engine, "_quiet", lambda text, known: False)
        m.setattr(engine, "_ESCAPE_RES", (("", _ESCAPE_ALTERNATION),))
        return engine.find_spans(text, known)


def _variants(text: str) -> list[str]:
    return [
        text,
        text.upper(),
        text.lower(),
        text.replace("-", "\u200b-").replace("_", "_\u00ad"),
        base64.b64encode(text.encode()).decode(),
        "x" + base64.urlsafe_b64encode(text.encode()).decode(),
        text.encode().hex(),
        urllib.parse.quote(text),
        json.dumps(text),
        "".join(f"&#{ord(c)};" if c.isalnum() and i % 3 == 0 else c for i, c in enumerate(text)),
        html.escape(text),
    ]


# Near misses of every fast-path field: anchors without the rest, separators far from keywords,
# gate shapes (the discord dots), lead shapes (sig=, _live_), escapes, URL userinfo.
_ADVERSARIAL = [
    "A" * 200,
    "sk-" * 30,
    "sk-ant-" * 15 + "sk-ant-api03-" + "a1B2" * 10,
    "eyJabcdefgh." * 8 + "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
    "password" + " " * 40 + "=" + "hunter2hunter2",
    "password" + "_" + "x" * 29 + " : 'abc def'",
    "token" + "." * 31 + ":=" + "value12345",
    "--db-x-y-password=s3cr3t --password 'a b' --api-key=" + "${X}",
    ("x" * 40 + ".") * 6,
    "M" + "a1B2c3D4e5F6g7H8i9J0k1L2m" + ".abcdef." + "Z" * 30,
    "N" * 24 + ".abcdef.abcdef." + "q1W2" * 9 + ".xxxxxx.",
    "O" + "b" * 27 + ".Ab1-_x." + "c" * 38 + "\n" + "M" + "c" * 22 + ".abcdef." + "d" * 30,
    # discord bot tokens at both ends of the gate window (first dot 24 and 28 characters in)
    "x N" + "a1" * 11 + "b" + ".abcdef." + "q1W2" * 8 + " O" + "Z9" * 13 + "c" + ".Ab1-_x." + "k" * 27 + "1",
    "123456789:AA" + "b" * 33 + " 12345678:AA" + "c" * 34,
    "https://x.blob.core.windows.net/c?sv=1&sig=" + "a%2Bb" * 6 + "&sig=short",
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " rk_test_" + "x" * 9,
    "%41%4B%49%41" + "%49%4F%53%46%4F%44%4E%4E%37%45%58%41%4D%50%4C%45",
    "\\u0073\\u006b-ant-api03-" + "Q" * 30,
    "&#115;&#107;&#x2d;proj-" + "Zz9" * 8,
    "postgres://user:p%40ss@db:5432/x ftp://:@h redis://:pw@cache mongodb+srv://a:b@c",
    "736b2d616e742d" * 3 + "736b2d616e742d6170693033" + "41" * 30,
    "c2stYW50LWFwaTAz" * 3 + base64.b64encode(b"sk-ant-api03-" + b"Q" * 40).decode(),
    "aws secret key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" + " aws " * 10,
    "Authorization: Bearer " + "abc.DEF-123_456~789+/=" * 2,
    "mysql -u root -pS3cr3tPw mysql -p -p'x y'",
    "machine api.example.com login me password s3cr3tpassw0rd",
    "AccountKey=" + "a" * 8 + ";SharedAccessSignature=sv=2020&sig=abc",
    "s\u200bk\u200b-\u200ba\u200bn\u200bt-api03-" + "Z9" * 15,
    "[REDACTED:anthropic]sk-ant-api03-" + "x1Y2" * 8 + " [REDACTED:secret:sk-ant-api03-" + "x1Y2" * 8 + "]",
    # non-ASCII letters IGNORECASE folds onto ASCII ones, right after "--" and inside keywords
    "--\u017fecret=S3cr3tValue1 --\u0130d-password=x9y8z7w6 --db-\u212aey-password=Zz9Yy8Xx7",
    "pa\u017f\u017fword=hunter2hunter2 \u017fk-ant-api03-" + "Q1" * 20,
    # non-ASCII inside URL userinfo, gates and escapes (the scan sees one byte per character)
    "https://us\u00e9r:p\u00e4ss\u2003w@host.example https://\u00e9:\u00e9@\u00e9 x://a:b@\u00e9",
    "M" + "\u00e9" * 23 + ".abcdef." + "Z" * 30 + " %4\u00e9 \\u00\u00e9 &#\u00e9;",
    # DEL and NUL (DEL is also the byte the scan writes for non-ASCII characters)
    "ghp_" + "a1B2" * 9 + " password=hunter22\x7f --\x7fsecret=abc12345 \x00sk-\x7f" + "Q1w2" * 6,
]


def _texts() -> list[str]:
    texts = [row["text"] for row in ROWS] + _ADVERSARIAL
    return [v for t in texts for v in _variants(t)]


# The three ways anchors are found (one Hyperscan scan; the Python engine's pivot passes or
# automaton), each forced on every text.
_ANCHOR_PATHS: dict[str, dict[str, object]] = {
    "hyperscan": {"ENGINE": "hyperscan"},
    "passes": {"ENGINE": "python", "_PASSES_FROM": 0, "_PASS_BUDGET": 10**9},
    "automaton": {"ENGINE": "python", "_PASS_BUDGET": -1},
}


@pytest.mark.parametrize("path", sorted(_ANCHOR_PATHS))
def test_fast_paths_equal_the_reference(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in _texts():
        for known in ({}, KNOWN):
            reference = _reference_spans(text, known, monkeypatch)
            with monkeypatch.context() as m:
                for name, value in _ANCHOR_PATHS[path].items():
                    m.setattr(engine, name, value)
                assert engine.find_spans(text, known) == reference, text[:200]


@pytest.mark.parametrize("path", sorted(_ANCHOR_PATHS))
def test_fast_paths_equal_the_reference_on_joined_texts(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many texts in one string (the find_spans_many shape): skips between distant anchors."""
    texts = _texts()
    rnd = random.Random(13)
    for _ in range(12):
        joined = engine._JOIN.join(rnd.sample(texts, 40))
        reference = _reference_spans(joined, {}, monkeypatch)
        with monkeypatch.context() as m:
            for name, value in _ANCHOR_PATHS[path].items():
                m.setattr(engine, name, value)
            assert engine.find_spans(joined) == reference


def test_default_choice_of_anchor_path_equals_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long prose (few pivot characters: passes) and long logs (many: automaton), as chosen."""
    words = "the request completed with status ok while the worker retried the job after a timeout".split()
    prose = " ".join(words[(i * 7) % len(words)] for i in range(800)) + " password is hunter2 token abc"
    logs = "\n".join(row["text"] for row in ROWS) * 3
    for text in (prose, logs, prose + " sk-ant-api03-" + "Zx9_Qw8-Er7Ty6Ui5Op4As3D"):
        assert engine.find_spans(text) == _reference_spans(text, {}, monkeypatch)


def test_quiet_short_strings_have_no_candidates() -> None:
    """Every short ASCII string ``_quiet`` waves through yields no candidate in the reference."""
    rnd = random.Random(5)
    pieces = [t for t in _texts() if t.isascii()]
    checked = 0
    for _ in range(4000):
        text = rnd.choice(pieces)
        start = rnd.randrange(len(text))
        piece = text[start : start + rnd.randint(1, 80)]
        for known in ({}, KNOWN):
            if engine._quiet(piece, known):
                checked += 1
                assert _reference_candidates(piece, known, decode=True) == [], piece
    assert checked > 100


def test_anchor_index_equals_str_find() -> None:
    rnd = random.Random(7)
    cased = ["AKIA", "sk-", "SK", "aa", "aaa", "Bb_", "-us", "xé"[:1] + "Q"]
    lower = ["password", "pwd", "aa", "a-a", "key", "--"]
    index = AnchorIndex(cased, lower)
    alphabet = "aAbBkKsSyYeE-_u Qé😀\u200b"
    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60)))
        text += rnd.choice(cased + lower + ["PASSWORD", "Pwd", "KEY"])
        lowered = ascii_lower(text)
        got_cased, got_lower = index.find(text, lowered)
        want_cased = {n: list(_find_all(text, n)) for n in cased if n in text}
        want_lower = {n: list(_find_all(lowered, n)) for n in lower if n in lowered}
        assert got_cased == want_cased and got_lower == want_lower, text


def test_literal_set_equals_str_find() -> None:
    rnd = random.Random(11)
    needles = ["AKIA", "sk-", "SK", "aa", "aaa", "Bb_", "-us", "password", "pwd", "a-a", "--", "\"x\""]
    literal_set = LiteralSet(needles)
    alphabet = "aAbBkKsSyYeE-_u Qé\"x😀"
    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60))) + rnd.choice(needles)
        assert literal_set.find(text) == {n: list(_find_all(text, n)) for n in needles if n in text}, text


def test_anchor_index_refuses_bad_needles() -> None:
    with pytest.raises(ValueError):
        AnchorIndex([""], [])
    with pytest.raises(ValueError):
        AnchorIndex([], ["Password"])


def test_gated_detector_is_linear_on_dense_gate_hits() -> None:
    """A megabyte of gate occurrences (".abcdef." everywhere) costs a bounded number of tries each."""
    text = ("M" + "a" * 23 + ".abcdef") * 40_000
    spans = engine.find_spans(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


def test_known_value_matcher_equals_str_find() -> None:
    """Forms and fragments found by the automaton: same spans, same order as ``str.find``."""
    values = {"a": "Zq8vX3pL0mN4bR7tY2wK9sD1fG6hJ5", "b": "r7Fp2Lq9Xw4Zc8Vb", "c": "aaaaaaaaaaaaaaaaaaaaaaaa", "d": "pässwörd-ünïcode-1234"}
    matcher = KnownValueMatcher(values)
    rnd = random.Random(17)
    pieces = [v for value in values.values() for v in (value, value[:14], value[7:], value.upper())]
    pieces += ["a" * 30, base64.b64encode(values["a"].encode()).decode(), urllib.parse.quote(values["d"]), " ", "x"]
    ascii_only = KnownValueMatcher({k: v for k, v in values.items() if v.isascii()})
    if hyperscan_module() is not None:
        assert ascii_only._hyperscan() is not None  # Hyperscan literal database
        assert matcher._hyperscan() is None  # a non-ASCII form: the automaton
    pieces.append("\x7f\u00e9\U0001f600")
    for _ in range(300):
        text = ascii_lower("".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 8))))
        for m in (matcher, ascii_only):
            want = _reference_known(m, text)
            assert m.find(text, fast=True) == want, text
            assert m.find(text, fast=False) == want, text


# --- the Hyperscan path --------------------------------------------------------------------

needs_hyperscan = pytest.mark.skipif(hyperscan_module() is None, reason="hyperscan not installed or disabled")


@needs_hyperscan
def test_hyperscan_index_equals_str_find() -> None:
    """Literal hits of the Hyperscan index are every ``str.find`` occurrence (non-ASCII text too)."""
    rnd = random.Random(19)
    cased = ["AKIA", "sk-", "SK", "aa", "aaa", "Bb_", "-us", "Q"]
    lower = ["password", "pwd", "aa", "a-a", "key", "--"]
    index = HyperscanIndex(hyperscan_module(), cased, lower, [], [])
    alphabet = "aAbBkKsSyYeE-_u Q\u00e9\u00ff\x7f\U0001f600\u200b\u017f\u212a"
    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60)))
        text += rnd.choice(cased + lower + ["PASSWORD", "Pwd", "KEY"])
        lowered = ascii_lower(text)
        got_cased, got_lower, marks, bits = index.find(text)
        want_cased = {n: list(_find_all(text, n)) for n in cased if n in text}
        want_lower = {n: list(_find_all(lowered, n)) for n in lower if n in lowered}
        assert (got_cased, got_lower, marks, bits) == (want_cased, want_lower, {}, 0), text


@needs_hyperscan
def test_hyperscan_anchors_equal_the_automaton() -> None:
    """The engine's database reports what the automaton reports, except where ``starts`` filters."""
    replaced = {key for _, _, key, kind in engine._POSITION_PATTERNS if kind != 2}
    for text in _texts():
        cased, lower, _, _ = engine._hs_index().find(text)
        want_cased, want_lower = engine._ANCHORS.find(text, ascii_lower(text))
        assert cased == want_cased, text[:200]
        for needle in replaced:
            got = set(lower.pop(needle, []))
            assert got <= set(want_lower.pop(needle, [])), text[:200]
        assert lower == want_lower, text[:200]


def _near_misses() -> list[str]:
    return _texts() + [engine._JOIN.join(random.Random(k).sample(_texts(), 30)) for k in range(6)]


@needs_hyperscan
def test_flags_and_marks_cover_every_python_match() -> None:
    """A flag is set and a mark reported wherever the Python regex it stands for matches."""
    for text in _near_misses():
        _, lower, marks, bits = engine._hs_index().find(text)
        for index, key in engine._GATE_MARKS.items():
            gate = engine._DETECTOR_PLAN[index][0].gate
            assert gate is not None
            assert {g.start() for g in gate[0].finditer(text)} <= set(marks.get(key, [])), text[:200]
        for index, bit in engine._GATE_FLAGS.items():
            gate = engine._DETECTOR_PLAN[index][0].gate
            assert gate is not None
            assert gate[0].search(text) is None or bits & bit
        url = {i for i in _find_all(text, "://") if URL_USERINFO.match(text, i)}
        assert url <= set(marks.get(engine._URL_MARK, [])), text[:200]
        if any(regex.search(text) for _, regex in engine._ESCAPE_RES):
            assert bits & engine._ESCAPE_FLAGS, text[:200]
        if "[REDACTED:" in text:
            assert bits & engine._MARKER_FLAG
        if engine.INVISIBLE_RE.search(text):
            assert bits & engine._INVISIBLE_FLAG


@needs_hyperscan
def test_starts_claims_hold() -> None:
    """Every match of a detector with ``starts`` begins where its ``starts`` regex matches the
    text as Hyperscan sees it (one byte per character); the scan reports exactly those places."""
    claimed = [d for d in DETECTORS if d.starts is not None]
    assert claimed
    for text in _near_misses():
        scanned = to_scan_bytes(text).decode("latin-1")
        lowered = ascii_lower(text)
        _, lower, _, _ = engine._hs_index().find(text)
        for detector in claimed:
            starts = re.compile(detector.starts or "")
            (anchor,) = detector.anchors
            for pos in _find_all(lowered, anchor):
                if detector.regex.match(text, pos):
                    assert starts.match(scanned, pos), text[pos : pos + 80]
            want = [i for i in range(len(text)) if starts.match(scanned, i)]
            assert lower.get(anchor, []) == want, text[:200]


def test_flag_patterns_refuse_unicode_dependent_syntax() -> None:
    for pattern in (r"\s+x", r"a\d", r"\bkey", r"(?i)abc", "\u00e9x"):
        with pytest.raises(ValueError):
            engine._flag_pattern(re.compile(pattern))
    with pytest.raises(ValueError):
        engine._flag_pattern(re.compile("abc", re.IGNORECASE))
    assert engine._flag_pattern(re.compile(r"\.(?=[a-z]{6}\.)")) == r"\.[a-z]{6}\."


@needs_hyperscan
def test_engines_agree_on_long_mixed_text() -> None:
    """The generated mixed corpus (logs, JSON, code, prose, one secret per KB): same spans."""
    text = "\n".join(_texts()) + "\n" + "\n".join(row["text"] for row in ROWS) * 4
    for known in ({}, KNOWN):
        by_engine = {}
        for name in ("hyperscan", "python"):
            with pytest.MonkeyPatch.context() as m:
                m.setattr(engine, "ENGINE", name)
                by_engine[name] = engine.find_spans(text, known)
        assert by_engine["hyperscan"] == by_engine["python"]


@needs_hyperscan
def test_hyperscan_scan_is_thread_safe() -> None:
    """Scans in several threads at once (Hyperscan releases the GIL): one scratch per thread."""
    texts = _texts()
    want = [engine.find_spans(t) for t in texts]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                assert [engine.find_spans(t) for t in texts] == want
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_engine_env_selects_the_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hyperscan_index.ENGINE_ENV, "python")
    assert hyperscan_module() is None
    out = subprocess.run(
        [sys.executable, "-c", "from ethos_core.redaction import engine; print(engine.ENGINE)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, hyperscan_index.ENGINE_ENV: "python"},
    )
    assert out.stdout.strip() == "python"


def test_missing_hyperscan_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hyperscan_index.ENGINE_ENV, raising=False)
    real = hyperscan_index.importlib.import_module

    def refuse(name: str, package: str | None = None) -> Any:
        if name == "hyperscan":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(hyperscan_index.importlib, "import_module", refuse)
    assert hyperscan_module() is None


# The keyword regex before its metadata-suffix lookahead was grouped by first letter.
_KW_FLAT = re.compile(
    r"(?<![{$])(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|"
    r"credentials?|session[_-]?key)"
    r"(?![_.\-]?(?:count|counts|limit|limits|size|length|len|type|types|ttl|expiry|expires|expires_in|expiration|"
    r"url|uri|endpoint|file|path|name|names|id|ids|index|usage|budget|window|bucket|field|header|prefix|format|"
    r"policy|hint|reset|rotation|store|manager|ref)\b)",
    re.IGNORECASE,
)


def test_grouped_keyword_regex_equals_the_flat_one() -> None:
    grouped = re.compile(patterns._KW, re.IGNORECASE)
    rnd = random.Random(23)
    suffixes = patterns.METADATA_SUFFIXES + ["counter", "idx", "Names", "EXPIRES_IN", "k", "", "r3f", "\u017fize", "ıd"]
    texts = [t for t in _texts()]
    for _ in range(3000):
        texts.append(
            rnd.choice(["password", "TOKEN", "api-key", "Secret", "credentials", "session_key", "{token", "pwd"])
            + rnd.choice(["", "_", ".", "-", "__", " "])
            + rnd.choice(suffixes)
            + rnd.choice(["", " ", "=", "_x", "s", "1"])
        )
    for text in texts:
        for pos in range(len(text)):
            a, b = _KW_FLAT.match(text, pos), grouped.match(text, pos)
            assert (a and a.span()) == (b and b.span()), (text, pos)


def test_database_build_failure_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Hyperscan database that cannot be built (e.g. an unsupported CPU): same spans, Python path."""

    def broken(*_args: object, **_kwargs: object) -> HyperscanIndex:
        raise RuntimeError("no SSSE3")

    texts = _texts()[:200]
    other = {**KNOWN, "other": "Zz9Yy8Xx7Ww6Vv5"}  # a value set whose literal database is not built yet
    with monkeypatch.context() as m:
        m.setattr(engine, "ENGINE", "python")
        want = [engine.find_spans(t, KNOWN) for t in texts]
        want_other = [engine.find_spans(t, other) for t in texts]
    monkeypatch.setattr(engine, "ENGINE", "hyperscan")
    monkeypatch.setattr(engine, "HyperscanIndex", broken)
    monkeypatch.setattr(hyperscan_index.LiteralScanner, "__init__", broken)
    engine._hs_index.cache_clear()
    try:
        assert engine._hs_index() is None and engine.HYPERSCAN_ERROR == "RuntimeError: no SSSE3"
        assert [engine.find_spans(t, other) for t in texts] == want_other
        assert [engine.find_spans(t, KNOWN) for t in texts] == want
    finally:
        monkeypatch.undo()
        engine._hs_index.cache_clear()
        engine.HYPERSCAN_ERROR = None
    assert engine._hs_index() is not None or hyperscan_module() is None


@pytest.mark.parametrize("path", sorted(_ANCHOR_PATHS))
def test_lone_surrogates(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Text that cannot be UTF-8 encoded (lone surrogates) is scanned like any other."""
    texts = [
        "ghp_" + "a1B2" * 9 + "\ud800 password=hunter22 --\udfffsecret=abc12345 sk-\ud800" + "Q1w2" * 6,
        "\udfff" * 40 + "sk-ant-api03-" + "Q1" * 20 + "\ud800https://u:p\ud800w@h",
    ]
    for text in texts:
        for known in ({}, KNOWN):
            reference = _reference_spans(text, known, monkeypatch)
            assert reference
            with monkeypatch.context() as m:
                for name, value in _ANCHOR_PATHS[path].items():
                    m.setattr(engine, name, value)
                assert engine.find_spans(text, known) == reference
