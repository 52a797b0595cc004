"""Peeling wrappers: what a command line makes run besides its own program.

Invariant: for every argv, :func:`peel` returns each *other* thing that argv will execute —
the command behind a wrapper (``sudo``, ``env``, ``timeout``, ``xargs``, ``find -exec`` …), a
shell script passed as a string (``sh -c``, ``eval``, ``su -c``, ``watch``, ``ssh host CMD``,
exec-capable flags such as ``sort --compress-program``, ``tar --to-command``,
``git -c core.sshCommand``, GNU ``sed``'s ``e`` command and ``s///e`` flag, GNU ``parallel``,
``trap`` actions, ``coproc``), a script read from stdin (``sh`` with no operand), or inline
interpreter code (``python -c``, ``perl -e``, ``node -e``, ``ruby -e``, ``awk``). The analyser
judges each of those again, recursively and with a depth bound.

What it does not cover: programs that execute configuration files they read at run time
(``make``, ``npm run``, a script file on disk): their content is not on the command line.
Option tables follow the GNU/BSD manuals; an option we do not know is treated as a flag,
which can only make the wrapped command *more* visible, never hidden (the operand after
it is still peeled as the command).
"""

from __future__ import annotations

import fnmatch
import re
import shlex

import attrs

SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "csh", "tcsh", "fish", "rbash", "yash", "posh", "pdksh"}
)
_PYTHON = re.compile(r"^(python|pypy)[0-9.]*$")
INTERPRETER_CODE_FLAGS: dict[str, frozenset[str]] = {
    "perl": frozenset({"e", "E"}),
    "ruby": frozenset({"e"}),
    "node": frozenset({"e", "p"}),
    "nodejs": frozenset({"e", "p"}),
    "bun": frozenset({"e", "p"}),
    "php": frozenset({"r"}),
    "lua": frozenset({"e"}),
    "luajit": frozenset({"e"}),
    "Rscript": frozenset({"e"}),
    "osascript": frozenset({"e"}),
    "tclsh": frozenset(),
}
AWKS = frozenset({"awk", "gawk", "mawk", "nawk", "busybox-awk"})


def is_python(name: str) -> bool:
    return bool(_PYTHON.match(name))


def is_interpreter(name: str) -> bool:
    return is_python(name) or name in INTERPRETER_CODE_FLAGS


def is_shell(name: str) -> bool:
    return name in SHELLS


def basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


# --- what peeling yields -------------------------------------------------------------------


@attrs.frozen
class ArgvExec:
    """``argv`` runs as a program (directly, no shell parsing)."""

    argv: tuple[str, ...]
    via: str
    stdin: bool = True  # inherits the wrapper's stdin
    unknown_args: bool = False  # more arguments arrive at run time (xargs with unknown input)
    privileged: bool = False


@attrs.frozen
class ScriptExec:
    """``text`` is parsed and run by a shell."""

    text: str
    via: str
    exec_flag: bool = False  # came from an option that executes its value


@attrs.frozen
class StdinScript:
    """A shell or interpreter that executes whatever arrives on stdin (or a file operand)."""

    via: str
    lang: str  # "sh" or an interpreter name
    source: str = ""  # the file operand (may be a process-substitution marker) or "" for stdin


@attrs.frozen
class CodeExec:
    """Inline code for an interpreter (``python -c``, ``perl -e``, ``awk 'prog'``)."""

    lang: str
    code: str
    via: str


@attrs.frozen
class NoExec:
    """A wrapper that only queries (``command -v``)."""

    via: str


Exec = ArgvExec | ScriptExec | StdinScript | CodeExec | NoExec


# --- option skipping ----------------------------------------------------------------------


