"""Inline interpreter code (``python -c``, ``perl -e``, ``node -e``, ``ruby -e``, ``awk``) and
static decoders (``base64 -d``, ``xxd -r -p``, ``printf`` escapes) used by the shell analyser.

Invariant: every string literal of an inline payload that the payload could hand to a shell
(``os.system``, ``subprocess``, ``system``, backticks, ``child_process``, ``exec``) is returned
for a full shell analysis, and so is the whole list of literals joined as one argv (which
covers ``subprocess.run(["rm", "-rf", "/"])``). Path literals are returned so the floor and
root rules can judge them. Decoders here never execute anything: they are pure functions
over bounded text.

What it does not cover: code that builds its strings at run time (``"r" + "m"``, ``chr(114)``)
beyond the literal level — such payloads are flagged as dynamic inline code by the risk
classifier, not proven safe. Every regex here is linear (no nested quantifiers) and bounded.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex

import attrs

MAX_LITERAL = 4096

_LITERAL = re.compile(r"""'((?:[^'\\\n]|\\.){0,4096})'|"((?:[^"\\\n]|\\.){0,4096})"|`([^`\n]{0,4096})`""")
_EXEC_CALL = re.compile(
    r"\b(?:os\.system|os\.popen|popen|subprocess|check_output|check_call|getoutput|getstatusoutput|"
    r"pty\.spawn|os\.exec\w{0,4}|os\.spawn\w{0,4}|system|exec|execSync|execFileSync|spawnSync|spawn|"
    r"child_process|shell_exec|passthrough|passthru|proc_open|IO\.popen|Open3|Kernel\.exec|qx|%x)\b|`"
)
_SOCKET = re.compile(r"\b(?:socket|TCPSocket|fsockopen|net\.connect|net\.Socket|createConnection|IO::Socket|"
                     r"UDPSocket|connect\(|/dev/tcp/)")
_SHELL_HANDOFF = re.compile(r"(?:dup2|pty\.spawn|/bin/sh|/bin/bash|/bin/zsh|cmd\.exe|\bsh\b\s*[\"']|"
                            r"spawn\(\s*[\"'](?:/bin/)?(?:ba)?sh|exec\s*\(\s*[\"'](?:/bin/)?(?:ba)?sh)")
_FORK_LOOP = re.compile(r"(?:\bfork\b[^\n;]{0,40}\bwhile\b|\bwhile\b[^\n]{0,80}\bfork\b|\bfor\b[^\n]{0,80}\bfork\(|"
                        r"\bloop\b[^\n]{0,40}\bfork\b)")
_RMTREE = re.compile(r"\b(?:rmtree|rmSync|rmdirSync|rm_rf|rm_r|remove_tree|rimraf|unlinkSync|removedirs)\b")
_WRITE_MODE = re.compile(r"""(?:['"](?:w|a|w\+|a\+|wb|ab|r\+)['"]|write_text|write_bytes|writeFileSync|"""
                         r"""appendFileSync|\.write\(|>>?\s*['"]|File\.write|open\s*\([^)]{0,200}>)""")


@attrs.frozen
class PayloadFacts:
    """What an inline payload reveals: shell strings it may run and paths it names."""

    shell_strings: tuple[str, ...]
    paths: tuple[str, ...]
    execs: bool  # calls something that runs a command
    reverse_shell: bool
    fork_bomb: bool
    deletes: bool  # recursive-delete API named
    writes: bool  # opens something for writing


def _unescape_literal(text: str) -> str:
    return text.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\").replace("\\n", "\n")


def literals(code: str) -> list[str]:
    """String literals in ``code`` ('…', "…", `…`), unescaped; at most 256."""
    out: list[str] = []
    for match in _LITERAL.finditer(code[: 64 * 1024]):
        value = next(g for g in match.groups() if g is not None)
        out.append(_unescape_literal(value))
        if len(out) >= 256:
            break
    return out


