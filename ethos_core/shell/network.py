"""Network destinations of a shell command, for stage ⑩ (network reach).

Invariant: :func:`network_targets` lists, for every simple command the analysis found (wrappers,
``sh -c``, ``xargs``, decoded payloads and interpreter one-liners already peeled by
:mod:`.analyze`), every network destination that can be read off the command line — as an
``http(s)`` URL stage ⑩ judges exactly like a web tool's URL (SSRF/metadata floor, then the
personality's ``safety.networkReach``) — and every destination that cannot be known statically
as a ``dynamic`` description (the risk stage sends those to a human, ``risk.network_dynamic``).
Sources:

- URL literals in any argument, redirect target, static stdin and ``*_proxy`` assignment of a
  command that is not a pure text tool (``echo``, ``grep``, ``sed`` … only print their
  arguments). ``http``/``https`` URLs are kept as written, so userinfo, backslashes and other
  ambiguities are refused by stage ⑩ as they are for the web tools; other schemes with a host
  (``ssh``, ``git``, ``ftp``, ``redis``, ``postgres`` …) become ``https://HOST:PORT/`` with the
  explicit port or the scheme's default, so stage ⑩ judges the host and the port. ``file:`` is
  local and skipped; unknown schemes are skipped.
- bash's ``/dev/tcp/HOST/PORT`` and ``/dev/udp/HOST/PORT``.
- Scheme-less targets of network clients, read with each client's option grammar (option
  values are never mistaken for hosts; proxy, ``--connect-to``, ``--resolve`` and jump-host
  values are targets): curl, wget, httpie/xh, aria2c, lynx, w3m, nc/ncat/netcat, telnet,
  socat, ssh, scp, sftp, rsync and git's clone/fetch/pull/push/ls-remote/remote/submodule.

Everything is bounded: at most :data:`MAX_TARGETS` distinct targets per command line (more adds
one dynamic entry, ``too many network targets``), and every scan is a linear walk over the
words (``str.find`` and bounded look-behind; no regex runs over untrusted text here).

What it does not cover: destinations a program chooses itself (``pip install``, ``npm``,
``apt``, package indexes, a script file's contents, ``~/.ssh/config`` host aliases, git remote
*names* configured in ``.git/config``), URLs a program builds at run time from pieces, and DNS
rebinding between the check and the subprocess's own lookup (the subprocess resolves again; the
safe fetch pins addresses, the shell cannot).
"""

from __future__ import annotations

import functools

import attrs

from ethos_core.shell import wrappers
from ethos_core.shell.analyze import DYN, Analysis, SimpleCommand, analyze
from ethos_core.types import ToolCall, UrlAccess

MAX_TARGETS = 32
MAX_SCAN_CHARS = 1 << 20  # per word; a command line is already capped at 64 KiB before expansion
TOO_MANY = "too many network targets"
MAX_URL_CHARS = 8192  # stage ⑩ refuses longer URLs (url.invalid)

# Scheme → default port. http-family schemes are judged as written; the rest as https://HOST:PORT/.
SCHEME_PORTS: dict[str, int] = {
    "http": 80, "https": 443, "ws": 80, "wss": 443,
    "ftp": 21, "ftps": 990, "sftp": 22, "ssh": 22, "scp": 22, "git": 9418, "rsync": 873, "telnet": 23,
    "gopher": 70, "dict": 2628, "ldap": 389, "ldaps": 636, "smb": 445, "smbs": 445, "cifs": 445,
    "tftp": 69, "redis": 6379, "rediss": 6379, "postgres": 5432, "postgresql": 5432, "mysql": 3306,
    "mariadb": 3306, "mongodb": 27017, "amqp": 5672, "amqps": 5671, "mqtt": 1883, "mqtts": 8883,
    "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995, "smtp": 25, "smtps": 465, "nfs": 2049,
    "svn": 3690, "irc": 6667, "ircs": 6697, "xmpp": 5222, "sip": 5060, "sips": 5061, "rtsp": 554,
    "rtmp": 1935, "rtmps": 443, "nntp": 119, "news": 119, "memcached": 11211, "cassandra": 9042,
    "kafka": 9092, "nats": 4222, "socks": 1080, "socks4": 1080, "socks4a": 1080, "socks5": 1080,
    "socks5h": 1080, "vnc": 5900, "rdp": 3389, "ssh+git": 22, "git+ssh": 22, "svn+ssh": 22,
    "mongodb+srv": 27017, "ldapi": 389, "clickhouse": 9000, "jdbc": 443, "grpc": 443, "grpcs": 443,
}
HTTP_FAMILY = frozenset({"http", "https", "ws", "wss"})
LOCAL_SCHEMES = frozenset({"file", "unix", "npipe"})
SERVICE_PORTS = {"http": 80, "https": 443, "ssh": 22, "ftp": 21, "telnet": 23, "smtp": 25, "domain": 53,
                 "gopher": 70, "pop3": 110, "imap": 143, "ldap": 389, "imaps": 993, "pop3s": 995,
                 "mysql": 3306, "postgresql": 5432, "redis": 6379, "irc": 6667, "rsync": 873}

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# Where a URL embedded in a word ends (quotes and brackets of the code it sits in).
_URL_END = frozenset(" \t\r\n\v\f\"'`<>|^(){};")
_AUTH_END = frozenset("/?#") | _URL_END
_DYNAMIC_HOST_CHARS = frozenset("${}") | {DYN}
_BAD_HOST_CHARS = frozenset("/?#@\\%") | frozenset(" \t\r\n\v\f")

