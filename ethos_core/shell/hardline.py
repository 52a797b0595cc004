"""Hardline rules (stage ⑦): operations denied whatever the configuration says.

Invariant: :func:`hardline_findings` judges every simple command an input would run (as
listed by :func:`ethos_core.shell.analyze.analyze`, wrappers and payloads peeled) and returns
a finding for each of:

- ``hardline.rm_root`` — recursive deletion (``rm -r`` in any flag spelling or order,
  ``--no-preserve-root``, ``find -delete``/``-exec rm`` without filters, ``rsync --delete``,
  ``mv`` away) of ``/``, a home directory, a glob over either, or a system directory;
- ``hardline.block_device`` — writes to raw block devices (``dd of=``, redirections, ``cp``,
  ``tee``; ``shred``/``wipefs``/``blkdiscard``/partitioners on a device);
- ``hardline.mkfs`` — any ``mkfs*``/``mke2fs``/``mkswap``/``newfs``;
- ``hardline.fork_bomb`` — a function that calls itself in parallel under any name, or a
  fork loop in interpreter code;
- ``hardline.chmod_root`` — recursive chmod/chown/chgrp/chattr/setfacl of the targets above;
- ``hardline.system_file_write`` — writing ``/etc/passwd|shadow|gshadow|group|sudoers``,
  ``/etc/sudoers.d``, ``/boot``, ``/sys``, ``/proc/sys``, ``/etc/ld.so.preload`` or
  ``authorized_keys``;
- ``hardline.kill_all`` — ``kill`` of pid ``-1`` or ``1``, ``killall5``;
- ``hardline.reverse_shell`` — ``/dev/tcp``/``/dev/udp``, ``nc -e/-c``, socat ``exec:``/
  ``system:``, a shell reading stdin in a pipeline with a network tool, socket-to-shell code;
- ``hardline.floor_read`` / ``hardline.floor_write`` — touching the always-deny floor of
  :mod:`ethos_core.fs.floor` (one list with the filesystem boundary);
- ``shell.unparseable`` / ``shell.too_large`` / ``shell.too_deep`` — input that cannot be
  judged is denied, never allowed (chosen over APPROVE: a human cannot review what the
  parser cannot show, and under ``approvalMode: off`` an APPROVE would not stop it).

What it does not cover: destruction a program performs from files it reads (a Makefile,
a script on disk); commands whose program name is only known at run time are judged as if
they were ``rm``/``chmod``/``kill``/``dd``, or ``mkfs`` when an operand is a device (the dangerous
reading), and otherwise left to the risk classifier's obfuscation rule.
"""

from __future__ import annotations

import re

import attrs

from ethos_core.shell import wrappers
from ethos_core.shell.analyze import DYN, Analysis, SimpleCommand, describe
from ethos_core.shell.paths import floor_hit, is_block_device, read_targets, rootish, write_targets

SYSTEM_WRITE_PROTECTED: tuple[str, ...] = (
    "/etc/passwd", "/etc/passwd-", "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/group",
    "/etc/sudoers", "/etc/sudoers.d", "/boot", "/sys", "/proc/sys", "/proc/sysrq-trigger", "/etc/ld.so.preload",
    "~/.ssh/authorized_keys", "~/.ssh/authorized_keys2", "/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2",
)
DEVICE_DESTROYERS = frozenset({"shred", "wipefs", "blkdiscard", "sfdisk", "fdisk", "gdisk", "sgdisk", "parted",
                               "cfdisk", "mkswap", "badblocks", "cryptsetup", "hdparm", "dd", "cp", "tee",
                               "pv", "flashrom", "nvme", "sg_format"})
NETWORK_TOOLS = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "telnet", "socat", "openssl",
                           "cryptcat", "pwncat", "sbd"})
_MKFS = re.compile(r"^(?:mkfs(?:\..+)?|mke2fs|mkdosfs|mkntfs|newfs(?:_.+)?|mkexfatfs|mkudffs|mformat|mkswap|"
                   r"mkfs\.[a-z0-9]+)$")

RULE_REASONS = {
    "hardline.rm_root": "recursive deletion of the root, a home or a system directory",
    "hardline.block_device": "writing to a raw block device",
    "hardline.mkfs": "creating a filesystem",
    "hardline.fork_bomb": "a fork bomb",
    "hardline.chmod_root": "recursive permission or owner change of the root, a home or a system directory",
    "hardline.system_file_write": "writing a system account, boot or kernel file",
    "hardline.kill_all": "killing every process",
    "hardline.reverse_shell": "a reverse or bind shell",
    "hardline.floor_read": "reading an always-denied location",
    "hardline.floor_write": "writing an always-denied location",
}


