"""Behaviour of stage ⑩ judgment: schemes, the address floor, networkReach, DNS, the built-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ethos_core.builtin.network_reach import make_plugin
from ethos_core.config.model import GlobalConfig, NetworkConfig
from ethos_core.network import rules as R
from ethos_core.network.address import allow_cidr_problems, judge_address
from ethos_core.network.judge import judge_url, make_judge, with_pipeline
from ethos_core.network.reach import rule_problem
from ethos_core.network.resolver import ResolutionError, StaticResolver
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.stages import Stage
from ethos_core.types import Context, Decision, NetworkRule, Personality, SafetyPolicy, ToolSpec, UrlAccess
from ethos_core.verdicts import Verdict

PUBLIC = "93.184.215.14"
REACH = (
    NetworkRule("api.github.com", (443,)),
    NetworkRule("*.slack.com", (443,)),
    NetworkRule("example.org", (80, 443)),
)
RESOLVE = StaticResolver(
    {
        "api.github.com": [PUBLIC],
        "slack.com": [PUBLIC],
        "hooks.slack.com": [PUBLIC],
        "a.b.slack.com": [PUBLIC],
        "example.org": [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    }
)


def judge(url: str, **kw: object) -> Decision:
    params: dict[str, object] = {"reach": REACH, "reach_declared": True, "resolver": RESOLVE}
    params.update(kw)
    return judge_url(url, **params)[0]  # type: ignore[arg-type]


def test_allowed_url_returns_pinned_target() -> None:
    decision, target = judge_url(
        "https://API.GitHub.com./repos?q=1#frag", reach=REACH, reach_declared=True, resolver=RESOLVE
    )
    assert decision.verdict is Verdict.ALLOW and decision.rule == R.ALLOWED
    assert target is not None
    assert (target.scheme, target.host, target.port, target.addresses) == ("https", "api.github.com", 443, (PUBLIC,))
    assert target.url == "https://api.github.com/repos?q=1"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://x/", "ftp://example.org/", "javascript:alert(1)", "data:,x", "ws://example.org/"],
)
def test_only_http_and_https(url: str) -> None:
    assert judge(url).rule == R.SCHEME_DENIED


def test_method_allowlist() -> None:
    assert judge("https://example.org/", method="CONNECT").rule == R.METHOD_DENIED
    assert judge("https://example.org/", method="head").allowed


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", R.SSRF_LOOPBACK),
        ("10.1.2.3", R.SSRF_PRIVATE),
        ("172.31.255.255", R.SSRF_PRIVATE),
        ("192.168.0.1", R.SSRF_PRIVATE),
        ("100.64.0.1", R.SSRF_CGNAT),
        ("169.254.1.1", R.SSRF_LINK_LOCAL),
        ("0.0.0.0", R.SSRF_UNSPECIFIED),
        ("224.0.0.1", R.SSRF_MULTICAST),
        ("255.255.255.255", R.SSRF_BROADCAST),
        ("240.0.0.1", R.SSRF_RESERVED),
        ("198.18.0.1", R.SSRF_BENCHMARKING),
        ("192.0.2.1", R.SSRF_DOCUMENTATION),
        ("198.51.100.1", R.SSRF_DOCUMENTATION),
        ("203.0.113.1", R.SSRF_DOCUMENTATION),
        ("192.0.0.8", R.SSRF_RESERVED),
        ("169.254.169.254", R.SSRF_METADATA),
        ("169.254.170.2", R.SSRF_METADATA),
        ("168.63.129.16", R.SSRF_METADATA),
        ("100.100.100.200", R.SSRF_METADATA),
        ("192.0.0.192", R.SSRF_METADATA),
        ("::1", R.SSRF_LOOPBACK),
        ("::", R.SSRF_UNSPECIFIED),
        ("fe80::1", R.SSRF_LINK_LOCAL),
        ("febf:ffff::1", R.SSRF_LINK_LOCAL),
        ("fec0::1", R.SSRF_SITE_LOCAL),
        ("fc00::1", R.SSRF_PRIVATE),
        ("fd12:3456::1", R.SSRF_PRIVATE),
        ("ff02::1", R.SSRF_MULTICAST),
        ("2001:db8::1", R.SSRF_DOCUMENTATION),
        ("fd00:ec2::254", R.SSRF_METADATA),
        ("100::1", R.SSRF_RESERVED),
        ("4000::1", R.SSRF_RESERVED),
    ],
)
def test_denied_ranges(address: str, rule: str) -> None:
    host = f"[{address}]" if ":" in address else address
    decision = judge(f"http://{host}/")
    assert decision.denied and decision.rule == rule


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_pass_the_floor(address: str) -> None:
    import ipaddress

    assert judge_address(ipaddress.ip_address(address)) is None


def test_name_denied_when_any_resolved_address_is_denied() -> None:
    resolver = StaticResolver({"api.github.com": [PUBLIC, "10.0.0.7"]})
    decision = judge("https://api.github.com/", resolver=resolver)
    assert decision.rule == R.SSRF_PRIVATE and "10.0.0.7" in decision.reason


def test_mixed_a_and_aaaa_answers() -> None:
    decision, target = judge_url("https://example.org/", reach=REACH, reach_declared=True, resolver=RESOLVE)
    assert decision.allowed and target is not None and len(target.addresses) == 2
    bad = StaticResolver({"example.org": [PUBLIC, "::1"]})
    assert judge("https://example.org/", resolver=bad).rule == R.SSRF_LOOPBACK
    bad6 = StaticResolver({"example.org": ["::ffff:169.254.169.254", PUBLIC]})
    assert judge("https://example.org/", resolver=bad6).rule == R.SSRF_METADATA


def test_dns_failure_denies() -> None:
    class Broken:
        def resolve(self, host: str) -> list[str]:
            raise ResolutionError("SERVFAIL")

    class Crashing:
        def resolve(self, host: str) -> list[str]:
            raise RuntimeError("boom")

    class Empty:
        def resolve(self, host: str) -> list[str]:
            return []

    for resolver in (Broken(), Crashing(), Empty(), StaticResolver({})):
        assert judge("https://api.github.com/", resolver=resolver).rule == R.DNS_FAILED


def test_reach_checked_before_dns() -> None:
    class Recording:
        calls: list[str] = []

        def resolve(self, host: str) -> list[str]:
            self.calls.append(host)
            return [PUBLIC]

    resolver = Recording()
    assert judge("https://exfil-data.attacker.example/", resolver=resolver).rule == R.REACH_HOST
    assert resolver.calls == []


def test_reach_none_when_undeclared_or_empty() -> None:
    assert judge("https://api.github.com/", reach_declared=False).rule == R.REACH_NONE
    assert judge("https://api.github.com/", reach=()).rule == R.REACH_NONE


def test_reach_port() -> None:
    assert judge("https://api.github.com:8443/").rule == R.REACH_PORT
    assert judge("http://api.github.com/").rule == R.REACH_PORT
    assert judge("http://example.org/").allowed


def test_wildcard_matches_subdomains_not_apex() -> None:
    assert judge("https://hooks.slack.com/x").allowed
    assert judge("https://a.b.slack.com/x").allowed
    assert judge("https://slack.com/").rule == R.REACH_HOST
    assert judge("https://evilslack.com/").rule == R.REACH_HOST
    assert judge("https://slack.com.attacker.example/").rule == R.REACH_HOST


def test_tool_hosts_intersect_reach() -> None:
    assert judge("https://api.github.com/", tool_hosts=("*.slack.com",), tool="slack_post").rule == R.REACH_TOOL_HOST
    assert judge("https://hooks.slack.com/", tool_hosts=("*.slack.com",)).allowed
    assert judge("https://api.github.com/", tool_hosts=()).allowed  # no declaration: reach alone


def test_bare_star_and_invalid_entries_match_nothing() -> None:
    for entry in ("*", "*.*", "a.*.com", "*foo.com", "*.127.0.0.1"):
        assert judge("https://api.github.com/", reach=(NetworkRule(entry, (443,)),)).rule == R.REACH_HOST
        assert rule_problem(entry) is not None
    assert rule_problem("*.slack.com") is None and rule_problem("api.github.com") is None


def test_entry_hosts_are_normalised_like_urls() -> None:
    reach = (NetworkRule("ＡＰＩ.GitHub.com.", (443,)),)
    assert judge("https://api.github.com/", reach=reach).allowed


def test_ip_literal_reach_entry() -> None:
    reach = (NetworkRule("8.8.8.8", (443,)), NetworkRule("[2606:4700:4700::1111]", (443,)))
    assert judge("https://8.8.8.8/", reach=reach).allowed
    assert judge("https://134744072/", reach=reach).allowed  # the same address, spelled as one number
    assert judge("https://[2606:4700:4700:0::1111]/", reach=reach).allowed


def test_allow_cidrs_open_named_ranges_but_never_metadata() -> None:
    reach = (NetworkRule("fakeip.test", (443,)), NetworkRule("169.254.169.254", (80,)))
    resolver = StaticResolver({"fakeip.test": ["198.18.0.5"]})
    assert judge("https://fakeip.test/", reach=reach, resolver=resolver).rule == R.SSRF_BENCHMARKING
    assert judge("https://fakeip.test/", reach=reach, resolver=resolver, allow_cidrs=("198.18.0.0/15",)).allowed
    for cidrs in (("169.254.0.0/16",), ("0.0.0.0/0",), ("169.254.169.254/32",)):
        assert judge("http://169.254.169.254/", reach=reach, allow_cidrs=cidrs).rule == R.SSRF_METADATA
    assert judge("https://fakeip.test/", reach=reach, resolver=resolver, allow_cidrs=("not-a-cidr",)).denied
    assert allow_cidr_problems(["not-a-cidr", "0.0.0.0/0", "169.254.0.0/16"])


def test_make_judge_uses_access_resolve_and_never_dns() -> None:
    class Forbidden:
        def resolve(self, host: str) -> list[str]:
            raise AssertionError("DNS must not be consulted when --resolve is given")

    j = make_judge(reach=REACH, reach_declared=True, resolver=Forbidden())
    decision, target = j(UrlAccess("https://api.github.com/", resolve={"api.github.com": (PUBLIC,)}))
    assert decision.allowed and target is not None and target.addresses == (PUBLIC,)
    decision, _ = j(UrlAccess("https://hooks.slack.com/", resolve={"api.github.com": (PUBLIC,)}))
    assert decision.rule == R.DNS_FAILED


def test_with_pipeline_passes_pinned_answer_and_takes_stricter() -> None:
    seen: list[UrlAccess] = []

    def stage(access: UrlAccess) -> Decision:
        seen.append(access)
        if "blocked" in access.url:
            return Decision.deny(Stage.NETWORK_REACH, "mypack.blocked", "policy pack says no")
        return Decision.allow(Stage.NETWORK_REACH)

    j = with_pipeline(make_judge(reach=REACH, reach_declared=True, resolver=RESOLVE), stage)
    decision, target = j(UrlAccess("https://api.github.com/ok"))
    assert decision.allowed and target is not None
    assert seen[-1].resolve is not None and tuple(seen[-1].resolve["api.github.com"]) == (PUBLIC,)
    decision, target = j(UrlAccess("https://api.github.com/blocked"))
    assert decision.rule == "mypack.blocked" and target is None
    assert j(UrlAccess("http://127.0.0.1/"))[0].rule == R.SSRF_LOOPBACK


# --- built-in stage --------------------------------------------------------------------------


def _ctx(declared: bool = True, reach: tuple[NetworkRule, ...] = REACH) -> Context:
    safety = SafetyPolicy(network_reach=reach, network_declared=declared)
    return Context(Personality("researcher", "/tmp/p", safety=safety))


def test_builtin_stage_uses_resolve_mapping(tmp_path: Path) -> None:
    plugin = make_plugin(Runtime(HomePaths(tmp_path)))
    hook = plugin.ethos_network_reach  # type: ignore[attr-defined]
    ok = hook(UrlAccess("https://api.github.com/", resolve={"api.github.com": [PUBLIC]}), _ctx())
    assert ok.allowed and ok.stage is Stage.NETWORK_REACH
    assert (
        hook(UrlAccess("https://api.github.com/", resolve={"api.github.com": ["10.0.0.1"]}), _ctx()).rule
        == R.SSRF_PRIVATE
    )
    assert hook(UrlAccess("https://api.github.com/", resolve={"other": [PUBLIC]}), _ctx()).rule == R.DNS_FAILED
    assert hook(UrlAccess("https://api.github.com/", resolve={}), _ctx(declared=False)).rule == R.REACH_NONE


def test_builtin_stage_uses_attached_resolver_allow_cidrs_and_tool_hosts(tmp_path: Path) -> None:
    class Registry:
        def get(self, name: str) -> object:
            class Registered:
                spec = ToolSpec("gh", "GitHub", hosts=("api.github.com",))

            return Registered() if name == "gh" else None

    runtime = Runtime(HomePaths(tmp_path), config=GlobalConfig(network=NetworkConfig(allow_cidrs=("198.18.0.0/15",))))
    runtime.services["dns_resolver"] = StaticResolver({"api.github.com": ["198.18.1.1"], "hooks.slack.com": [PUBLIC]})
    runtime.services["tool_registry"] = Registry()
    hook = make_plugin(runtime).ethos_network_reach  # type: ignore[attr-defined]
    assert hook(UrlAccess("https://api.github.com/"), _ctx()).allowed
    assert hook(UrlAccess("https://hooks.slack.com/", tool="gh"), _ctx()).rule == R.REACH_TOOL_HOST
    assert hook(UrlAccess("https://hooks.slack.com/", tool="unknown"), _ctx()).allowed


# --- documentation ---------------------------------------------------------------------------


def test_every_rule_id_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "network.md").read_text(encoding="utf-8")
    constants = {v for k, v in vars(R).items() if k.isupper() and isinstance(v, str)}
    assert constants == set(R.RULES)
    documented = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", doc))
    missing = set(R.RULES) - documented
    assert not missing, f"rule ids missing from docs/network.md: {sorted(missing)}"