# Programs that only print, search or move their arguments as data: a URL in their argv is text.
DATA_ONLY = frozenset({
    "echo", "printf", "grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "cut", "tr", "sort", "uniq", "wc",
    "head", "tail", "cat", "tac", "less", "more", "tee", "ls", "mkdir", "touch", "cp", "mv", "rm", "rmdir", "ln",
    "chmod", "chown", "test", "[", "[[", "diff", "cmp", "comm", "jq", "yq", "true", "false", ":", "column", "fmt",
    "fold", "nl", "paste", "join", "md5sum", "sha1sum", "sha256sum", "sha512sum", "basename", "dirname",
    "realpath", "readlink", "file", "stat", "du", "df", "date", "sleep", "read", "cd", "pushd", "popd", "pwd",
    "which", "type", "man", "help", "history", "unset", "local", "alias", "exit", "return", "shift", "wait",
    "jobs", "xxd", "od", "hexdump", "strings", "split", "expand", "unexpand", "rev", "shuf", "seq", "yes",
    "base64", "base32", "iconv", "look", "nano", "vi", "vim", "code", "logger", "notify-send", "awk", "gawk",
    "mawk", "nawk", "find",
})
# Builtins that only set shell state: of their NAME=value words only proxy settings matter.
SETTERS = frozenset({"export", "declare", "typeset", "readonly", "local", "set"})

CURL_SHORT_VALUES = "AbcCdDeEFHKmoPQrtTuUwxXyYz"
CURL_LONG_VALUES = frozenset({
    "abstract-unix-socket", "alt-svc", "aws-sigv4", "cacert", "capath", "cert", "cert-type", "ciphers", "config",
    "connect-timeout", "connect-to", "continue-at", "cookie", "cookie-jar", "create-file-mode", "crlfile", "curves",
    "data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "delegation", "dns-interface",
    "dns-ipv4-addr", "dns-ipv6-addr", "dns-servers", "doh-url", "dump-header", "egd-file", "engine", "etag-compare",
    "etag-save", "expect100-timeout", "form", "form-string", "ftp-account", "ftp-alternative-to-user",
    "ftp-method", "ftp-port", "ftp-ssl-ccc-mode", "happy-eyeballs-timeout-ms", "header", "hostpubmd5",
    "hostpubsha256", "hsts", "interface", "json", "keepalive-time", "key", "key-type", "krb", "libcurl",
    "limit-rate", "local-port", "login-options", "mail-auth", "mail-from", "mail-rcpt", "max-filesize",
    "max-redirs", "max-time", "netrc-file", "noproxy", "oauth2-bearer", "output", "output-dir", "parallel-max",
    "pass", "pinnedpubkey", "preproxy", "proto", "proto-default", "proto-redir", "proxy", "proxy-cacert",
    "proxy-capath", "proxy-cert", "proxy-cert-type", "proxy-ciphers", "proxy-crlfile", "proxy-header",
    "proxy-key", "proxy-key-type", "proxy-pass", "proxy-pinnedpubkey", "proxy-service-name",
    "proxy-tls13-ciphers", "proxy-tlsauthtype", "proxy-tlspassword", "proxy-tlsuser", "proxy-user", "pubkey",
    "quote", "random-file", "range", "rate", "referer", "request", "request-target", "resolve", "retry",
    "retry-delay", "retry-max-time", "sasl-authzid", "service-name", "socks4", "socks4a", "socks5",
    "socks5-gssapi-service", "socks5-hostname", "speed-limit", "speed-time", "stderr", "telnet-option",
    "tftp-blksize", "time-cond", "tls-max", "tls13-ciphers", "tlsauthtype", "tlspassword", "tlsuser", "trace",
    "trace-ascii", "unix-socket", "upload-file", "url", "url-query", "user", "user-agent", "write-out",
    "variable", "expand-url", "ip-tos", "mptcp", "vlan-priority", "proxy-http2",
})
WGET_SHORT_VALUES = "eoaiBOPtTwQUlARDXIn"
WGET_LONG_VALUES = frozenset({
    "output-file", "append-output", "execute", "input-file", "base", "config", "output-document",
    "directory-prefix", "tries", "timeout", "dns-timeout", "connect-timeout", "read-timeout", "wait", "waitretry",
    "quota", "bind-address", "limit-rate", "user-agent", "header", "post-data", "post-file", "body-data",
    "body-file", "method", "load-cookies", "save-cookies", "referer", "user", "password", "http-user",
    "http-password", "ftp-user", "ftp-password", "proxy-user", "proxy-password", "level", "accept", "reject",
    "domains", "exclude-domains", "include-directories", "exclude-directories", "certificate",
    "certificate-type", "private-key", "private-key-type", "ca-certificate", "ca-directory", "secure-protocol",
    "cut-dirs", "default-page", "restrict-file-names", "local-encoding", "remote-encoding", "progress",
    "report-speed", "rejected-log", "warc-file", "warc-header", "use-askpass", "ciphers", "crl-file",
    "pinnedpubkey", "random-file", "egd-file", "hsts-file", "accept-regex", "reject-regex", "regex-type",
    "max-redirect", "backups", "prefer-family", "retry-on-http-error", "compression", "warc-max-size",
    "warc-tempdir", "warc-dedup", "dns-servers", "bind-dns-address", "input-metalink", "metalink-index",
    "preferred-location", "xattr", "encoding",
})
HTTPIE_SHORT_VALUES = "aAopPs"
HTTPIE_LONG_VALUES = frozenset({
    "auth", "auth-type", "output", "print", "history-print", "style", "session", "session-read-only", "verify",
    "cert", "cert-key", "cert-key-pass", "ssl", "ciphers", "timeout", "max-redirects", "max-headers", "proxy",
    "pretty", "format-options", "response-charset", "response-mime", "boundary", "raw", "default-scheme",
    "method", "resolve", "bearer", "query",
})
ARIA2_SHORT_VALUES = "dolsxkjtmTMUiuCN"
ARIA2_LONG_VALUES = frozenset({
    "dir", "out", "input-file", "log", "split", "max-connection-per-server", "min-split-size",
    "max-concurrent-downloads", "timeout", "max-tries", "torrent-file", "metalink-file", "user-agent",
    "all-proxy", "http-proxy", "https-proxy", "ftp-proxy", "header", "referer", "load-cookies", "save-cookies",
    "http-user", "http-passwd", "ftp-user", "ftp-passwd", "conf-path", "checksum", "max-download-limit",
    "max-overall-download-limit", "save-session", "rpc-secret", "dht-entry-point", "bt-tracker",
})
ARIA2_PROXY_OPTIONS = frozenset({"all-proxy", "http-proxy", "https-proxy", "ftp-proxy"})
W3M_VALUES = frozenset({"-o", "-T", "-cols", "-ppc", "-ppl", "-I", "-O", "-config", "-bookmark", "-header", "-post",
                        "-t", "-l", "-N", "-request"})
