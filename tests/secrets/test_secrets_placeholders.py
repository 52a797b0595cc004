"""Egress placeholders: substitution only for bound hosts, refusal reported otherwise."""

from __future__ import annotations

from ethos_core.secrets.placeholders import (
    RULE_UNBOUND_HOST,
    RULE_UNKNOWN_SECRET,
    host_is_bound,
    placeholder_names,
    refusal_reason,
    substitute_for_egress,
)

BINDINGS = {"github": ["api.github.com"], "slack": ["*.slack.com"]}
VALUES = {"github": "ghp_real_value_123", "slack": "xoxb-real"}


def test_headers_and_str_body_substituted_for_bound_host() -> None:
    headers, body, refused = substitute_for_egress(
        {"Authorization": "token {{secret:github}}", "Accept": "json"}, '{"t": "{{secret:github}}"}', "api.github.com", BINDINGS, VALUES
    )
    assert headers == {"Authorization": "token ghp_real_value_123", "Accept": "json"}
    assert body == '{"t": "ghp_real_value_123"}' and refused == []


def test_bytes_body_and_wildcard_binding() -> None:
    _, body, refused = substitute_for_egress({}, b"x={{secret:slack}}", "hooks.slack.com", BINDINGS, VALUES)
    assert body == b"x=xoxb-real" and refused == []


def test_unbound_host_keeps_placeholder_and_reports_once() -> None:
    headers, body, refused = substitute_for_egress(
        {"A": "{{secret:github}}", "B": "{{secret:github}}"}, None, "example.com", BINDINGS, VALUES
    )
    assert headers == {"A": "{{secret:github}}", "B": "{{secret:github}}"} and body is None
    assert refused == ["github"]
    rule, reason = refusal_reason("github", "example.com", VALUES)
    assert rule == RULE_UNBOUND_HOST and "ghp_real" not in reason
    assert refusal_reason("nope", "example.com", VALUES)[0] == RULE_UNKNOWN_SECRET


def test_host_matching_and_names() -> None:
    assert host_is_bound("API.GitHub.com.", ["api.github.com"])
    assert not host_is_bound("github.com", ["api.github.com"])
    assert host_is_bound("a.b.slack.com", ["*.slack.com"]) and not host_is_bound("slack.com", ["*.slack.com"])
    assert placeholder_names("a {{secret:x}} b {{secret:y.z}}") == ["x", "y.z"]
    assert placeholder_names(b"{{secret:q}}") == ["q"]
    assert placeholder_names(None) == []