def inspect_code(lang: str, code: str) -> PayloadFacts:
    """Facts about inline interpreter code; see the module docstring."""
    lits = literals(code)
    execs = bool(_EXEC_CALL.search(code))
    if lang == "awk":
        execs = execs or bool(re.search(r'\|\s*"|"\s*\|\s*getline', code))
    shell_strings: list[str] = []
    if execs:
        shell_strings.extend(lit for lit in lits if lit.strip())
        if len(lits) > 1:
            shell_strings.append(shlex.join(lits[:64]))
    paths = tuple(lit for lit in lits if lit.startswith(("/", "~")) and "\n" not in lit)
    reverse = bool(_SOCKET.search(code)) and bool(_SHELL_HANDOFF.search(code))
    return PayloadFacts(
        shell_strings=tuple(shell_strings),
        paths=paths,
        execs=execs,
        reverse_shell=reverse,
        fork_bomb=bool(_FORK_LOOP.search(code)),
        deletes=bool(_RMTREE.search(code)),
        writes=bool(_WRITE_MODE.search(code)),
    )


# --- static decoders (pure) -----------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", "e": "\x1b",
            "E": "\x1b", "'": "'", '"': '"', "?": "?"}


def c_unescape(text: str) -> str:
    """Decode ``\\xHH``, ``\\NNN`` (octal), ``\\uHHHH``, ``\\n``… as printf, ``echo -e`` and ``$'…'`` do."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2 : i + 4])
            if m:
                out.append(chr(int(m.group(), 16)))
                i += 2 + len(m.group())
                continue
        elif nxt in "uU":
            width = 4 if nxt == "u" else 8
            m = re.match(f"[0-9a-fA-F]{{1,{width}}}", text[i + 2 : i + 2 + width])
            if m:
                code = int(m.group(), 16)
                out.append(chr(code) if code < 0x110000 else "\ufffd")
                i += 2 + len(m.group())
                continue
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", text[i + 1 : i + 5] if nxt == "0" else text[i + 1 : i + 4])
            if m:
                digits = m.group()
                out.append(chr(int(digits, 8) & 0xFF))
                i += 1 + len(digits)
                continue
        elif nxt == "c" and i + 2 < n:
            out.append(chr(ord(text[i + 2]) & 0x1F))
            i += 3
            continue
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        out.append(nxt)
        i += 2
    return "".join(out)


def printf_output(args: list[str]) -> str | None:
    """What ``printf FORMAT ARGS…`` prints for %s/%b/%c/%d formats; None when unsure."""
    if not args:
        return None
    fmt, values = args[0], list(args[1:])
    if fmt.startswith("-"):
        return None
    out: list[str] = []
    rounds = 0
    while True:
        rounds += 1
        i = 0
        used = False
        pieces: list[str] = []
        while i < len(fmt):
            ch = fmt[i]
            if ch == "%" and i + 1 < len(fmt):
                m = re.match(r"%[-+ #0]*[0-9]*(?:\.[0-9]+)?([sbcdiuxXo%])", fmt[i:])
                if not m:
                    return None
                conv = m.group(1)
                if conv == "%":
                    pieces.append("%")
                else:
                    value = values.pop(0) if values else ""
                    used = True
                    if conv == "b":
                        pieces.append(c_unescape(value))
                    elif conv == "c":
                        pieces.append(value[:1])
                    else:
                        pieces.append(value)
                i += len(m.group())
                continue
            pieces.append(ch)
            i += 1
        out.append(c_unescape("".join(pieces)))
        if not values or not used or rounds > 64:
            break
    return "".join(out)


def b64decode(text: str, alphabet: str = "64") -> str | None:
    data = re.sub(r"\s+", "", text)
    if not data:
        return None
    try:
        if alphabet == "32":
            raw = base64.b32decode(data + "=" * (-len(data) % 8))
        else:
            data = data.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", errors="replace")


def hexdecode(text: str) -> str | None:
    data = re.sub(r"\s+", "", text)
    if data.startswith(("0x", "0X")):
        data = data[2:]
    try:
        return binascii.unhexlify(data).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None