NC_SHORT_VALUES = "cdeGgIiMmOoPpqsTVWwXx"
NC_LONG_VALUES = frozenset({"exec", "sh-exec", "lua-exec", "source-port", "source", "wait", "idle-timeout",
                            "output", "hex-dump", "append-output", "proxy", "proxy-type", "proxy-auth",
                            "proxy-dns", "max-conns", "allow", "allowfile", "deny", "denyfile", "ssl-cert",
                            "ssl-key", "ssl-trustfile", "ssl-ciphers", "ssl-servername", "ssl-alpn", "delay"})
TELNET_SHORT_VALUES = "lenbkXS"
SSH_SHORT_VALUES = "BbcDEeFIiJLlmOopQRSWw"
SCP_SHORT_VALUES = "cDFiJloPSX"
SFTP_SHORT_VALUES = "BbcDFiJloPRSsX"
RSYNC_SHORT_VALUES = "eBfTM"
RSYNC_LONG_VALUES = frozenset({
    "rsh", "rsync-path", "port", "exclude", "include", "exclude-from", "include-from", "files-from", "filter",
    "temp-dir", "compare-dest", "copy-dest", "link-dest", "backup-dir", "suffix", "chmod", "chown", "usermap",
    "groupmap", "timeout", "contimeout", "address", "sockopts", "log-file", "log-file-format", "out-format",
    "password-file", "bwlimit", "partial-dir", "max-size", "min-size", "block-size", "modify-window",
    "checksum-choice", "compress-choice", "compress-level", "skip-compress", "info", "debug", "protocol", "iconv",
    "outbuf", "stop-after", "stop-at", "write-batch", "only-write-batch", "read-batch", "max-delete",
    "remote-option", "zc", "zl", "cc", "copy-as", "early-input",
})
GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote", "remote", "submodule", "archive"})
GIT_SHORT_VALUES = "obucjXsS"
GIT_LONG_VALUES = frozenset({
    "origin", "branch", "upload-pack", "receive-pack", "template", "config", "depth", "deepen", "reference",
    "reference-if-able", "separate-git-dir", "jobs", "filter", "shallow-since", "shallow-exclude",
    "server-option", "bundle-uri", "ref-format", "exec", "refmap", "push-option", "negotiation-tip",
    "recurse-submodules-default", "strategy", "strategy-option", "sort", "track", "master", "name", "remote",
    "format", "prefix", "output",
})
CLIENTS = frozenset({"curl", "wget", "http", "https", "xh", "xhs", "httpie", "aria2c", "lynx", "w3m", "nc", "ncat",
                     "netcat", "telnet", "socat", "ssh", "autossh", "scp", "sftp", "rsync", "git"})

_FILE_SUFFIXES = frozenset({"html", "htm", "txt", "md", "json", "xml", "pdf", "torrent", "metalink", "meta4",
                            "csv", "log", "gz", "tgz", "zip", "tar", "png", "jpg", "jpeg", "gif", "svg"})


@attrs.frozen
class NetworkTargets:
    """What a command line reaches: URLs stage ⑩ judges, and destinations only known at run time."""

    urls: tuple[str, ...] = ()
    dynamic: tuple[str, ...] = ()


class _Collector:
    def __init__(self) -> None:
        self.urls: dict[str, None] = {}
        self.dynamic: dict[str, None] = {}
        self.full = False

    def url(self, url: str) -> None:
        if url in self.urls:
            return
        if len(self.urls) >= MAX_TARGETS:
            self.full = True
            self.dynamic.setdefault(TOO_MANY, None)
            return
        self.urls[url] = None

    def dyn(self, text: str) -> None:
        if len(self.dynamic) < MAX_TARGETS:
            self.dynamic.setdefault(text.replace(DYN, "<dynamic>")[:200], None)
        else:
            self.dynamic.setdefault(TOO_MANY, None)

    def endpoint(self, host: str, port: int | str | None, who: str) -> None:
        """Judge ``host:port`` as ``https://HOST:PORT/`` (stage ⑩ reads host and port only)."""
        host = host.strip()
        if not host:
            return
        if any(ch in _DYNAMIC_HOST_CHARS for ch in host):
            self.dyn(f"{who}: host only known at run time ({host})")
            return
        port_text = str(port) if port is not None else "443"
        if DYN in port_text or "$" in port_text:
            self.dyn(f"{who}: port only known at run time ({host}:{port_text})")
            port_text = "443"
        self.url(f"https://{_url_host(host)}:{_port_text(port_text)}/")

    def result(self) -> NetworkTargets:
        return NetworkTargets(tuple(self.urls), tuple(self.dynamic))