def skip_options(
    args: tuple[str, ...],
    start: int,
    with_arg: str = "",
    long_with_arg: frozenset[str] = frozenset(),
    numeric_flags: bool = False,
) -> int:
    """Index of the first operand at or after ``start`` (options stop at the first operand)."""
    i = start
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if arg.startswith("--"):
            name = arg[2:]
            if "=" in name:
                i += 1
            elif any(lw == name or (len(name) >= 3 and lw.startswith(name)) for lw in long_with_arg):
                i += 2
            else:
                i += 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            if numeric_flags and arg[1:].lstrip("+-").isdigit():
                i += 1
                continue
            consumed = 1
            for j, ch in enumerate(arg[1:], start=1):
                if ch in with_arg:
                    if j == len(arg) - 1:
                        consumed = 2
                    break
            i += consumed
            continue
        return i
    return i


def short_flags(args: tuple[str, ...]) -> str:
    """Every short-option letter given anywhere (GNU tools permute options)."""
    out = []
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            out.append(arg[1:])
    return "".join(out)


def long_flag(args: tuple[str, ...], name: str, min_prefix: int = 3) -> bool:
    """``--name`` or an unambiguous GNU prefix of it (``--recur``) given anywhere."""
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--"):
            given = arg[2:].split("=", 1)[0]
            if given == name or (len(given) >= min_prefix and name.startswith(given)):
                return True
    return False


def operands(args: tuple[str, ...]) -> list[str]:
    """Non-option arguments, GNU style (options anywhere until ``--``)."""
    out: list[str] = []
    rest = False
    for arg in args:
        if rest:
            out.append(arg)
        elif arg == "--":
            rest = True
        elif arg.startswith("-") and len(arg) > 1:
            continue
        else:
            out.append(arg)
    return out


def option_value(args: tuple[str, ...], short: str = "", long: str = "") -> list[str]:
    """Values of ``-X VALUE``/``-XVALUE``/``--long=VALUE``/``--long VALUE`` anywhere."""
    values: list[str] = []
    for i, arg in enumerate(args):
        if long and arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name == long or (len(name) >= 4 and long.startswith(name)):
                if eq:
                    values.append(value)
                elif i + 1 < len(args):
                    values.append(args[i + 1])
        elif short and arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            pos = arg.find(short, 1)
            if pos == -1:
                continue
            if pos < len(arg) - 1:
                values.append(arg[pos + 1 :])
            elif i + 1 < len(args):
                values.append(args[i + 1])
    return values


# --- peeling ---------------------------------------------------------------------------------

_SIMPLE_WRAPPERS: dict[str, tuple[str, frozenset[str], bool]] = {
    # name: (short options taking a value, long options taking a value, numeric flags like -10)
    "sudo": ("uUgpCDrtTRh", frozenset({"user", "group", "prompt", "close-from", "chdir", "host", "role", "type",
                                        "command-timeout", "other-user", "chroot"}), False),
    "doas": ("uC", frozenset(), False),
    "nice": ("n", frozenset({"adjustment"}), True),
    "nohup": ("", frozenset(), False),
    "stdbuf": ("ioe", frozenset({"input", "output", "error"}), False),
    "ionice": ("cnpPu", frozenset({"class", "classdata", "pid", "pgid", "uid"}), False),
    "setsid": ("", frozenset(), False),
    "time": ("fo", frozenset({"format", "output"}), False),
    "unbuffer": ("", frozenset(), False),
    "torsocks": ("uaP", frozenset(), False),
    "proxychains": ("f", frozenset(), False),
    "proxychains4": ("f", frozenset(), False),
    "firejail": ("", frozenset(), False),
    "strace": ("abeEIoOpPsSuUX", frozenset(), False),
    "ltrace": ("aAeEIlnopsSuxX", frozenset(), False),
    "pkexec": ("", frozenset({"user"}), False),
    "caffeinate": ("tw", frozenset(), False),
    "catchsegv": ("", frozenset(), False),
    "valgrind": ("", frozenset(), False),
    "exec": ("a", frozenset(), False),
    "builtin": ("", frozenset(), False),
    "dbus-launch": ("", frozenset(), False),
    "faketime": ("", frozenset(), False),
    "nsenter": ("tSGpmuinUCTrw", frozenset(), False),
    "unshare": ("", frozenset({"setuid", "setgid", "map-user", "map-group", "root", "wd"}), False),
    "systemd-run": ("pEu", frozenset({"unit", "property", "description", "slice", "uid", "gid", "setenv"}), False),
    "runcon": ("turl", frozenset(), False),
    "prlimit": ("", frozenset({"pid"}), False),
}
PRIVILEGED_WRAPPERS = frozenset({"sudo", "doas", "pkexec", "su", "runuser", "sg", "chroot", "nsenter"})