@attrs.frozen
class Finding:
    rule: str
    reason: str
    command: tuple[str, ...] = ()
    via: tuple[str, ...] = ()


def _recursive(cmd: SimpleCommand) -> bool:
    args = cmd.argv[1:]
    flags = wrappers.short_flags(args)
    return "r" in flags or "R" in flags or wrappers.long_flag(args, "recursive")


def _targets(cmd: SimpleCommand) -> list[str]:
    from ethos_core.shell.analyze import resolve_path

    return [resolve_path(op, cmd.cwd) for op in wrappers.operands(cmd.argv[1:])]


def _match_protected(path: str, home: str) -> str | None:
    import fnmatch

    if not path.startswith("/"):
        return None
    parts = [p for p in path.replace(DYN, "*").split("/") if p]
    for pattern in SYSTEM_WRITE_PROTECTED:
        full = home + pattern[1:] if pattern.startswith("~") else pattern
        pparts = [p for p in full.split("/") if p]
        if len(parts) < len(pparts):
            continue
        if all(fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a) for a, b in zip(parts, pparts, strict=False)):
            return full
    return None


def _check_rm(cmd: SimpleCommand, name: str, home: str) -> Finding | None:
    args = cmd.argv[1:]
    if name == "rm":
        recursive = _recursive(cmd)
        if recursive and wrappers.long_flag(args, "no-preserve-root", min_prefix=4):
            return Finding("hardline.rm_root", "rm --no-preserve-root removes the whole filesystem")
        if recursive:
            for target in _targets(cmd):
                why = rootish(target, home)
                if why:
                    return Finding("hardline.rm_root", f"recursive deletion of {why}")
    if name == "find" and "-delete" in args:
        starts, filtered = wrappers.find_starts(cmd.argv)
        from ethos_core.shell.analyze import resolve_path

        for start in starts:
            why = rootish(resolve_path(start, cmd.cwd), home)
            if why and not filtered:
                return Finding("hardline.rm_root", f"find -delete of {why}")
    if name == "rsync" and any(a.startswith("--delete") or a.startswith("--remove-source") for a in args):
        targets = _targets(cmd)
        if targets and (why := rootish(targets[-1], home)):
            return Finding("hardline.rm_root", f"rsync --delete into {why}")
    if name == "mv":
        targets = _targets(cmd)
        for target in targets[:-1]:
            why = rootish(target, home)
            if why:
                return Finding("hardline.rm_root", f"moving away {why}")
    return None


def _check_chmod(cmd: SimpleCommand, name: str, home: str) -> Finding | None:
    if name not in ("chmod", "chown", "chgrp", "chattr", "setfacl"):
        return None
    targets = _targets(cmd)[1:] if name != "setfacl" else _targets(cmd)
    recursive = _recursive(cmd)
    for target in targets:
        why = rootish(target, home)
        if why and (recursive or target == "/"):
            return Finding("hardline.chmod_root", f"{name} -R of {why}")
    return None


def _check_device(cmd: SimpleCommand, name: str) -> Finding | None:
    for redirect in cmd.redirects:
        if redirect.writes and is_block_device(redirect.target):
            return Finding("hardline.block_device", f"redirection into the block device {redirect.target}")
    if name == "dd":
        for arg in cmd.argv[1:]:
            if arg.startswith("of=") and is_block_device(arg[3:]):
                return Finding("hardline.block_device", f"dd writes the block device {arg[3:]}")
        return None
    if name in DEVICE_DESTROYERS:
        ops = wrappers.operands(cmd.argv[1:])
        if name in ("cp", "pv"):
            ops = ops[-1:]
        if name == "badblocks" and "w" not in wrappers.short_flags(cmd.argv[1:]):
            return None
        if name == "hdparm" and not any("erase" in a or "write" in a or "trim" in a for a in cmd.argv):
            return None
        for op in ops:
            if is_block_device(op):
                return Finding("hardline.block_device", f"{name} on the block device {op}")
    return None


def _check_kill(cmd: SimpleCommand, name: str) -> Finding | None:
    if name == "killall5":
        return Finding("hardline.kill_all", "killall5 signals every process")
    if name != "kill":
        return None
    args = list(cmd.argv[1:])
    pids: list[str] = []
    i = 0
    signal_given = False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            pids.extend(args[i + 1 :])
            break
        if arg in ("-s", "-n", "--signal"):
            signal_given = True
            i += 2
            continue
        if arg in ("-l", "-L", "--list", "--table"):
            return None
        if arg.startswith("-") and not signal_given and i == 0:
            signal_given = True
            i += 1
            continue
        pids.append(arg)
        i += 1
    for pid in pids:
        if pid in ("-1", "1"):
            return Finding("hardline.kill_all", f"kill of pid {pid} signals every process (or init)")
    return None