def _url_host(host: str) -> str:
    """``host`` as it goes between ``https://`` and ``:PORT``; characters that would move the
    authority (``/?#@\\``, whitespace) are percent-encoded so stage ⑩ refuses, never misreads."""
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        return "[" + "".join(f"%{ord(c):02X}" if c in _BAD_HOST_CHARS else c for c in inner) + "]"
    if ":" in host:
        return f"[{host}]"
    return "".join(f"%{ord(c):02X}" if c in _BAD_HOST_CHARS else c for c in host)


def _port_text(port: str) -> str:
    port = port.strip()
    if port.isascii() and port.isdigit():
        return port
    named = SERVICE_PORTS.get(port.lower())
    return str(named) if named is not None else port  # anything else is refused by stage ⑩ (url.invalid)


def _split_host_port(authority: str) -> tuple[str, str | None]:
    """``host[:port]`` / ``[v6][:port]`` → (host, port or None); a bare IPv6 is all host."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return authority, None
        rest = authority[end + 1 :]
        return authority[: end + 1], (rest[1:] if rest.startswith(":") and rest[1:] else None)
    if authority.count(":") == 1:
        host, port = authority.split(":", 1)
        return host, (port or None)
    return authority, None


def _scheme_of(candidate: str) -> str | None:
    """The known scheme a look-behind candidate ends with (``git+https`` → https, ``xhttp`` → http)."""
    low = candidate.lower()
    if low in SCHEME_PORTS or low in LOCAL_SCHEMES:
        return low
    for sep in "+.-":
        if sep in low:
            tail = low.rsplit(sep, 1)[1]
            if tail in SCHEME_PORTS or tail in LOCAL_SCHEMES:
                return tail
    for name in ("https", "http", "wss", "ws"):
        if low.endswith(name):
            return name
    return None


def _scan_text(text: str, col: _Collector, who: str) -> None:
    """Every URL literal and ``/dev/tcp``/``/dev/udp`` path inside ``text``."""
    if len(text) > MAX_SCAN_CHARS:
        text = text[:MAX_SCAN_CHARS]
        col.dyn(f"{who}: an argument too large to scan for network targets")
    if ":" in text:
        _scan_urls(text, col, who)
    if "/dev/" in text:
        _scan_dev_tcp(text, col, who)


def _scan_urls(text: str, col: _Collector, who: str) -> None:
    n = len(text)
    i = text.find(":")
    while i != -1 and not col.full:
        nxt = text[i + 1 : i + 2]
        if nxt in ("/", "\\"):
            j = i
            while j > 0 and i - j < 32 and text[j - 1] in _SCHEME_CHARS:
                j -= 1
            scheme = _scheme_of(text[j:i]) if j < i else None
            if scheme is not None and scheme not in LOCAL_SCHEMES:
                # Resume after this URL: a URL inside another's query is a parameter, not a
                # destination, and resuming keeps the scan linear.
                i = _literal(text, i - len(scheme), i, scheme, col, who) - 1
        i = text.find(":", i + 1) if i + 1 < n else -1


def _url_end(text: str, start: int) -> int:
    """End of the URL starting at ``start``: bounded, so a word of many literals stays linear
    (a URL longer than stage ⑩'s limit is refused there whole, so cutting it changes nothing)."""
    end = start
    n = min(len(text), start + MAX_URL_CHARS + 1)
    while end < n and text[end] not in _URL_END:
        end += 1
    return end


def _literal(text: str, start: int, colon: int, scheme: str, col: _Collector, who: str) -> int:
    """One URL literal: ``text[start:colon]`` is the scheme, ``text[colon]`` the colon; returns its end."""
    end = _url_end(text, colon + 1)
    slashes = colon + 1
    while slashes < end and slashes - colon <= 8 and text[slashes] in "/\\":
        slashes += 1
    auth_end = slashes
    while auth_end < end and text[auth_end] not in _AUTH_END:
        auth_end += 1
    authority = text[slashes:auth_end]
    host_part = authority.rpartition("@")[2]
    two_slashes = text[colon + 1 : slashes] == "//"
    if not authority and two_slashes and (auth_end == len(text) or text[auth_end] in _URL_END):
        col.dyn(f"{who}: a {scheme} URL whose host is built at run time")
        return end
    if any(ch in _DYNAMIC_HOST_CHARS for ch in host_part) or _format_spec(host_part):
        col.dyn(f"{who}: a {scheme} URL whose host is only known at run time ({text[start:auth_end]})")
        return end
    if scheme in HTTP_FAMILY:
        tail = text[auth_end:end]
        cut = tail.find(DYN)
        if cut >= 0:
            tail = tail[:cut]
        url = text[start:auth_end].replace(DYN, "$") + tail
        if scheme in ("ws", "wss"):
            url = ("http" if scheme == "ws" else "https") + url[len(scheme) :]
        col.url(url)
        return end
    if not two_slashes or not authority:
        return end  # ssh:foo, file-like or host-less forms name no host
    port_default = SCHEME_PORTS.get(scheme, 443)
    for one in host_part.split(",")[:MAX_TARGETS]:
        host, port = _split_host_port(one)
        col.endpoint(host, port or port_default, who)
    return end


def _format_spec(host: str) -> bool:
    """``%s`` / ``%(name)s`` style placeholders (a host filled in at run time), not ``%41``."""
    i = host.find("%")
    while i != -1:
        pair = host[i + 1 : i + 3]
        if len(pair) < 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            return True
        i = host.find("%", i + 1)
    return False


def _scan_dev_tcp(text: str, col: _Collector, who: str) -> None:
    for marker in ("/dev/tcp/", "/dev/udp/"):
        i = text.find(marker)
        while i != -1 and not col.full:
            start = i + len(marker)
            end = _url_end(text, start)
            parts = text[start:end].split("/", 2)
            host = parts[0]
            port = parts[1] if len(parts) > 1 and parts[1] else None
            if host:
                col.endpoint(host, port if port is not None else "0", f"{who} {marker[:-1]}")
            i = text.find(marker, end)


# --- option grammar ---------------------------------------------------------------------------


def _parse(
    args: tuple[str, ...], short_values: str = "", long_values: frozenset[str] = frozenset()
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(options as (name, value or None), positionals): GNU-style, options anywhere until ``--``.

    Unknown options are taken as flags, so an unlisted value-taking option can only make its
    value be judged as a target (a false deny), never hide a real target."""
    opts: list[tuple[str, str | None]] = []
    positionals: list[str] = []
    i = 0
    n = len(args)
    while i < n:
        arg = args[i]
        if arg == "--":
            positionals.extend(args[i + 1 :])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            if eq:
                opts.append((name, value))
            elif name in long_values:
                opts.append((name, args[i + 1] if i + 1 < n else ""))
                i += 1
            else:
                opts.append((name, None))
        elif arg.startswith("-") and len(arg) > 1 and DYN not in arg[:2]:
            j = 1
            while j < len(arg):
                ch = arg[j]
                if ch in short_values:
                    if j + 1 < len(arg):
                        opts.append((ch, arg[j + 1 :]))
                    else:
                        opts.append((ch, args[i + 1] if i + 1 < n else ""))
                        i += 1
                    break
                opts.append((ch, None))
                j += 1
        else:
            positionals.append(arg)
        i += 1
    return opts, positionals


def _host_like(text: str) -> bool:
    """A scheme-less word a browser-like client would take for a host (not a local file name)."""
    head = text.split("/", 1)[0].rpartition("@")[2]
    host, _port = _split_host_port(head)
    if not host:
        return False
    if host.startswith("[") or host.lower() in ("localhost",) or DYN in host:
        return True
    if all(c in "0123456789abcdefABCDEFxX." for c in host) and any(c.isdigit() for c in host):
        return True
    labels = host.split(".")
    last = labels[-1].lower()
    return len(labels) > 1 and last.isalpha() and len(last) >= 2 and last not in _FILE_SUFFIXES


def _web_target(arg: str, col: _Collector, who: str, default_scheme: str = "http") -> None:
    """A client's URL operand: a literal when it has a scheme, else ``default_scheme://arg``."""
    if not arg:
        return
    if DYN in arg.split("/", 1)[0] or arg.startswith(DYN):
        col.dyn(f"{who}: destination only known at run time ({arg})")
        return
    if "://" in arg[:40]:
        before = len(col.urls) + len(col.dynamic)
        _scan_text(arg, col, who)
        if len(col.urls) + len(col.dynamic) > before:
            return
        scheme = arg.split("://", 1)[0].lower()
        if scheme in LOCAL_SCHEMES or scheme not in SCHEME_PORTS:
            return  # file:// and schemes the client cannot speak
    cut = arg.find(DYN)
    col.url(f"{default_scheme}://{arg[:cut] if cut >= 0 else arg}")


def _proxy_target(value: str, col: _Collector, who: str, default_port: int = 1080) -> None:
    if not value:
        return
    if "://" in value:
        _scan_text(value, col, who)
        return
    head = value.split("/", 1)[0].rpartition("@")[2]
    host, port = _split_host_port(head)
    col.endpoint(host, port or default_port, who)


def _curl(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], CURL_SHORT_VALUES, CURL_LONG_VALUES)
    for name, value in opts:
        if value is None:
            continue
        if name in ("x", "proxy", "preproxy", "socks4", "socks4a", "socks5", "socks5-hostname"):
            _proxy_target(value, col, "curl --proxy")
        elif name in ("url", "doh-url"):
            _web_target(value, col, "curl")
        elif name == "connect-to":
            parts = value.split(":")
            if len(parts) >= 4:
                host2 = ":".join(parts[2:-1]) if len(parts) > 4 else parts[2]
                col.endpoint(host2 or parts[0] or "", parts[-1] or "443", "curl --connect-to")
        elif name == "resolve":
            _curl_resolve(value, col)
        elif name == "dns-servers":
            for server in value.split(",")[:MAX_TARGETS]:
                host, port = _split_host_port(server.strip())
                col.endpoint(host, port or 53, "curl --dns-servers")
        elif name in ("K", "config"):
            if value == "-" and cmd.stdin is not None:
                _curl_config(cmd.stdin, col)
            else:
                col.dyn(f"curl reads its options (and URLs) from {value}")
    for arg in positionals:
        _web_target(arg, col, "curl")


def _curl_resolve(value: str, col: _Collector) -> None:
    """``[+]host:port:addr[,addr]…``: curl connects to the addresses given."""
    body = value.lstrip("+")
    host, sep, rest = body.partition(":")
    port, sep2, addrs = rest.partition(":")
    if not sep or not sep2:
        return
    for addr in addrs.split(",")[:MAX_TARGETS]:
        addr = addr.strip()
        if addr.startswith("[") and addr.endswith("]"):
            addr = addr[1:-1]
        if addr:
            col.endpoint(addr, port or 443, "curl --resolve")


def _curl_config(text: str, col: _Collector) -> None:
    _scan_text(text, col, "curl -K")
    for line in text.splitlines()[:1000]:
        key, _, value = line.strip().lstrip("-").partition("=")
        if not _:
            key, _, value = line.strip().lstrip("-").partition(" ")
        key = key.strip().lower()
        value = value.strip().strip('"')
        if key in ("url",) and "://" not in value:
            _web_target(value, col, "curl -K")
        elif key in ("x", "proxy") and "://" not in value:
            _proxy_target(value, col, "curl -K")


def _wget(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], WGET_SHORT_VALUES, WGET_LONG_VALUES)
    for name, value in opts:
        if value is None:
            continue
        if name in ("e", "execute"):
            key, _, setting = value.partition("=")
            if key.strip().lower() in ("http_proxy", "https_proxy", "ftp_proxy"):
                _proxy_target(setting.strip(), col, "wget -e", 8080)
        elif name in ("i", "input-file"):
            if value == "-" and cmd.stdin is not None:
                _scan_text(cmd.stdin, col, "wget -i -")
                for line in cmd.stdin.splitlines()[:1000]:
                    if line.strip() and "://" not in line:
                        _web_target(line.strip(), col, "wget -i -")
            elif "://" in value:
                _scan_text(value, col, "wget -i")
            else:
                col.dyn(f"wget reads its URLs from {value}")
        elif name == "dns-servers":
            for server in value.split(",")[:MAX_TARGETS]:
                col.endpoint(server.strip(), 53, "wget --dns-servers")
    for arg in positionals:
        _web_target(arg, col, "wget")