# git -c keys whose value is a command line (lower-cased, fnmatch patterns).
GIT_EXEC_KEYS = (
    "core.sshcommand", "core.pager", "core.editor", "core.fsmonitor", "core.askpass", "core.gitproxy",
    "sequence.editor", "diff.external", "diff.*.textconv", "diff.*.command", "merge.*.driver",
    "filter.*.clean", "filter.*.smudge", "filter.*.process", "credential.helper", "credential.*.helper",
    "uploadpack.packobjectshook", "gpg.program", "gpg.*.program", "pager.*", "web.browser",
    "browser.*.cmd", "remote.*.uploadpack", "remote.*.receivepack", "alias.*", "mergetool.*.cmd",
    "difftool.*.cmd", "core.hookspath", "include.path", "includeif.*.path",
)
# Environment variables whose value some program will run as a command.
EXEC_ENV_VARS = frozenset({
    "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EDITOR", "GIT_PAGER", "GIT_EXTERNAL_DIFF", "GIT_ASKPASS",
    "GIT_PROXY_COMMAND", "GIT_SEQUENCE_EDITOR", "SSH_ASKPASS", "EDITOR", "VISUAL", "PAGER", "MANPAGER",
    "LESSOPEN", "LESSCLOSE", "BASH_ENV", "ENV", "PROMPT_COMMAND", "RSYNC_RSH", "SUDO_ASKPASS",
})
# Environment variables that make programs load code: always suspicious.
LOADER_ENV_VARS = frozenset({"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES",
                             "PYTHONSTARTUP", "PERL5OPT", "NODE_OPTIONS", "RUBYOPT", "BASH_FUNC_"})


def git_global(argv: tuple[str, ...]) -> tuple[list[tuple[str, str]], int]:
    """(``-c`` key/value pairs, index of the git subcommand) for a git argv."""
    pairs: list[tuple[str, str]] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-c" and i + 1 < len(argv):
            key, _, value = argv[i + 1].partition("=")
            pairs.append((key.lower(), value))
            i += 2
        elif arg.startswith("-c") and len(arg) > 2:
            key, _, value = arg[2:].partition("=")
            pairs.append((key.lower(), value))
            i += 1
        elif arg in ("-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--super-prefix",
                     "--config-env", "--list-cmds", "--attr-source"):
            if arg == "--config-env" and i + 1 < len(argv):
                pairs.append((argv[i + 1].split("=", 1)[0].lower(), ""))
            i += 2
        elif arg.startswith("--config-env="):
            pairs.append((arg.split("=", 2)[1].lower(), ""))
            i += 1
        elif arg.startswith("-"):
            i += 1
        else:
            break
    return pairs, i


def _git(argv: tuple[str, ...]) -> list[Exec]:
    out: list[Exec] = []
    pairs, sub = git_global(argv)
    for key, value in pairs:
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in GIT_EXEC_KEYS):
            if key.startswith("alias.") and not value.startswith("!"):
                continue
            out.append(ScriptExec(value.lstrip("!") or "\ue000", via=f"git -c {key}", exec_flag=True))
    rest = argv[sub + 1 :]
    for value in option_value(rest, long="upload-pack") + option_value(rest, long="receive-pack") + option_value(
        rest, long="exec"
    ):
        out.append(ScriptExec(value, via="git --upload-pack", exec_flag=True))
    if sub < len(argv) and argv[sub] in ("clone", "fetch", "pull", "ls-remote", "archive", "submodule"):
        for value in option_value(rest, short="u"):
            out.append(ScriptExec(value, via="git -u", exec_flag=True))
    for arg in rest:
        if arg.startswith("ext::"):
            words = [w.replace("\0", " ").replace("%%", "%") for w in re.split(r"(?<!%) ", arg[5:].replace("% ", "\0"))]
            out.append(ArgvExec(tuple(w for w in words if w), via="git ext::", stdin=False))
    return out


