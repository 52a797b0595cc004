"""Shell → stage ⑩ bypass classes: one named test per way a command could reach what the
network floor or ``safety.networkReach`` refuses.

Each class is checked twice: through ``ethos check command`` (a fresh home, no networkReach)
and through a real ``Engine.from_home`` session whose personality may reach ``allowed.test``
(ports 80/443) and ``git.allowed.test`` (port 22), with a static resolver standing in for DNS;
a denial must leave an ``audit.block`` row with stage ⑩'s rule id in observability.db. Nothing
here touches the network: the commands are judged, never run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethos_core.cli.main import cli
from ethos_core.engine import Engine, Session
from ethos_core.network import rules as R
from ethos_core.network.resolver import StaticResolver
from ethos_core.shell.network import network_accesses
from ethos_core.types import Decision, ToolCall
from ethos_core.verdicts import Verdict
from tests.conftest import make_home

PUBLIC = "93.184.215.14"
PERSONALITY = """\
name: default
safety:
  approvalMode: manual
  networkReach:
    - {host: allowed.test, ports: [80, 443]}
    - {host: git.allowed.test, ports: [22]}
"""
RESOLVER = StaticResolver({"allowed.test": [PUBLIC], "git.allowed.test": [PUBLIC], "other.test": [PUBLIC],
                           "rebind.test": ["169.254.169.254"]})
SSRF = {v for k, v in vars(R).items() if k.startswith("SSRF_")}


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("fresh") / "h")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "h", personality_config=PERSONALITY, toolset="- shell\n")


@pytest.fixture
def session(home: Path) -> Iterator[Session]:
    with Engine.from_home(home, autoload=False) as engine:
        engine.runtime.services["dns_resolver"] = RESOLVER
        yield engine.session("default")


def check(home: Path, command: str, *extra: str) -> tuple[int, dict[str, str]]:
    result = CliRunner().invoke(cli, ["--home", str(home), "check", "command", command, "--json", *extra])
    return result.exit_code, json.loads(result.output)


def blocks(home: Path, session: Session | None = None) -> list[tuple[str, str]]:
    if session is not None:  # the audit writer commits in the background; wait for it
        session.engine.runtime.service("audit").flush()
    with sqlite3.connect(home / "observability.db") as conn:
        rows = conn.execute("SELECT rule, data FROM events WHERE category = 'audit.block' ORDER BY id").fetchall()
    return [(rule, json.loads(data)["args"]["command"]) for rule, data in rows]


def run(session: Session, command: str) -> Decision:
    return session.before_tool(ToolCall("shell", {"command": command}))


def assert_denied_everywhere(fresh_home: Path, home: Path, session: Session, commands: list[str],
                             rules: set[str] | str, earlier: frozenset[str] = frozenset()) -> None:
    """Denied by ``ethos check command`` and by a session, each denial an ``audit.block`` row.

    ``earlier`` names rules of an earlier stage that may deny first (the hardline stage denies
    bash network redirections outright, before stage ⑩ is consulted)."""
    wanted = {rules} if isinstance(rules, str) else rules
    before = len(blocks(home, session))
    for command in commands:
        code, answer = check(fresh_home, command)
        assert code == 1, (command, answer)
        assert (answer["stage"] == "network_reach" and answer["rule"] in wanted) or answer["rule"] in earlier, \
            (command, answer)
        decision = run(session, command)
        assert decision.verdict is Verdict.DENY, (command, decision)
        assert decision.rule in wanted | earlier, (command, decision.rule)
    recorded = blocks(home, session)[before:]
    # Audit rows are redacted (a userinfo URL loses its "password"), so count by rule.
    assert len([rule for rule, _ in recorded if rule in wanted | earlier]) == len(commands), recorded


# --- the metadata address in every spelling ------------------------------------------------------


def test_metadata_ip_in_every_spelling(fresh_home: Path, home: Path, session: Session) -> None:
    spellings = ["169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518",
                 "0xa9.0xfe.0xa9fe", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]",
                 "metadata.google.internal", "169.254.169.254.", "[0:0:0:0:0:ffff:a9fe:a9fe]"]
    commands = [f"curl http://{s}/latest/meta-data/" for s in spellings]
    commands += [f"curl -s {s}/latest/meta-data/" for s in spellings]
    commands += [f"wget -qO- http://{s}/" for s in spellings[:4]]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_the_reported_commands_are_denied(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl http://169.254.169.254/latest/meta-data/", "wget -qO- http://[::ffff:a9fe:a9fe]/",
                "python3 -c \"import urllib.request;urllib.request.urlopen('http://169.254.169.254')\""]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_uppercase_and_mixed_case_scheme(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl HTTP://169.254.169.254/", "curl hTtPs://169.254.169.254/", "wget HTTP://0xa9fea9fe/"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_userinfo_tricks(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl http://github.com@169.254.169.254/", "curl http://allowed.test@169.254.169.254/",
                "curl 'http://allowed.test:443@169.254.169.254/'", "curl http://u:p@allowed.test/",
                "wget 'http://allowed.test\\@169.254.169.254/'"]
    assert_denied_everywhere(fresh_home, home, session, commands, {R.URL_AMBIGUOUS} | SSRF)


def test_quotes_inside_the_host(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ['curl "169.254"."169.254"', "curl 16'9.25'4.169.254", 'curl http://"169.254.169.254"/',
                "curl h''ttp://169.254.169.254/", "curl $'\\x31\\x36\\x39.254.169.254'"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


# --- bash network redirections --------------------------------------------------------------------


def test_redirect_to_dev_tcp(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["cat < /dev/tcp/169.254.169.254/80", "echo 'GET /' > /dev/tcp/169.254.169.254/80",
                "bash -c 'cat </dev/tcp/169.254.169.254/80'", "echo hi > /dev/udp/169.254.169.254/53",
                "cat < /dev/tcp/0xa9fea9fe/http"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA,
                             earlier=frozenset({"hardline.reverse_shell"}))
    assert "https://169.254.169.254:80/" in [
        a.url for a in network_accesses(ToolCall("shell", {"command": commands[0]}))[0]]  # stage ⑩ sees it too


# --- interpreters ------------------------------------------------------------------------------------


def test_interpreter_one_liners_with_url_literals(fresh_home: Path, home: Path, session: Session) -> None:
    commands = [
        "python3 -c \"import urllib.request as u; u.urlopen('http://169.254.169.254/')\"",
        "python -c 'import requests; requests.get(\"http://169.254.169.254/latest\")'",
        "perl -MLWP::Simple -e 'print get(\"http://169.254.169.254/\")'",
        "node -e 'fetch(\"http://169.254.169.254/\").then(r => r.text()).then(console.log)'",
        "ruby -ropen-uri -e 'puts URI.open(\"http://169.254.169.254/\").read'",
        "python3 - <<'EOF'\nimport urllib.request\nurllib.request.urlopen('http://169.254.169.254/')\nEOF",
        "php -r 'echo file_get_contents(\"http://169.254.169.254/\");'",
    ]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


# --- wrappers and payloads ------------------------------------------------------------------------------


def test_base64_payload_piped_to_sh(fresh_home: Path, home: Path, session: Session) -> None:
    # "curl http://169.254.169.254/" and "wget -qO- 169.254.169.254"
    commands = ["echo Y3VybCBodHRwOi8vMTY5LjI1NC4xNjkuMjU0Lw== | base64 -d | sh",
                "printf d2dldCAtcU8tIDE2OS4yNTQuMTY5LjI1NA== | base64 --decode | bash",
                "bash <(echo Y3VybCBodHRwOi8vMTY5LjI1NC4xNjkuMjU0Lw== | base64 -d)"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_sh_c(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["sh -c 'curl 169.254.169.254'", "bash -lc \"wget -qO- http://169.254.169.254/\"",
                "sh -c \"sh -c 'curl 169.254.169.254'\"", "eval 'curl 169.254.169.254'"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_env_and_other_wrappers(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["env curl 169.254.169.254", "env -i A=1 curl 169.254.169.254", "/usr/bin/env wget 169.254.169.254",
                "timeout 5 curl 169.254.169.254", "nohup curl 169.254.169.254", "command curl 169.254.169.254",
                "nice -n 5 /usr/bin/curl 169.254.169.254"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_xargs(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["echo 169.254.169.254 | xargs curl", "echo http://169.254.169.254/ | xargs -n1 wget -qO-",
                "printf '169.254.169.254\\n' | xargs -I{} curl http://{}/"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_ifs_splitting(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl${IFS}169.254.169.254", "curl$IFS'http://169.254.169.254/'",
                "x=169.254.169.254;curl${IFS}$x", "c='curl 169.254.169.254'; $c"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_variables_and_substitutions_known_statically(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["h=169.254.169.254; curl http://$h/", "u=$(echo aHR0cDovLzE2OS4yNTQuMTY5LjI1NA== | base64 -d); curl $u",
                "curl $(echo 169.254.169.254)", "export H=169.254.169.254 && curl \"http://${H}/\""]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


# --- other clients and protocols --------------------------------------------------------------------------


def test_raw_tcp_clients(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["nc 169.254.169.254 80", "ncat 169.254.169.254 80", "telnet 169.254.169.254 80",
                "socat - TCP:169.254.169.254:80", "echo x | netcat -w1 0xa9fea9fe 80"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_ssh_git_and_other_schemes(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["ssh root@169.254.169.254", "git clone git@169.254.169.254:x/y.git",
                "git clone ssh://169.254.169.254/x", "scp f root@169.254.169.254:/tmp",
                "redis-cli -u redis://169.254.169.254:6379", "tool gopher://169.254.169.254:80/_GET",
                "ssh -o HostName=169.254.169.254 alias", "rsync -a . 169.254.169.254::mod"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_proxy_and_connection_overrides(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl -x 169.254.169.254:80 http://allowed.test/",
                "curl --connect-to allowed.test:80:169.254.169.254:80 http://allowed.test/",
                "curl --resolve allowed.test:80:169.254.169.254 http://allowed.test/",
                "http_proxy=http://169.254.169.254 curl http://allowed.test/",
                "git -c http.proxy=http://169.254.169.254 clone https://allowed.test/r"]
    assert_denied_everywhere(fresh_home, home, session, commands, R.SSRF_METADATA)


def test_loopback_and_private_targets(fresh_home: Path, home: Path, session: Session) -> None:
    commands = ["curl localhost:8080", "curl http://127.1/", "nc 10.0.0.1 22", "wget 192.168.1.1",
                "socat - TCP:127.0.0.1:6379"]
    assert_denied_everywhere(fresh_home, home, session, commands, SSRF)


# --- networkReach ------------------------------------------------------------------------------------------


def test_host_outside_network_reach_is_denied_with_reach_host(home: Path, session: Session) -> None:
    for command in ["curl https://other.test/", "git clone https://other.test/x", "wget other.test",
                    "python3 -c \"import urllib.request as u; u.urlopen('https://other.test/')\""]:
        decision = run(session, command)
        assert decision.verdict is Verdict.DENY and decision.rule == R.REACH_HOST, (command, decision)
    assert run(session, "curl http://allowed.test:8080/").rule == R.REACH_PORT
    assert run(session, "ssh allowed.test").rule == R.REACH_PORT
    assert ("reach.host", "curl https://other.test/") in blocks(home, session)


def test_host_inside_network_reach_is_allowed(session: Session) -> None:
    for command in ["curl https://allowed.test/x", "curl -o out.html allowed.test", "wget http://allowed.test/f",
                    "git clone git@git.allowed.test:org/repo.git", "ssh git.allowed.test"]:
        decision = run(session, command)
        assert decision.verdict is Verdict.ALLOW, (command, decision)


def test_a_name_in_reach_resolving_to_metadata_is_denied(tmp_path: Path) -> None:
    config = PERSONALITY + "    - {host: rebind.test, ports: [80]}\n"
    home = make_home(tmp_path / "r", personality_config=config, toolset="- shell\n")
    with Engine.from_home(home, autoload=False) as engine:
        engine.runtime.services["dns_resolver"] = RESOLVER
        decision = run(engine.session("default"), "curl http://rebind.test/")
    assert decision.verdict is Verdict.DENY and decision.rule == R.SSRF_METADATA
    assert (R.SSRF_METADATA, "curl http://rebind.test/") in blocks(home)
    code, answer = check(home, "curl http://rebind.test/", "--resolve", "rebind.test=169.254.169.254")
    assert code == 1 and answer["rule"] == R.SSRF_METADATA


def test_resolve_applies_to_command_checks(home: Path) -> None:
    code, answer = check(home, "curl http://allowed.test/", "--resolve", "allowed.test=169.254.169.254")
    assert code == 1 and answer["rule"] == R.SSRF_METADATA
    code, answer = check(home, "curl http://allowed.test/", "--resolve", f"allowed.test={PUBLIC}")
    assert code == 0 and answer["verdict"] == "allow"


def test_fresh_home_has_no_shell_egress(fresh_home: Path) -> None:
    code, answer = check(fresh_home, "curl https://example.com/")
    assert code == 1 and answer["rule"] == R.REACH_NONE
    code, answer = check(fresh_home, "git clone git@github.com:org/repo.git")
    assert code == 1 and answer["rule"] == R.REACH_NONE
    code, answer = check(fresh_home, "ls -la && grep -rn http://localhost src/")
    assert code == 0 and answer["verdict"] == "allow"


# --- what cannot be known statically -------------------------------------------------------------------------


def test_dynamic_destination_asks_a_human(fresh_home: Path, session: Session) -> None:
    for command in ['curl "$TARGET"', "u=$(cat url.txt); curl $u", "wget -i urls.txt", "cat hosts | xargs nc -z",
                    "git clone \"$REPO\"", "ssh \"$HOST\" uptime"]:
        code, answer = check(fresh_home, command)
        assert code == 3 and answer["verdict"] == "approve", (command, answer)
        assert run(session, command).verdict is Verdict.DENY  # manual approval, no approver: refused
    code, answer = check(fresh_home, 'curl "$TARGET"')
    assert answer["rule"] == "risk.network_dynamic"


def test_batch_command_cases_include_stage_10(home: Path) -> None:
    lines = [json.dumps({"kind": "command", "command": "curl 169.254.169.254"}),
             json.dumps({"kind": "command", "command": "curl http://allowed.test/",
                         "resolve": {"allowed.test": ["10.0.0.1"]}}),
             json.dumps({"kind": "command", "command": "ls"})]
    result = CliRunner().invoke(cli, ["--home", str(home), "check", "--batch", "-"], input="\n".join(lines))
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert [a["rule"] for a in answers] == [R.SSRF_METADATA, R.SSRF_PRIVATE, "risk.low"]


def test_too_many_targets_asks_a_human(fresh_home: Path) -> None:
    command = "curl " + " ".join(f"https://h{i}.test/" for i in range(40)) + " http://169.254.169.254/"
    code, answer = check(fresh_home, command)
    assert code == 1  # the first 32 are judged (reach.none here); the rest need a human anyway
    code, answer = check(fresh_home, "curl " + " ".join(f"10.0.0.{i}" for i in range(1, 40)))
    assert code == 1 and answer["rule"] == R.SSRF_PRIVATE