def _httpie(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], HTTPIE_SHORT_VALUES, HTTPIE_LONG_VALUES)
    for name, value in opts:
        if name == "proxy" and value:
            _scan_text(value, col, f"{cmd.name} --proxy")
    if len(positionals) > 1 and positionals[0].isalpha() and positionals[0].isupper():
        positionals = positionals[1:]
    if not positionals:
        return
    url = positionals[0]
    scheme = "https" if cmd.name in ("https", "xhs") else "http"
    if url.startswith(":"):
        url = "localhost" + url
    _web_target(url, col, cmd.name, scheme)


def _aria2c(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], ARIA2_SHORT_VALUES, ARIA2_LONG_VALUES)
    for name, value in opts:
        if value is None:
            continue
        if name in ARIA2_PROXY_OPTIONS:
            _proxy_target(value, col, "aria2c proxy", 8080)
        elif name in ("i", "input-file"):
            if value == "-" and cmd.stdin is not None:
                _scan_text(cmd.stdin, col, "aria2c -i -")
            else:
                col.dyn(f"aria2c reads its URIs from {value}")
    for arg in positionals:
        if "://" in arg or _host_like(arg):
            _web_target(arg, col, "aria2c")


def _browser(cmd: SimpleCommand, col: _Collector) -> None:
    args = cmd.argv[1:]
    positionals: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if cmd.name == "w3m" and arg in W3M_VALUES:
            i += 2
            continue
        if not arg.startswith("-"):
            positionals.append(arg)
        i += 1
    for arg in positionals:
        if "://" in arg or _host_like(arg):
            _web_target(arg, col, cmd.name)


