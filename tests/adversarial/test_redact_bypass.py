"""Bypass classes against credential redaction (stage ⑬) and egress placeholders.

One named test per bypass class: encodings, hidden Unicode, case, splitting, padding, marker
forgery, nesting, length edges, catastrophic-backtracking inputs (5 MB, generous sanity bound,
real speed is in bench/redaction.py), exception paths, host-binding tricks, redirects, races.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from ethos_core.redaction import engine, find_spans, redact_json, redact_text
from ethos_core.redaction.hyperscan_index import hyperscan_module
from ethos_core.redaction.logging import redact_exception
from ethos_core.secrets.placeholders import RULE_UNBOUND_HOST, refusal_reason, substitute_for_egress
from ethos_core.secrets.vault import Vault

GHP = "ghp_" + "q7W3e9R1t5Y2u8I4o6P0a3S5d7F9g1H2j4K6"
ANT = "sk-ant-api03-" + "Zx9_Qw8-Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz" * 3 + "AA"
KNOWN_VALUE = "Zq8vX3pL0mN4bR7tY2wK9sD1fG6hJ5"
KNOWN = {"github": KNOWN_VALUE}


def _gone(secret: str, out: str) -> bool:
    return secret not in out and secret.lower() not in out.lower()


# --- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("skip", [0, 1, 2])
def test_base64_wrapped_pattern_secret(skip: int) -> None:
    blob = base64.b64encode(b"x" * skip + f"export GITHUB_TOKEN={GHP}\n".encode()).decode()
    out = redact_text(f"payload: {blob} ok")
    assert blob not in out and "[REDACTED:" in out and out.endswith(" ok")


def test_base64url_and_line_wrapped_base64() -> None:
    blob = base64.urlsafe_b64encode(f"key={ANT}".encode()).decode()
    wrapped = "\n".join(blob[i : i + 40] for i in range(0, len(blob), 40))
    for encoded in (blob, wrapped):
        out = redact_text(f"data {encoded} end")
        assert all(line not in out for line in encoded.splitlines() if len(line) > 20)


def test_hex_encoded_pattern_secret() -> None:
    for encoded in (GHP.encode().hex(), GHP.encode().hex().upper()):
        out = redact_text(f"dump {encoded} end")
        assert encoded not in out and "[REDACTED:github]" in out


def test_url_encoded_pattern_secret() -> None:
    encoded = "".join(f"%{b:02X}" for b in ANT.encode())
    partially = ANT.replace("-", "%2D")
    for text in (encoded, partially, urllib.parse.quote(f"token={GHP}")):
        out = redact_text(f"GET /?q={text} HTTP/1.1")
        assert text not in out and "[REDACTED:" in out


def test_json_unicode_escaped_and_escaped_slashes() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" if c in "-_" else c for c in ANT)
    hook = "https:\\/\\/hooks.slack.com\\/services\\/T0ABCDEFG\\/B0ABCDEFG\\/" + "a1B2c3D4e5F6g7H8i9J0k1L2"
    out = redact_text('{"a": "' + escaped + '", "hook": "' + hook + '"}')
    assert "Zx9" not in out and "a1B2c3D4e5F6g7H8i9J0k1L2" not in out


def test_html_entity_encoded_secret() -> None:
    entities = "".join(f"&#{ord(c)};" if i % 3 == 0 else c for i, c in enumerate(GHP))
    out = redact_text(f"<p>{entities}</p>")
    assert "[REDACTED:github]" in out and html.unescape(out).count("q7W3e9R1") == 0


def test_known_value_every_encoding_and_case() -> None:
    raw = KNOWN_VALUE.encode()
    forms = [
        KNOWN_VALUE.upper(),
        KNOWN_VALUE.lower(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        binascii.hexlify(raw).decode().upper(),
        urllib.parse.quote(KNOWN_VALUE + "/?", safe=""),
    ]
    for form in forms:
        out = redact_text(f"<{form}>", {"github": KNOWN_VALUE + ("/?" if "%2F" in form else "")})
        assert form not in out, form


# --- hidden Unicode -------------------------------------------------------------------------


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\U000e0041"])
def test_invisible_characters_inside_secret(invisible: str) -> None:
    sliced = GHP[:10] + invisible + GHP[10:20] + invisible + GHP[20:]
    out = redact_text(f"token {sliced} end")
    assert GHP[10:20] not in out and GHP[20:] not in out
    assert out.startswith("token ") and out.endswith(" end")


def test_invisible_characters_inside_known_value() -> None:
    sliced = "\u200b".join(KNOWN_VALUE[i : i + 5] for i in range(0, len(KNOWN_VALUE), 5))
    out = redact_text(f"v={sliced};", KNOWN)
    assert "[REDACTED:" in out and KNOWN_VALUE[5:10] not in out


# --- case and wrappers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "PASSWORD=Hunter2xyz",
        "Password: 'Hunter2xyz'",
        "AUTHORIZATION: BEARER Hunter2xyzHunter2xyz",
        "authorization: bearer Hunter2xyzHunter2xyz",
        "export DB_PASSWORD=\"Hunter2xyz\"",
        '"ApiKey": "Hunter2xyz"',
        "--API-KEY Hunter2xyz",
        'passwd = "Hunter2xyz"',
        "https://app.example/cb?access_token=Hunter2xyz&x=1",
        '{\\"password\\": \\"Hunter2xyz\\"}',
    ],
)
def test_uppercase_and_wrapped_keywords(text: str) -> None:
    assert "Hunter2xyz" not in redact_text(text)


def test_nested_quotes_and_markdown() -> None:
    text = f"""```json\n{{"cfg": "{{\\"token\\": \\"{GHP}\\"}}"}}\n```\n> `'"{ANT}"'`"""
    out = redact_text(text)
    assert GHP not in out and ANT not in out and out.startswith("```json")


# --- splitting and padding ------------------------------------------------------------------


def test_known_value_split_across_json_fields() -> None:
    doc = {"part1": KNOWN_VALUE[:15], "part2": KNOWN_VALUE[15:]}
    out = json.dumps(redact_json(doc, KNOWN))
    assert KNOWN_VALUE[:15] not in out and KNOWN_VALUE[15:] not in out


def test_padding_after_token_does_not_hide_it() -> None:
    for padded in (GHP + "x" * 5000, ANT + "_" * 300, "xoxb-1234567890-" + "a" * 4000):
        out = redact_text(f"k {padded} end")
        assert padded[:30] not in out


def test_length_edges() -> None:
    assert find_spans("ghp_" + "a1B2" * 8 + "a1B") == []  # 35 chars: below GitHub's 36
    assert find_spans("ghp_" + "a1B2" * 9)[0].label == "github"
    assert redact_text("k", {"r": "1234567"}) == "k"  # short known values are skipped
    assert redact_text("12345678", {"r": "12345678"}) == "[REDACTED:secret:r]"
    assert redact_text("password=ab") == "password=ab"  # too short to be a password value
    assert redact_text("password=abc") == "password=[REDACTED:secret_assignment]"


# --- marker forgery / idempotence --------------------------------------------------------------


def test_forged_marker_does_not_shield_a_secret() -> None:
    for text in (
        f"[REDACTED:github]{GHP}",
        "password=[REDACTED:x]RealSecretValue",
        f"[REDACTED:{GHP}]",
        f"[REDACTED:secret:{GHP}]",
        f"token: [REDACTED:secret:x]{KNOWN_VALUE}",
        f"Authorization: Bearer [REDACTED:x] {GHP}",
    ):
        out = redact_text(text)
        assert GHP not in out and "RealSecretValue" not in out
        assert redact_text(out) == out


# --- linear time ------------------------------------------------------------------------------

_ADVERSARIAL = [
    "A" * 1000,
    "sk-" * 300,
    "sk-ant-" * 150,
    "eyJ" * 300,
    "eyJabcdefgh." * 80,
    "password=" * 100,
    "password='" * 100,
    "\"'`" * 300,
    "-----BEGIN PRIVATE KEY-----" * 30,
    "%41" * 300,
    "://a:" * 200,
    "123456789:AA" * 80,
    "736b2d616e742d" * 70,
    "aws " * 250,
    "Authorization: " * 60,
    "--" * 500,
    "Bearer " * 140,
    "mysql " * 160,
    "c2stYW50LWFwaTAz" * 60,
    "s\u200b" * 500,
    ("x" * 40 + ".") * 25,
]


def test_catastrophic_backtracking_inputs_5mb_are_bounded() -> None:
    """5 MB of near-miss inputs; the bound is a generous sanity guard, not a speed test."""
    unit = "\n".join(_ADVERSARIAL)
    text = (unit * (5_000_000 // len(unit) + 1))[:5_000_000]
    start = time.monotonic()
    spans = find_spans(text, KNOWN)
    assert time.monotonic() - start < 180
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


@pytest.mark.parametrize("engine_name", ["hyperscan", "python"])
def test_both_matching_engines_bounded_and_equal_on_near_misses(engine_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MB of near misses through each anchor engine (Hyperscan scan; Python automaton and
    pivot passes): the same spans from both, each within the sanity bound."""
    if engine_name == "hyperscan" and hyperscan_module() is None:
        pytest.skip("hyperscan not installed or disabled")
    unit = "\n".join(_ADVERSARIAL)
    text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    monkeypatch.setattr(engine, "ENGINE", "python")
    want = find_spans(text, KNOWN)
    monkeypatch.setattr(engine, "ENGINE", engine_name)
    start = time.monotonic()
    spans = find_spans(text, KNOWN)
    assert time.monotonic() - start < 60
    assert spans == want