def _shell(name: str, argv: tuple[str, ...]) -> list[Exec]:
    i = 1
    command_mode = False
    out: list[Exec] = []
    while i < len(argv):
        arg = argv[i]
        if arg in ("--", "-"):
            i += 1
            break
        if arg.startswith("--"):
            if arg in ("--rcfile", "--init-file"):
                if i + 1 < len(argv):
                    out.append(StdinScript(via=f"{name} {arg}", lang="sh", source=argv[i + 1]))
                i += 2
                continue
            if arg == "--command":  # fish
                command_mode = True
            i += 1
            continue
        if (arg.startswith("-") or arg.startswith("+")) and len(arg) > 1:
            letters = arg[1:]
            if "c" in letters:
                command_mode = True
            if "o" in letters or "O" in letters:
                i += 2
                continue
            i += 1
            continue
        break
    if command_mode:
        if i < len(argv):
            out.append(ScriptExec(argv[i], via=f"{name} -c"))
        return out
    if i < len(argv):
        out.append(StdinScript(via=f"{name} FILE", lang="sh", source=argv[i]))
    else:
        out.append(StdinScript(via=name, lang="sh"))
    return out


def _interpreter(name: str, argv: tuple[str, ...]) -> list[Exec]:
    lang = "python" if is_python(name) else name
    code_flags = frozenset({"c"}) if lang == "python" else INTERPRETER_CODE_FLAGS.get(name, frozenset())
    value_flags = "WXQ" if lang == "python" else "IMrx"
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            flag, eq, value = arg.partition("=")
            if flag in ("--eval", "--print"):
                code = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
                return [CodeExec(lang, code, via=f"{name} {flag}")]
            i += 1
            continue
        if not (arg.startswith("-") and len(arg) > 1):
            break
        letters = arg[1:]
        step = 1
        for j, ch in enumerate(letters):
            attached = letters[j + 1 :]
            following = argv[i + 1] if i + 1 < len(argv) else ""
            if ch in code_flags:
                return [CodeExec(lang, attached or following, via=f"{name} -{ch}")]
            if lang == "python" and ch == "m":
                rest = argv[i + 1 :] if attached else argv[i + 2 :]
                return [ArgvExec((attached or following, *rest), via=f"{name} -m")]
            if ch in value_flags:
                step = 1 if attached else 2
                break
        i += step
    source = argv[i] if i < len(argv) else ""
    return [StdinScript(via=name, lang=lang, source="" if source == "-" else source)]


def _find(argv: tuple[str, ...], starts: list[str]) -> list[Exec]:
    out: list[Exec] = []
    i = 1
    while i < len(argv):
        if argv[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            inner: list[str] = []
            while j < len(argv) and argv[j] not in (";", "+"):
                inner.append(argv[j])
                j += 1
            expanded = tuple(
                " ".join(starts) if part == "{}" else part.replace("{}", starts[0] if starts else ".") for part in inner
            )
            if expanded:
                parts: list[str] = []
                for orig, new in zip(inner, expanded, strict=True):
                    parts.extend(starts if orig == "{}" and starts else [new])
                out.append(ArgvExec(tuple(parts), via=f"find {argv[i]}", stdin=False))
            i = j + 1
            continue
        i += 1
    return out


FIND_FILTERS = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex", "-newer", "-mtime",
    "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group", "-uid", "-gid", "-empty", "-perm",
    "-links", "-inum", "-samefile", "-lname", "-ilname", "-type", "-xtype", "-nouser", "-nogroup", "-mindepth",
    "-prune", "-used", "-newermt", "-fstype", "-readable", "-writable", "-executable",
})