def _port_words(words: list[str]) -> list[str]:
    """Ports of ``nc host PORT…`` (ranges give both ends)."""
    out: list[str] = []
    for word in words[:4]:
        lo, sep, hi = word.partition("-")
        out.append(lo)
        if sep and hi:
            out.append(hi)
    return out


def _netcat(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], NC_SHORT_VALUES, NC_LONG_VALUES)
    names = {name for name, _ in opts}
    for name, value in opts:
        if value and (name == "proxy" or (name == "x" and cmd.name != "ncat")):
            _proxy_target(value, col, f"{cmd.name} proxy")
    if names & {"l", "listen", "U", "unixsock"}:
        return  # listens, or talks to a local socket
    if not positionals:
        return
    host = positionals[0]
    ports = _port_words(positionals[1:]) or (["31337"] if cmd.name == "ncat" else ["0"])
    for port in ports:
        col.endpoint(host, port, cmd.name)


def _telnet(cmd: SimpleCommand, col: _Collector) -> None:
    _, positionals = _parse(cmd.argv[1:], TELNET_SHORT_VALUES)
    if positionals:
        col.endpoint(positionals[0], positionals[1] if len(positionals) > 1 else 23, "telnet")


_SOCAT_CONNECT = frozenset({
    "tcp", "tcp4", "tcp6", "tcp-connect", "tcp4-connect", "tcp6-connect", "udp", "udp4", "udp6", "udp-connect",
    "udp4-connect", "udp6-connect", "udp-sendto", "udp4-sendto", "udp6-sendto", "udp-datagram", "udp4-datagram",
    "udp6-datagram", "ssl", "openssl", "openssl-connect", "sctp", "sctp-connect", "sctp4-connect",
    "sctp6-connect", "dccp-connect", "udplite-connect", "udplite-sendto", "dtls", "openssl-dtls-client",
})