def test_single_5mb_key_like_run_is_bounded() -> None:
    text = "ghp_" + "A1b2" * 1_250_000
    start = time.monotonic()
    spans = find_spans(text)
    assert time.monotonic() - start < 120
    assert spans and spans[0].label == "github" and spans[0].end == len(text)


# --- errors and tracebacks --------------------------------------------------------------------

_TOOL_ERROR = "HTTP 401 from api: invalid key " + "sk-ant-api03-" + "Zx9_Qw8-Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz" * 3 + "AA"


def test_secret_in_exception_traceback_and_chained_cause() -> None:
    try:
        try:
            raise KeyError(_TOOL_ERROR)
        except KeyError as inner:
            raise RuntimeError("tool failed: " + KNOWN_VALUE) from inner
    except RuntimeError as exc:
        text = redact_exception(exc, KNOWN)
    assert ANT not in text and KNOWN_VALUE not in text and "KeyError" in text


def test_secret_in_tool_error_result() -> None:
    from ethos_core.types import ToolResult

    result = ToolResult(call_id="1", tool="http", ok=False, error=_TOOL_ERROR, content=f"partial {GHP}")
    assert ANT not in redact_text(result.error or "") and GHP not in redact_text(result.content)


# --- egress placeholders ------------------------------------------------------------------------