def _check_reverse_shell(cmd: SimpleCommand, name: str) -> Finding | None:
    for redirect in cmd.redirects:
        if "/dev/tcp/" in redirect.target or "/dev/udp/" in redirect.target:
            return Finding("hardline.reverse_shell", f"bash network redirection {redirect.target}")
    for arg in cmd.argv:
        if "/dev/tcp/" in arg or "/dev/udp/" in arg:
            return Finding("hardline.reverse_shell", "bash network device path /dev/tcp or /dev/udp")
    args = cmd.argv[1:]
    if name in ("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "cryptcat", "pwncat"):
        flags = wrappers.short_flags(args)
        if "e" in flags or "c" in flags or any(
            wrappers.long_flag(args, n) for n in ("exec", "sh-exec", "lua-exec")
        ):
            return Finding("hardline.reverse_shell", f"{name} connects a program to the network")
    if name == "socat" and any(re.match(r"(?i)^-?(exec|system)[:,]", a) or re.search(r"(?i)[!,](exec|system):", a)
                               for a in args):
        return Finding("hardline.reverse_shell", "socat EXEC/SYSTEM address connects a program to the network")
    if (wrappers.is_shell(name) or wrappers.is_interpreter(name)) and cmd.pipe_peers:
        reads_stdin = any(isinstance(e, wrappers.StdinScript) and not e.source for e in wrappers.peel(cmd.argv))
        interactive = "i" in wrappers.short_flags(args)
        peers = {wrappers.basename(p) for p in cmd.pipe_peers} | {wrappers.basename(p) for p in cmd.upstream}
        if (reads_stdin or interactive) and peers & NETWORK_TOOLS:
            return Finding("hardline.reverse_shell", f"{name} executes what arrives from "
                           f"{', '.join(sorted(peers & NETWORK_TOOLS))}")
    return None


def _check_files(cmd: SimpleCommand, home: str, ethos_home: str | None) -> Finding | None:
    if any(isinstance(e, wrappers.ArgvExec) for e in wrappers.peel(cmd.argv)):
        return None  # a wrapper: the command it runs is judged on its own
    writes = write_targets(cmd)
    for target in writes:
        protected = _match_protected(target, home)
        if protected:
            return Finding("hardline.system_file_write", f"writes {protected}")
    for target in writes:
        rule = floor_hit(target, home, ethos_home)
        if rule:
            return Finding("hardline.floor_write", f"writes {target.replace(DYN, '*')} ({rule})")
    for target in read_targets(cmd):
        rule = floor_hit(target, home, ethos_home)
        if rule:
            return Finding("hardline.floor_read", f"reads {target.replace(DYN, '*')} ({rule})")
    return None


def check_command(cmd: SimpleCommand, home: str, ethos_home: str | None) -> Finding | None:
    """The first hardline finding for one simple command, or None."""
    name = cmd.name
    names = [name]
    if DYN in name:  # judge the dangerous reading of an unknown program name
        names = ["rm", "chmod", "chown", "kill", "dd", "mkfs"]
    for candidate in names:
        # An unknown program read as mkfs is dangerous only with a device operand; anything else
        # about it is the risk classifier's (obfuscation: the program is computed at run time).
        if _MKFS.match(candidate) and (candidate == name or any(a.startswith("/dev/") for a in cmd.argv[1:])):
            return Finding("hardline.mkfs", f"{candidate} creates a filesystem (destroys what was there)")
        for check in (_check_rm, _check_chmod):
            finding = check(cmd, candidate, home)
            if finding:
                return finding
        for check2 in (_check_device, _check_kill, _check_reverse_shell):
            finding = check2(cmd, candidate)
            if finding:
                return finding
    return _check_files(cmd, home, ethos_home)


_SIGNAL_RULES = {
    "fork_bomb": "hardline.fork_bomb",
    "payload_reverse_shell": "hardline.reverse_shell",
}


def hardline_findings(analysis: Analysis) -> list[Finding]:
    """Every hardline finding in ``analysis`` (parse errors first)."""
    found: list[Finding] = []
    if analysis.error:
        found.append(Finding(analysis.error, analysis.error_detail or "the command cannot be judged"))
        return found
    for sig in analysis.signals:
        rule = _SIGNAL_RULES.get(sig.kind)
        if rule:
            found.append(Finding(rule, sig.detail, via=sig.via))
    for cmd in analysis.commands:
        finding = check_command(cmd, analysis.home, analysis.ethos_home)
        if finding:
            found.append(attrs.evolve(finding, command=tuple(describe(cmd)["argv"]), via=cmd.via))
    return found