def _socat(cmd: SimpleCommand, col: _Collector) -> None:
    for arg in cmd.argv[1:]:
        if arg.startswith("-") or ":" not in arg:
            continue
        kind, _, rest = arg.partition(":")
        kind = kind.lower()
        body, _, options = rest.partition(",")
        if kind in _SOCAT_CONNECT:
            host, port = _socat_host_port(body)
            col.endpoint(host, port or "0", "socat")
        elif kind in ("socks4", "socks4a", "socks5", "proxy", "proxy-connect", "socks5-connect"):
            server, _, dest = body.partition(":")
            wanted = "proxyport" if kind.startswith("proxy") else "socksport"
            server_port: str | int = 8080 if kind.startswith("proxy") else 1080
            for option in options.split(","):
                key, _, value = option.partition("=")
                if key.strip().lower() == wanted and value:
                    server_port = value
            col.endpoint(server, server_port, "socat proxy")
            host, port = _socat_host_port(dest)
            col.endpoint(host, port or "0", "socat")


def _socat_host_port(body: str) -> tuple[str, str | None]:
    if body.startswith("["):
        return _split_host_port(body)
    host, _, port = body.rpartition(":")
    return (host, port or None) if host else (body, None)


def _remote_operand(word: str) -> tuple[str, str] | None:
    """``[user@]host:path`` / ``[user@][v6]:path`` → (host, path); None for local paths."""
    if "://" in word[:40]:
        return None
    if word.startswith("[") or "@[" in word:
        at = word.find("[")
        end = word.find("]", at)
        if end < 0 or word[end + 1 : end + 2] != ":":
            return None
        return word[at : end + 1], word[end + 2 :]
    colon = word.find(":")
    if colon <= 0:
        return None
    head = word[:colon]
    if "/" in head:
        return None  # ./a:b is a local file
    return head.rpartition("@")[2], word[colon + 1 :]


def _ssh_port_from(opts: list[tuple[str, str | None]], letter: str) -> str | None:
    port: str | None = None
    for name, value in opts:
        if value is None:
            continue
        if name == letter:
            port = value
        elif name == "o":
            key, _, setting = value.replace("=", " ", 1).partition(" ")
            if key.strip().lower() == "port":
                port = setting.strip()
    return port


def _ssh_options(opts: list[tuple[str, str | None]], col: _Collector, who: str) -> str | None:
    """Jump hosts and HostName overrides; returns a HostName override if given."""
    override: str | None = None
    for name, value in opts:
        if value is None:
            continue
        jumps: str | None = None
        if name == "J":
            jumps = value
        elif name == "o":
            key, _, setting = value.replace("=", " ", 1).partition(" ")
            key = key.strip().lower()
            setting = setting.strip()
            if key == "proxyjump":
                jumps = setting
            elif key == "hostname":
                override = setting
            elif key == "proxycommand" and setting.lower() != "none":
                col.dyn(f"{who}: ProxyCommand picks the connection at run time")
        if jumps and jumps.lower() != "none":
            for jump in jumps.split(",")[:MAX_TARGETS]:
                if "://" in jump:
                    _scan_text(jump, col, f"{who} -J")
                    continue
                host, port = _split_host_port(jump.rpartition("@")[2])
                col.endpoint(host, port or 22, f"{who} -J")
    return override


def _ssh(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], SSH_SHORT_VALUES)
    override = _ssh_options(opts, col, "ssh")
    port = _ssh_port_from(opts, "p") or 22
    if not positionals:
        return
    dest = positionals[0]
    if "://" in dest[:40]:
        _scan_text(dest, col, "ssh")
        return
    host = override or dest.rpartition("@")[2]
    col.endpoint(host, port, "ssh")


def _scp_like(cmd: SimpleCommand, col: _Collector) -> None:
    values = SCP_SHORT_VALUES if cmd.name == "scp" else SFTP_SHORT_VALUES
    opts, positionals = _parse(cmd.argv[1:], values)
    override = _ssh_options(opts, col, cmd.name)
    port = _ssh_port_from(opts, "P") or 22
    operands = positionals if cmd.name == "scp" else positionals[:1]
    for word in operands:
        if "://" in word[:40]:
            _scan_text(word, col, cmd.name)
            continue
        remote = _remote_operand(word)
        if remote is not None:
            col.endpoint(override or remote[0], port, cmd.name)
        elif cmd.name == "sftp":
            col.endpoint(override or word.rpartition("@")[2], port, cmd.name)


def _rsync(cmd: SimpleCommand, col: _Collector) -> None:
    opts, positionals = _parse(cmd.argv[1:], RSYNC_SHORT_VALUES, RSYNC_LONG_VALUES)
    ssh_port: str | int = 22
    daemon_port: str | int = 873
    for name, value in opts:
        if value is None:
            continue
        if name in ("e", "rsh"):
            words = value.split()
            for k, word in enumerate(words):
                if word == "-p" and k + 1 < len(words):
                    ssh_port = words[k + 1]
                elif word.startswith("-p") and word[2:].isdigit():
                    ssh_port = word[2:]
        elif name == "port":
            daemon_port = value
    for word in positionals:
        if "://" in word[:40]:
            _scan_text(word, col, "rsync")
            continue
        remote = _remote_operand(word)
        if remote is None:
            continue
        host, path = remote
        col.endpoint(host, daemon_port if path.startswith(":") else ssh_port, "rsync")