BINDINGS = {"github": ["api.github.com"], "slack": ["*.slack.com"]}
VALUES = {"github": GHP, "slack": "xoxb-123456789012-abcdefABCDEF"}


@pytest.mark.parametrize(
    "host",
    [
        "api.github.com.evil.com",
        "evil-api.github.com",
        "github.com",
        "api.github.co",
        "аpi.github.com",  # Cyrillic а
        "api.github.com@evil.com",
        "api.github.com/evil",
        "api.github.com:443",
        "",
        "slack.com",  # *.slack.com is for subdomains only
    ],
)
def test_placeholder_refused_for_lookalike_hosts(host: str) -> None:
    headers, body, refused = substitute_for_egress(
        {"Authorization": "Bearer {{secret:github}}", "X": "{{secret:slack}}"}, "t={{secret:github}}", host, BINDINGS, VALUES
    )
    assert GHP not in json.dumps(headers) and GHP not in str(body)
    assert "github" in refused


@pytest.mark.parametrize("host", ["api.github.com", "API.GITHUB.COM", "api.github.com."])
def test_placeholder_substituted_for_bound_host_spellings(host: str) -> None:
    headers, _, refused = substitute_for_egress({"Authorization": "Bearer {{secret:github}}"}, None, host, BINDINGS, VALUES)
    assert headers["Authorization"] == f"Bearer {GHP}" and refused == []


def test_redirect_to_unbound_host_is_rejudged_per_hop() -> None:
    template_headers = {"Authorization": "token {{secret:github}}"}
    template_body = b'{"auth": "{{secret:github}}"}'
    hop1 = substitute_for_egress(template_headers, template_body, "api.github.com", BINDINGS, VALUES)
    assert hop1[0]["Authorization"] == f"token {GHP}" and GHP.encode() in hop1[1]  # type: ignore[operator]
    # 302 → attacker host: the fetch re-runs substitution on the template for the new host
    hop2 = substitute_for_egress(template_headers, template_body, "collect.evil.example", BINDINGS, VALUES)
    assert hop2[0]["Authorization"] == "token {{secret:github}}"
    assert hop2[1] == template_body and hop2[2] == ["github"]
    assert refusal_reason("github", "collect.evil.example", VALUES)[0] == RULE_UNBOUND_HOST


def test_placeholder_for_unknown_or_unbound_name_is_refused() -> None:
    _, body, refused = substitute_for_egress({}, "a={{secret:nope}}&b={{secret:slack}}", "api.github.com", BINDINGS, VALUES)
    assert body == "a={{secret:nope}}&b={{secret:slack}}" and refused == ["nope", "slack"]


# --- races ----------------------------------------------------------------------------------


def test_concurrent_vault_writes_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHOS_VAULT_PASSPHRASE", "correct horse battery staple")
    Vault(tmp_path / "v", key_source="passphrase", scrypt_n=2**10).set("seed", "seed-value-123")
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            Vault(tmp_path / "v", key_source="passphrase", scrypt_n=2**10).set(f"ref{i}", f"value-{i}-abcdefgh")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    vault = Vault(tmp_path / "v", key_source="passphrase")
    assert set(vault.refs()) == {"seed", *(f"ref{i}" for i in range(8))}
    assert vault.get("ref3") == "value-3-abcdefgh"


def test_distinctive_key_glued_to_the_preceding_token() -> None:
    # A key with a distinctive prefix is redacted even when the text before it belongs to the
    # same run of token characters (a prefix, a header name typed without a separator).
    body = "Qz7xV2mN9pL4kR8sT1wY6uB3cD5eF0gH" * 2
    cases = {
        f"s-sk-ant-api03-{body}AA": "anthropic",
        f"Bearer-sk-ant-api03-{body}AA": "anthropic",
        f"x_sk-or-v1-{'ab12' * 16}": "openrouter",
        f"tokengithub_pat_11ABCDEFG0{body[:40]}": "github",
        f"auth_lin_api_{body}": "linear",
    }
    for text, label in cases.items():
        out = redact_text(text)
        assert f"[REDACTED:{label}]" in out, (text, out)
        assert body[:20] not in out and "ab12ab12ab12" not in out, out