def find_starts(argv: tuple[str, ...]) -> tuple[list[str], bool]:
    """(start paths, whether the expression filters which files match)."""
    starts: list[str] = []
    i = 1
    while i < len(argv) and argv[i] in ("-H", "-L", "-P", "-O0", "-O1", "-O2", "-O3") or (
        i < len(argv) and argv[i].startswith("-D")
    ):
        i += 2 if argv[i] == "-D" else 1
    while i < len(argv) and not argv[i].startswith("-") and argv[i] not in ("(", "!", ","):
        starts.append(argv[i])
        i += 1
    filtered = any(arg in FIND_FILTERS for arg in argv[i:])
    return starts or ["."], filtered


def _xargs(argv: tuple[str, ...]) -> tuple[tuple[str, ...], str | None, str]:
    """(command argv, replace string for -I/-i, delimiter mode) of an xargs invocation."""
    i = 1
    replace: str | None = None
    delim = "ws"
    with_arg = "EIaLnPsd"
    long_with_arg = frozenset({"arg-file", "delimiter", "max-lines", "max-args", "max-procs", "max-chars",
                               "process-slot-var", "eof"})
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name == "replace":
                replace = value if eq else "{}"
            elif name == "null":
                delim = "null"
            i += 1 if eq or name not in long_with_arg else 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            step = 1
            for j, ch in enumerate(letters):
                if ch == "0":
                    delim = "null"
                if ch == "i":
                    replace = letters[j + 1 :] or "{}"
                    break
                if ch in "el":
                    break
                if ch in with_arg:
                    value = letters[j + 1 :]
                    if not value and i + 1 < len(argv):
                        value = argv[i + 1]
                        step = 2
                    if ch == "I":
                        replace = value
                    if ch == "d":
                        delim = "line" if value in ("\\n", "\n") else "ws"
                    break
            i += step
            continue
        break
    command = argv[i:] or ("echo",)
    return tuple(command), replace, delim


def xargs_argv(argv: tuple[str, ...], stdin: str | None, known_prefix: bool) -> tuple[tuple[str, ...], bool]:
    """The argv xargs runs, with the (static) input tokens placed; flag when input is unknown."""
    command, replace, delim = _xargs(argv)
    if stdin is None:
        tokens: list[str] = []
    elif delim == "null":
        tokens = [t for part in stdin.split("\0") for t in part.split("\n") if t]
    elif delim == "line" or replace is not None:
        tokens = [t for t in stdin.splitlines() if t.strip()]
    else:
        try:
            tokens = shlex.split(stdin)
        except ValueError:
            tokens = stdin.split()
    tokens = tokens[:64]
    unknown = stdin is None or known_prefix
    if replace is not None:
        values = tokens or ["\ue000"]
        built: list[str] = []
        for part in command:
            if replace in part:
                built.extend(part.replace(replace, v) for v in values)
            else:
                built.append(part)
        return tuple(built), unknown
    extra = tuple(tokens) + (("\ue000",) if unknown else ())
    return command + extra, unknown