def _git(cmd: SimpleCommand, col: _Collector) -> None:
    configs, sub_index = wrappers.git_global(cmd.argv)
    if sub_index >= len(cmd.argv):
        return
    sub = cmd.argv[sub_index]
    if sub not in GIT_NETWORK and sub != "config":
        return
    for key, value in configs:
        if "proxy" in key or key.endswith(("url", "insteadof", "pushinsteadof")):
            _scan_text(value, col, "git -c")
    args = cmd.argv[sub_index + 1 :]
    if sub == "config":
        for arg in args:
            _scan_text(arg, col, "git config")
        return
    opts, positionals = _parse(args, GIT_SHORT_VALUES, GIT_LONG_VALUES)
    for name, option in opts:
        if option and name in ("repo", "config", "c"):
            _scan_text(option, col, f"git {sub}")
            if name == "repo":
                _git_repository(option, col, sub)
    if sub in ("remote", "submodule"):
        if not positionals or positionals[0] not in ("add", "set-url"):
            return
        verb = positionals[0]
        rest = positionals[1:]
        repos = rest[1:] if sub == "remote" else rest[:1]
        if verb == "set-url" and sub == "submodule":
            return
        for repo in repos:
            _git_repository(repo, col, f"{sub} {verb}")
        return
    if positionals:
        _git_repository(positionals[0], col, sub)


def _git_repository(repo: str, col: _Collector, sub: str) -> None:
    who = f"git {sub}"
    if DYN in repo:
        col.dyn(f"{who}: repository only known at run time ({repo})")
        return
    if "://" in repo[:40]:
        _scan_text(repo, col, who)
        return
    remote = _remote_operand(repo)
    if remote is not None:
        col.endpoint(remote[0], 22, who)


_CLIENT_HANDLERS = {
    "curl": _curl, "wget": _wget, "http": _httpie, "https": _httpie, "xh": _httpie, "xhs": _httpie,
    "httpie": _httpie, "aria2c": _aria2c, "lynx": _browser, "w3m": _browser, "nc": _netcat, "ncat": _netcat,
    "netcat": _netcat, "telnet": _telnet, "socat": _socat, "ssh": _ssh, "autossh": _ssh, "scp": _scp_like,
    "sftp": _scp_like, "rsync": _rsync, "git": _git,
}


def _peeled_elsewhere(cmd: SimpleCommand) -> tuple[bool, bool]:
    """(argv is analysed as inner commands, stdin is analysed as a shell script)."""
    if cmd.name == "xargs":
        return True, False
    argv_inner = False
    stdin_script = False
    for item in wrappers.peel(cmd.argv):
        if isinstance(item, (wrappers.ArgvExec, wrappers.ScriptExec)):
            argv_inner = True
        elif isinstance(item, wrappers.StdinScript) and item.lang == "sh":
            argv_inner = True
            stdin_script = not item.source
    return argv_inner, stdin_script


def _command_targets(cmd: SimpleCommand, col: _Collector) -> None:
    for redirect in cmd.redirects:
        if "/dev/" in redirect.target:
            _scan_dev_tcp(redirect.target, col, "redirect")
        elif "://" in redirect.target:
            _scan_urls(redirect.target, col, "redirect")
    for key, value in cmd.assignments:
        if key.lower().endswith("_proxy") and value:
            _proxy_target(value, col, f"{key}=", 8080)
    if not cmd.argv:
        return
    name = cmd.name
    handler = _CLIENT_HANDLERS.get(name)
    if handler is not None:
        if cmd.unknown_args:
            col.dyn(f"{name}: arguments (and destinations) arrive at run time")
        handler(cmd, col)
        if name != "git":
            for arg in cmd.argv[1:]:
                if "/dev/tcp/" in arg or "/dev/udp/" in arg:
                    _scan_dev_tcp(arg, col, name)
        return
    if name in SETTERS:
        for arg in cmd.argv[1:]:
            key, eq, value = arg.partition("=")
            if eq and key.lower().endswith("_proxy") and value:
                _proxy_target(value, col, f"{name} {key}", 8080)
        return
    if name in DATA_ONLY or DYN in name:
        return
    argv_inner, stdin_script = _peeled_elsewhere(cmd)
    if not argv_inner:
        for arg in cmd.argv[1:]:
            _scan_text(arg, col, name)
    if cmd.stdin and not stdin_script:
        _scan_text(cmd.stdin, col, f"{name} stdin")


@functools.lru_cache(maxsize=256)
def network_targets(analysis: Analysis) -> NetworkTargets:
    """Every network destination of ``analysis``; see the module docstring."""
    col = _Collector()
    for cmd in analysis.commands:
        if col.full:
            break
        _command_targets(cmd, col)
    return col.result()


def network_accesses(
    call: ToolCall, home: str | None = None, ethos_home: str | None = None
) -> tuple[tuple[UrlAccess, ...], tuple[str, ...]]:
    """Stage ⑩ subjects of a command call: (one ``UrlAccess`` per URL, dynamic descriptions).

    Not a command, or a command the parser cannot judge (the hardline stage denies those): ``((), ())``.
    """
    from ethos_core.shell import command_of  # the package imports this module

    command = command_of(call)
    if command is None:
        return (), ()
    analysis = analyze(command, call.cwd, home, ethos_home)
    if analysis.error:
        return (), ()
    targets = network_targets(analysis)
    return tuple(UrlAccess(url=url, tool=call.name) for url in targets.urls), targets.dynamic


def is_network_client(name: str) -> bool:
    return name in CLIENTS

