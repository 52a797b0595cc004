"""Path facts shared by the hardline and risk rules: what a command reads and writes, which
targets are the root, a home or a system directory, and which hit the always-deny floor.

Invariant: floor membership is decided only by :mod:`ethos_core.fs.floor` — :func:`floor_rule`
for literal paths, and the same :func:`floor_entries` list for paths containing globs or
run-time values (a glob or unknown component is matched against each floor component in
both directions, so ``~/.s*/id_rsa`` and ``/proc/$$/environ`` hit the floor). No second list.

What it does not cover: symlinks (the shell parse never touches the disk) and paths a
program computes at run time.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath

from ethos_core.fs.floor import floor_entries, floor_rule
from ethos_core.shell import wrappers
from ethos_core.shell.analyze import DYN, SimpleCommand, resolve_path

GLOB_CHARS = frozenset("*?[")
SYSTEM_DIRS = frozenset({
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/usr", "/var", "/Users", "/System", "/Library", "/Applications", "/private",
    "/snap", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local", "/usr/share",
    "/var/lib", "/var/log", "/etc/ssh", "/etc/systemd",
})
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
HARMLESS_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/full",
                              "/dev/random", "/dev/urandom", "/dev/stdin", "/dev/ptmx"})


def has_glob(path: str) -> bool:
    return any(c in GLOB_CHARS for c in path) or DYN in path


def rootish(path: str, home: str) -> str | None:
    """Why deleting or re-permissioning ``path`` recursively would wreck the system, or None."""
    if not path.startswith("/"):
        return None
    if path == "/":
        return "the root directory"
    if path == home:
        return "your home directory"
    parts = path.split("/")
    if len(parts) >= 2 and any(c in GLOB_CHARS for c in parts[1]):
        return f"a glob over / ({path})"
    home_parts = home.rstrip("/").split("/")
    if (
        len(parts) > len(home_parts)
        and parts[: len(home_parts)] == home_parts
        and any(c in GLOB_CHARS for c in parts[len(home_parts)])
    ):
        return f"a glob over your home directory ({path})"
    if path in SYSTEM_DIRS:
        return f"the system directory {path}"
    if posixpath.dirname(home.rstrip("/")) == path:
        return f"every user's home ({path})"
    return None


def is_block_device(path: str) -> bool:
    import re

    if path in HARMLESS_DEVICES or not path.startswith("/dev/"):
        return False
    return bool(re.fullmatch(
        r"/dev/(?:sd[a-z]+\d*|hd[a-z]+\d*|vd[a-z]+\d*|xvd[a-z]+\d*|nvme\d+(?:n\d+)?(?:p\d+)?|mmcblk\d+(?:p\d+)?"
        r"|r?disk\d+(?:s\d+)?|dm-\d+|md\d+|mapper/.+|loop\d+|sr\d+|root|disk/by-[a-z]+/.+|zd\d+|ram\d+"
        r"|mtdblock\d+|nbd\d+|bcache\d+|mem|kmem|port|sd\*|nvme\*|[a-z]+\*)",
        path,
    ))


@functools.lru_cache(maxsize=16)
def _entries(home: str, ethos_home: str | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(floor_entries(home, ethos_home))


def floor_hit(path: str, home: str, ethos_home: str | None) -> str | None:
    """The floor rule id for ``path`` (absolute) or None; globs and run-time parts may match."""
    if not path.startswith("/") and not path.startswith(DYN):
        return None
    if not has_glob(path):
        return floor_rule(path, home, ethos_home)
    candidates = [path]
    if path.startswith(DYN):  # an unknown prefix may be $HOME or /
        rest = path[len(DYN):].lstrip("/")
        literal = [p for p in rest.split("/") if p and DYN not in p and not any(c in GLOB_CHARS for c in p)]
        if not literal:
            return None
        candidates = [posixpath.join(home, rest), "/" + rest]
    for cand in candidates:
        raw_parts = [p for p in cand.split("/") if p]
        parts = tuple(p.replace(DYN, "*") for p in raw_parts)
        for rule, entry in _entries(home, ethos_home):
            entry_parts = tuple(p for p in entry if p != "/")
            if len(parts) < len(entry_parts):
                # a trailing glob (not a run-time value) could still name something under the entry
                if not raw_parts or not any(c in GLOB_CHARS for c in raw_parts[-1]):
                    continue
            if all(
                fnmatch.fnmatchcase(ep, pp) or fnmatch.fnmatchcase(pp, ep)
                for pp, ep in zip(parts, entry_parts, strict=False)
            ):
                return rule
    return None


# --- what a command reads and writes ---------------------------------------------------------

NO_PATH_ARGS = frozenset({
    "echo", "printf", "test", "[", "[[", "basename", "dirname", "realpath", "readlink", "cd", "pushd", "popd",
    "type", "which", "whereis", "command", "alias", "true", "false", ":", "exit", "return", "sleep", "export",
    "unset", "local", "declare", "typeset", "readonly", "kill", "pkill", "pgrep", "killall", "git", "expr", "seq",
    "date", "wait", "jobs", "shift", "set", "trap", "hash", "umask", "ulimit", "let",
})
PATTERN_FIRST = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "awk", "gawk", "mawk", "jq", "yq",
                           "zgrep", "pgrep", "pkill", "perl", "git-grep"})
KEY_OPTION_COMMANDS = frozenset({"ssh", "scp", "sftp", "autossh", "ssh-add", "rsync", "git"})
WRITE_LAST = frozenset({"cp", "mv", "install", "ln", "rsync", "scp", "ditto", "rclone"})
WRITE_ALL = frozenset({"tee", "truncate", "shred", "rm", "unlink", "rmdir", "sponge", "sudoedit", "nano", "vi",
                       "vim", "nvim", "emacs", "ed", "mkdir", "touch", "mkfifo", "mknod"})
WRITE_AFTER_FIRST = frozenset({"chmod", "chown", "chgrp", "chattr", "setfacl"})


def _is_option(arg: str) -> bool:
    return arg.startswith("-") and len(arg) > 1


def write_targets(cmd: SimpleCommand) -> list[str]:
    """Resolved paths ``cmd`` creates, overwrites, deletes or re-permissions."""
    out = [r.target for r in cmd.redirects if r.writes and r.target and r.target not in HARMLESS_DEVICES
           and not r.target.startswith("/dev/fd/")]
    name = cmd.name
    args = cmd.argv[1:]
    ops = wrappers.operands(args)
    cwd = cmd.cwd
    if name in WRITE_ALL:
        out += ops
    elif name in WRITE_AFTER_FIRST:
        out += ops[1:] if name != "setfacl" else ops
    elif name in WRITE_LAST:
        target_dirs = wrappers.option_value(args, short="t", long="target-directory")
        out += target_dirs or ops[-1:]
    elif name == "dd":
        out += [a[3:] for a in args if a.startswith("of=")]
    elif name in ("sed", "perl") and ("i" in wrappers.short_flags(args) or wrappers.long_flag(args, "in-place")):
        explicit_script = any(a in ("-e", "-f", "--expression", "--file") for a in args) or name == "perl"
        out += ops if explicit_script else ops[1:]
    elif name in ("curl", "wget"):
        out += wrappers.option_value(args, short="o", long="output") if name == "curl" else \
            wrappers.option_value(args, short="O", long="output-document")
    elif name == "visudo":
        out += wrappers.option_value(args, short="f") or ["/etc/sudoers"]
    return [resolve_path(p, cwd) for p in out if p and p != "-"]


def read_targets(cmd: SimpleCommand) -> list[str]:
    """Resolved path-like arguments ``cmd`` may open (everything path-shaped but data-only args)."""
    out = [r.target for r in cmd.redirects if r.reads and r.target]
    name = cmd.name
    if name in NO_PATH_ARGS:
        return [resolve_path(p, cmd.cwd) for p in out]
    args = list(cmd.argv[1:])
    if name in KEY_OPTION_COMMANDS:  # the key file a client authenticates with is not read by the agent
        cleaned: list[str] = []
        skip = False
        for arg in args:
            if skip:
                skip = False
                continue
            if arg in ("-i", "-F", "-o"):
                skip = True
                continue
            if arg.startswith(("-i", "-F")) and len(arg) > 2:
                continue
            cleaned.append(arg)
        args = cleaned
    if name in PATTERN_FIRST and not any(a in ("-e", "-f", "--regexp", "--file", "--expression") for a in args):
        ops = wrappers.operands(tuple(args))
        if ops:
            args.remove(ops[0])
    for arg in args:
        if "@" in arg:  # curl -F f=@FILE, -d @FILE, --data=@FILE
            tail = arg.rsplit("@", 1)[1]
            if tail.startswith(("/", DYN)):
                out.append(tail)
        if _is_option(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[1])
            continue
        if "=" in arg:
            value = arg.split("=", 1)[1]
            if value.startswith(("/", DYN)) or name == "dd":
                out.append(value)
            continue
        out.append(arg)
    result: list[str] = []
    for p in out:
        if not p or "://" in p or "\n" in p:
            continue
        if p.startswith(("/", DYN)) or cmd.cwd is not None:
            result.append(resolve_path(p, cmd.cwd) if not p.startswith(DYN) else p)
    return result


def in_scratch(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SCRATCH_DIRS)