def peel(argv: tuple[str, ...]) -> list[Exec]:
    """Everything ``argv`` runs besides itself; see the module docstring."""
    if not argv:
        return []
    name = basename(argv[0])
    args = argv[1:]
    if name in _SIMPLE_WRAPPERS:
        with_arg, long_with_arg, numeric = _SIMPLE_WRAPPERS[name]
        i = skip_options(argv, 1, with_arg, long_with_arg, numeric)
        inner = argv[i:]
        privileged = name in PRIVILEGED_WRAPPERS
        if name in ("sudo", "doas") and not inner and ("s" in short_flags(args) or "i" in short_flags(args)):
            return [StdinScript(via=name, lang="sh")]
        return [ArgvExec(inner, via=name, privileged=privileged)] if inner else []
    if name in ("sudoedit",):
        return []
    if name == "env":
        return _env(argv)
    if name == "timeout":
        i = skip_options(argv, 1, "sk", frozenset({"signal", "kill-after"}))
        return [ArgvExec(argv[i + 1 :], via="timeout")] if len(argv) > i + 1 else []
    if name in ("chrt",):
        i = skip_options(argv, 1, "T P D".replace(" ", ""), frozenset({"sched-runtime"}))
        return [ArgvExec(argv[i + 1 :], via=name)] if len(argv) > i + 1 else []
    if name == "taskset":
        i = skip_options(argv, 1, "", frozenset())
        flags = short_flags(args)
        if "p" in flags:
            return []
        skip = 1 if "c" not in flags else 0
        i = skip_options(argv, 1, "c" if "c" in flags else "")
        return [ArgvExec(argv[i + skip :], via=name)] if len(argv) > i + skip else []
    if name == "command":
        flags = short_flags(args)
        if "v" in flags or "V" in flags:
            return [NoExec(via="command -v")]
        i = skip_options(argv, 1, "")
        return [ArgvExec(argv[i:], via="command")] if argv[i:] else []
    if name in ("busybox", "toybox"):
        i = skip_options(argv, 1, "")
        return [ArgvExec(argv[i:], via=name)] if argv[i:] else []
    if name == "chroot":
        i = skip_options(argv, 1, "", frozenset({"userspec", "groups"}))
        inner = argv[i + 1 :] or ("/bin/sh", "-i")
        return [ArgvExec(inner, via="chroot", privileged=True)]
    if name in ("su", "runuser", "sg"):
        commands = option_value(args, short="c", long="command")
        if commands:
            out: list[Exec] = [ScriptExec(c, via=f"{name} -c") for c in commands]
            return out
        if name == "sg":
            ops = operands(args)
            return [ScriptExec(" ".join(ops[1:]), via="sg")] if len(ops) > 1 else []
        return [StdinScript(via=name, lang="sh")]
    if name == "flock":
        commands = option_value(args, short="c", long="command")
        if commands:
            return [ScriptExec(c, via="flock -c") for c in commands]
        i = skip_options(argv, 1, "wEc", frozenset({"timeout", "conflict-exit-code"}))
        return [ArgvExec(argv[i + 1 :], via="flock")] if len(argv) > i + 1 else []
    if name == "watch":
        i = skip_options(argv, 1, "nqd", frozenset({"interval", "equexit"}))
        return [ScriptExec(" ".join(argv[i:]), via="watch")] if argv[i:] else []
    if name == "script":
        return [ScriptExec(c, via="script -c") for c in option_value(args, short="c", long="command")]
    if name in ("ssh", "autossh"):
        return _ssh(argv)
    if name in ("eval",):
        return [ScriptExec(" ".join(args), via="eval")] if args else []
    if name in ("source", "."):
        return [StdinScript(via=name, lang="sh", source=args[0])] if args else []
    if name in SHELLS:
        return _shell(name, argv)
    if is_interpreter(name):
        return _interpreter(name, argv)
    if name in AWKS:
        return _awk(argv)
    if name == "find":
        starts, filtered = find_starts(argv)
        placed = [s.rstrip("/") + "/\ue000" if filtered else s for s in starts]
        return _find(argv, placed)
    if name == "git":
        return _git(argv)
    if name == "sort":
        return [ScriptExec(v, via="sort --compress-program", exec_flag=True)
                for v in option_value(args, long="compress-program")]
    if name in ("tar", "gtar", "bsdtar"):
        return _tar(args)
    if name == "rsync":
        values = option_value(args, short="e", long="rsh") + option_value(args, long="rsync-path")
        return [ScriptExec(v, via="rsync -e", exec_flag=True) for v in values]
    if name == "zip":
        values = option_value(args, long="unzip-command")
        values += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-TT"]
        return [ScriptExec(v, via="zip -TT", exec_flag=True) for v in values]
    if name in ("vim", "vi", "nvim", "ex", "view"):
        values = option_value(args, short="c") + [a[1:] for a in args if a.startswith("+") and len(a) > 1]
        return [ScriptExec(v.lstrip(":").lstrip("!"), via=f"{name} -c", exec_flag=True)
                for v in values if v.lstrip(":").startswith("!")]
    if name == "trap":
        # trap ACTION SIGNAL…: ACTION is a script the shell runs later (on exit, a signal, ERR).
        ops = [a for a in args if a != "--"]
        if ops and ops[0] not in ("-p", "-l", "-P") and len(ops) > 1 and ops[0] not in ("-", ""):
            return [ScriptExec(ops[0], via="trap")]
        return []
    if name == "coproc":
        return [ArgvExec(args, via="coproc")] if args else []
    if name in ("sed", "gsed"):
        return _sed(args)
    if name == "parallel":
        return _parallel(argv)
    if name in ("less", "more", "man"):
        values = option_value(args, short="P") if name == "man" else []
        return [ScriptExec(v, via="man -P", exec_flag=True) for v in values]
    return []


def _env(argv: tuple[str, ...]) -> list[Exec]:
    i = 1
    args = list(argv)
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        split_value: str | None = None
        if arg.startswith("--split-string="):
            split_value = arg.split("=", 1)[1]
        elif arg in ("-S", "--split-string") and i + 1 < len(args):
            split_value = args[i + 1]
            del args[i + 1]
        elif arg.startswith("-") and not arg.startswith("--") and "S" in arg:
            pos = arg.index("S")
            split_value = arg[pos + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
            if not arg[pos + 1 :] and i + 1 < len(args):
                del args[i + 1]
        if split_value is not None:
            try:
                pieces = shlex.split(split_value)
            except ValueError:
                pieces = split_value.split()
            args[i : i + 1] = pieces
            continue
        if arg.startswith("--"):
            name = arg[2:]
            i += 2 if name in ("unset", "chdir", "argv0") else 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            i += 2 if arg[-1] in "uCa" and len(arg) == 2 else 1
            continue
        if "=" in arg and not arg.startswith("=") and arg.split("=", 1)[0].replace("_", "a").isalnum():
            i += 1
            continue
        break
    inner = tuple(args[i:])
    assigns = [a for a in args[1:i] if "=" in a and not a.startswith("-")]
    out: list[Exec] = [ScriptExec(a.split("=", 1)[1], via=f"env {a.split('=', 1)[0]}", exec_flag=True)
                       for a in assigns if a.split("=", 1)[0] in EXEC_ENV_VARS]
    if inner:
        out.append(ArgvExec(inner, via="env"))
    return out


def _ssh(argv: tuple[str, ...]) -> list[Exec]:
    out: list[Exec] = []
    args = argv[1:]
    for value in option_value(args, short="o"):
        key, sep, rest = value.replace("=", " ", 1).partition(" ")
        if key.lower() in ("proxycommand", "localcommand", "knownhostscommand", "remotecommand") and sep:
            out.append(ScriptExec(rest.strip(), via=f"ssh -o {key}", exec_flag=True))
    i = skip_options(argv, 1, "BbcDEeFIiJLlmOoPpQRSWw")
    if len(argv) > i + 1:
        out.append(ScriptExec(" ".join(argv[i + 1 :]), via="ssh host"))
    return out


def _tar(args: tuple[str, ...]) -> list[Exec]:
    values = (
        option_value(args, long="to-command")
        + option_value(args, long="use-compress-program")
        + option_value(args, long="info-script")
        + option_value(args, long="new-volume-script")
    )
    for i, arg in enumerate(args):
        if arg == "-I" and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith("-I") and len(arg) > 2:
            values.append(arg[2:])
        elif arg == "-F" and i + 1 < len(args):
            values.append(args[i + 1])
    for value in option_value(args, long="checkpoint-action"):
        if value.startswith("exec="):
            values.append(value[5:])
    return [ScriptExec(v, via="tar exec option", exec_flag=True) for v in values]


def _awk(argv: tuple[str, ...]) -> list[Exec]:
    i = 1
    args = argv
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-f", "--file"):
            return []
        if arg in ("-v", "-F", "--assign", "--field-separator"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        break
    if i < len(args):
        return [CodeExec("awk", args[i], via=basename(argv[0]))]
    return []


# GNU sed's ``e`` command runs a shell command (``1e rm -rf /``: the rest of the line) and a bare
# ``e``, like the ``e`` flag of ``s///e``, runs the pattern space. Addresses, ``!`` and grouping
# can precede it in many spellings, so any ``e`` that stands alone (not inside a word, followed by
# a blank, ``;``, ``}`` or the end of a line) is taken for the command: an over-approximation that
# only costs an approval on the rare script holding a lone ``e`` inside a regex.
_SED_E = re.compile(r"(?<![A-Za-z_\\])e(?=[ \t]|[;}\n]|$)([^\n]*)")
DYNAMIC = "\ue000"  # analyze.DYN: text known only at run time


def _sed_scripts(args: tuple[str, ...]) -> list[str]:
    """The script texts of a sed command line (``-e``/``--expression`` values, else the first
    operand); ``-f`` files cannot be read here."""
    scripts = option_value(args, short="e", long="expression")
    if scripts:
        return scripts
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-f", "--file") or arg.startswith("--file=") or (arg.startswith("-f") and len(arg) > 2):
            return []
        if arg in ("-l", "--line-length"):
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            i += 1
            continue
        break
    return [args[i]] if i < len(args) else []


def _sed(args: tuple[str, ...]) -> list[Exec]:
    if "--sandbox" in args:
        return []  # GNU sed refuses e, r and w in sandbox mode
    out: list[Exec] = []
    for script in _sed_scripts(args):
        for m in _SED_E.finditer(script):
            command = m.group(1).strip()
            if not command or command[0] in ";}":
                out.append(ScriptExec(DYNAMIC, via="sed e", exec_flag=True))  # runs the pattern space
            else:
                out.append(ScriptExec(command, via="sed e", exec_flag=True))
            if len(out) >= 16:
                break
    return out


def _parallel(argv: tuple[str, ...]) -> list[Exec]:
    """GNU parallel runs ``command arg`` through a shell for each argument after ``:::`` (or
    each argument as a command when no command is given); arguments from ``::::`` files or
    stdin are unknown here."""
    i = skip_options(argv, 1, "jSadIEPnNsLXmCe", frozenset({"jobs", "sshlogin", "arg-file", "delimiter", "colsep",
                                                         "timeout", "joblog", "results", "workdir", "env", "basefile",
                                                         "transfer-file", "return", "max-args", "max-replace-args",
                                                         "load", "memfree", "tmpdir", "tagstring", "replace"}))
    rest = list(argv[i:])
    command: list[str] = []
    while rest and rest[0] not in (":::", "::::", ":::+", "::::+"):
        command.append(rest.pop(0))
    values: list[str] = []
    unknown = not rest
    while rest:
        sep = rest.pop(0)
        group: list[str] = []
        while rest and rest[0] not in (":::", "::::", ":::+", "::::+"):
            group.append(rest.pop(0))
        if sep.startswith("::::"):
            unknown = True
        else:
            values.extend(group)
    values = values[:64] + ([DYNAMIC] if unknown else [])
    out: list[Exec] = []
    for value in values:
        if not command:
            out.append(ScriptExec(value, via="parallel"))
        elif any("{" in part for part in command):
            out.append(ScriptExec(" ".join(part.replace("{}", value) for part in command), via="parallel"))
        else:
            out.append(ScriptExec(" ".join([*command, value]), via="parallel"))
    return out
