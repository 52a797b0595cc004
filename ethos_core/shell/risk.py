"""Tier-1 risk rules (stage ⑧) over the analysed command: stable ids, levels low/medium/high.

Invariant: every simple command the input runs (wrappers and payloads peeled, see
:mod:`ethos_core.shell.analyze`) is judged; the result is the highest level found. Anything
above ``low`` is sent to approval by the built-in stage; an input the parser could not judge
is ``high`` here as well (the hardline stage already denies it).

Rules (id — level): ``risk.destructive_fs`` (medium/high), ``risk.vcs_rewrite``
(medium/high), ``risk.destructive_sql`` (high), ``risk.package_install`` (medium),
``risk.exfiltration`` (high), ``risk.privilege`` (high), ``risk.persistence`` (high),
``risk.process_control`` (medium), ``risk.env_dump`` (medium), ``risk.shutdown`` (high),
``risk.obfuscation`` (medium/high), ``risk.remote_exec`` (medium), ``risk.network_dynamic``
(medium: a network client's destination is only known at run time, see :mod:`.network`).

What it does not cover: intent. A low result means no rule matched, not that the command is
safe; the filesystem and network stages and the watcher still apply to the tool call, and
the program can still do anything its own files tell it to.
"""

from __future__ import annotations

import re

import attrs

from ethos_core.shell import wrappers
from ethos_core.shell.analyze import DYN, Analysis, SimpleCommand, describe, resolve_path
from ethos_core.shell.network import network_targets
from ethos_core.shell.paths import in_scratch, write_targets

LEVELS = {"low": 0, "medium": 1, "high": 2}


@attrs.frozen
class RiskFinding:
    rule: str
    level: str
    reason: str
    command: tuple[str, ...] = ()
    via: tuple[str, ...] = ()


SQL_CLIENTS = frozenset({"psql", "mysql", "mariadb", "sqlite3", "sqlite", "duckdb", "clickhouse-client", "clickhouse",
                         "cockroach", "sqlcmd", "mongo", "mongosh", "redis-cli", "cqlsh", "snowsql", "bq", "usql"})
_SQL_DROP = re.compile(r"(?i)\b(?:DROP\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|COLLECTION)|TRUNCATE\b|"
                       r"FLUSHALL\b|FLUSHDB\b|dropDatabase\s*\(|\.drop\s*\()")
_SQL_DELETE = re.compile(r"(?i)\bDELETE\s+FROM\b")
_SQL_UPDATE = re.compile(r"(?i)\bUPDATE\s+\S+\s+SET\b")
_SQL_WHERE = re.compile(r"(?i)\bWHERE\b")

PACKAGE_MANAGERS: dict[str, frozenset[str]] = {
    "pip": frozenset({"install", "download"}), "pip3": frozenset({"install", "download"}),
    "pipx": frozenset({"install", "run", "inject"}), "uv": frozenset({"add", "install", "tool"}),
    "npm": frozenset({"install", "i", "add", "exec", "x"}), "pnpm": frozenset({"install", "i", "add", "dlx"}),
    "yarn": frozenset({"add", "dlx", "global"}), "bun": frozenset({"add", "install", "x"}),
    "apt": frozenset({"install", "reinstall"}), "apt-get": frozenset({"install", "reinstall"}),
    "yum": frozenset({"install", "localinstall"}), "dnf": frozenset({"install"}), "apk": frozenset({"add"}),
    "pacman": frozenset({"-S", "-U", "-Sy", "-Syu"}), "zypper": frozenset({"install", "in"}),
    "brew": frozenset({"install", "tap", "reinstall"}), "gem": frozenset({"install"}),
    "cargo": frozenset({"install"}), "go": frozenset({"install", "get"}), "conda": frozenset({"install", "create"}),
    "mamba": frozenset({"install"}), "snap": frozenset({"install"}), "flatpak": frozenset({"install"}),
    "composer": frozenset({"require", "global"}), "poetry": frozenset({"add"}), "dpkg": frozenset({"-i", "--install"}),
    "rpm": frozenset({"-i", "-U", "-ivh", "-Uvh"}), "nix-env": frozenset({"-i", "-iA"}),
}
_LOCKFILE_INSTALL = re.compile(r"^(?:-r|--requirement|-e|--editable|-c|--constraint)$")
EXFIL_TOOLS = frozenset({"nc", "ncat", "netcat", "socat", "telnet", "ftp", "tftp", "sftp", "cryptcat"})
PRIVILEGE_TOOLS = frozenset({"sudo", "doas", "su", "pkexec", "runuser", "sg", "usermod", "useradd", "userdel",
                             "adduser", "deluser", "groupadd", "groupmod", "gpasswd", "passwd", "chpasswd", "visudo",
                             "setcap", "newgrp", "iptables", "ip6tables", "nft", "ufw", "firewall-cmd", "setenforce",
                             "sudoedit", "chroot", "nsenter", "insmod", "rmmod", "modprobe", "sysctl", "mount",
                             "umount", "swapoff", "swapon", "auditctl"})
SHUTDOWN_TOOLS = frozenset({"shutdown", "reboot", "halt", "poweroff", "kexec", "telinit"})
PROCESS_TOOLS = frozenset({"kill", "pkill", "killall", "xkill", "skill", "renice"})
PERSISTENCE_PATHS = (
    "~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.profile", "~/.zshrc", "~/.zprofile", "~/.zshenv",
    "~/.zlogin", "~/.config/fish", "~/.config/autostart", "~/.config/systemd", "~/.local/share/systemd",
    "~/Library/LaunchAgents", "~/.ssh/rc", "~/.xinitrc", "~/.xprofile", "~/.inputrc", "~/.vimrc",
    "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/zsh", "/etc/cron.d", "/etc/cron.daily",
    "/etc/cron.hourly", "/etc/cron.weekly", "/etc/cron.monthly", "/etc/crontab", "/var/spool/cron",
    "/etc/systemd", "/lib/systemd", "/usr/lib/systemd", "/etc/init.d", "/etc/rc.local", "/etc/xdg/autostart",
    "/Library/LaunchAgents", "/Library/LaunchDaemons", "/etc/environment", "/etc/ld.so.conf.d", "/etc/udev",
)
ENV_DUMPERS = frozenset({"env", "printenv"})
SECRET_NAME = re.compile(r"(?i)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE)")


def _git_rule(cmd: SimpleCommand) -> RiskFinding | None:
    _, sub_index = wrappers.git_global(cmd.argv)
    if sub_index >= len(cmd.argv):
        return None
    sub = cmd.argv[sub_index]
    args = cmd.argv[sub_index + 1 :]
    flags = wrappers.short_flags(args)
    if sub == "push":
        if "f" in flags or wrappers.long_flag(args, "force") or any(a.startswith("+") for a in args) or \
                wrappers.long_flag(args, "force-with-lease", min_prefix=7) or wrappers.long_flag(args, "mirror"):
            return RiskFinding("risk.vcs_rewrite", "high", "git push --force rewrites remote history")
        if "d" in flags or wrappers.long_flag(args, "delete") or any(a.startswith(":") for a in args):
            return RiskFinding("risk.vcs_rewrite", "high", "git push --delete removes remote refs")
    if sub == "reset" and wrappers.long_flag(args, "hard", min_prefix=2):
        return RiskFinding("risk.vcs_rewrite", "medium", "git reset --hard discards work")
    if sub == "clean" and ("f" in flags or wrappers.long_flag(args, "force")) and "n" not in flags:
        return RiskFinding("risk.vcs_rewrite", "medium", "git clean -f deletes untracked files")
    if sub in ("filter-branch", "filter-repo", "replace"):
        return RiskFinding("risk.vcs_rewrite", "high", f"git {sub} rewrites history")
    if sub == "reflog" and args[:1] in (("expire",), ("delete",)):
        return RiskFinding("risk.vcs_rewrite", "high", "git reflog expire drops recovery points")
    if sub == "branch" and ("D" in flags or ("d" in flags and wrappers.long_flag(args, "force"))):
        return RiskFinding("risk.vcs_rewrite", "medium", "git branch -D deletes an unmerged branch")
    if sub == "stash" and args[:1] in (("drop",), ("clear",)):
        return RiskFinding("risk.vcs_rewrite", "medium", "git stash drop/clear discards stashed work")
    if sub in ("checkout", "restore") and ("." in args or wrappers.long_flag(args, "force") or "f" in flags) \
            and not wrappers.long_flag(args, "staged"):
        return RiskFinding("risk.vcs_rewrite", "medium", f"git {sub} discards local changes")
    if sub == "gc" and any(a.startswith("--prune") for a in args):
        return RiskFinding("risk.vcs_rewrite", "medium", "git gc --prune drops unreachable objects")
    if sub == "update-ref" and "d" in flags:
        return RiskFinding("risk.vcs_rewrite", "medium", "git update-ref -d deletes a ref")
    if sub == "config" and any(a.lower() in ("core.hookspath", "core.fsmonitor", "core.sshcommand") for a in args):
        return RiskFinding("risk.persistence", "high", "git config makes git run a command later")
    return None


def _sql_rule(cmd: SimpleCommand) -> RiskFinding | None:
    if cmd.name not in SQL_CLIENTS and not (cmd.name == "docker" and "exec" in cmd.argv):
        return None
    text = " ".join(cmd.argv[1:]) + "\n" + (cmd.stdin or "")
    if _SQL_DROP.search(text):
        return RiskFinding("risk.destructive_sql", "high", "drops or truncates data")
    for statement in text.split(";"):
        if (_SQL_DELETE.search(statement) or _SQL_UPDATE.search(statement)) and not _SQL_WHERE.search(statement):
            return RiskFinding("risk.destructive_sql", "high", "DELETE or UPDATE without WHERE")
    if cmd.stdin is None and cmd.upstream:
        return RiskFinding("risk.destructive_sql", "medium", "runs SQL that cannot be inspected")
    return None


def _package_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in ("npx", "pnpx", "bunx", "uvx"):
        return RiskFinding("risk.package_install", "medium", f"{name} downloads and runs a package")
    verbs = PACKAGE_MANAGERS.get(name)
    if verbs is None:
        return None
    ops = [a for a in args if not a.startswith("-") or a in verbs]
    if name in ("pacman", "dpkg", "rpm", "nix-env"):
        if any(a in verbs or (a.startswith("-S") and name == "pacman") for a in args):
            return RiskFinding("risk.package_install", "medium", f"{name} installs packages")
        return None
    if not ops or ops[0] not in verbs:
        if name == "uv" and args[:2] == ("pip", "install"):
            ops = list(args[1:])
        elif name == "yarn" and ops and ops[0] == "global":
            pass
        else:
            return None
    named = [a for a in ops[1:] if not a.startswith("-")]
    if any(_LOCKFILE_INSTALL.match(a) for a in args) and not [a for a in named if not a.endswith(".txt")
                                                            and a != "."]:
        return None
    if not named and name in ("npm", "pnpm", "yarn", "bun", "uv", "poetry", "composer", "go", "cargo"):
        return None  # installs what the project's lockfile declares
    if named == ["."] or named == ["-e", "."]:
        return None
    return RiskFinding("risk.package_install", "medium", f"{name} {ops[0]} installs third-party code")


def _exfil_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in EXFIL_TOOLS:
        return RiskFinding("risk.exfiltration", "high", f"{name} moves raw data over the network")
    if name == "curl":
        for i, arg in enumerate(args):
            nxt = args[i + 1] if i + 1 < len(args) else ""
            if arg in ("-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "-F", "--form", "-T",
                       "--upload-file", "--json") and ("@" in nxt or DYN in nxt or arg in ("-T", "--upload-file")):
                return RiskFinding("risk.exfiltration", "high", "curl uploads a file or computed data")
            if arg.startswith(("--data=@", "--data-binary=@", "--upload-file=", "-d@", "-T")) and len(arg) > 2:
                return RiskFinding("risk.exfiltration", "high", "curl uploads a file")
        if cmd.stdin is None and cmd.upstream and any(a in ("-d", "--data-binary", "-T") for a in args):
            return RiskFinding("risk.exfiltration", "high", "curl uploads piped data")
    if name == "wget" and any(a.startswith(("--post-file", "--body-file")) for a in args):
        return RiskFinding("risk.exfiltration", "high", "wget uploads a file")
    if name in ("scp", "rsync", "rclone"):
        ops = wrappers.operands(args)
        if ops and re.match(r"^[^/]*[A-Za-z0-9_.-]:", ops[-1]) and not ops[-1].startswith("/"):
            return RiskFinding("risk.exfiltration", "high", f"{name} copies files to a remote host")
        if ops and ops[-1].startswith(("s3://", "gs://", "az://")):
            return RiskFinding("risk.exfiltration", "high", f"{name} copies files to cloud storage")
    if name in ("aws", "gsutil", "az") and any(a in ("cp", "sync", "mv") for a in args):
        ops = wrappers.operands(args)
        if ops and any(o.startswith(("s3://", "gs://", "https://")) for o in ops[-1:]):
            return RiskFinding("risk.exfiltration", "high", f"{name} uploads to cloud storage")
    if name == "dd" and any(a.startswith("if=/dev/") and a not in ("if=/dev/zero", "if=/dev/urandom",
                                                                   "if=/dev/random") for a in args):
        return RiskFinding("risk.exfiltration", "high", "dd reads a raw device")
    return None


def _privilege_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in PRIVILEGE_TOOLS:
        return RiskFinding("risk.privilege", "high", f"{name} changes privileges or system security state")
    if name == "chmod" and any(re.fullmatch(r"[0-7]?[4-7][0-7]{3}|[ugoa]*[+=][rwxXt]*s[rwxXts]*", a) for a in args):
        return RiskFinding("risk.privilege", "high", "chmod sets a setuid/setgid bit")
    if name in ("chown", "chgrp") and any(a.split(":")[0] in ("root", "0") for a in wrappers.operands(args)[:1]):
        return RiskFinding("risk.privilege", "high", "chown to root")
    if name in ("docker", "podman") and ("run" in args or "create" in args or "exec" in args):
        joined = " ".join(args)
        if "--privileged" in args or re.search(r"(?:^|\s)(?:-v|--volume)[= ]/(?::|\s|$)", joined) or \
                "--pid=host" in args or "--net=host" in args or "--network=host" in args or "--cap-add" in joined:
            return RiskFinding("risk.privilege", "high", f"{name} runs a container with host privileges")
    if cmd.privileged:
        return RiskFinding("risk.privilege", "high", "runs as another user (sudo/doas/su)")
    return None


def _persistence_rule(cmd: SimpleCommand, home: str) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name == "crontab" and not ({"-l"} & set(args)):
        return RiskFinding("risk.persistence", "high", "crontab installs scheduled commands")
    if name in ("at", "batch") and not ({"-l", "-d", "-r"} & set(args)):
        return RiskFinding("risk.persistence", "high", f"{name} schedules a command")
    if name == "systemctl" and any(a in ("enable", "link", "preset", "edit", "set-default", "set-property")
                                   for a in args):
        return RiskFinding("risk.persistence", "high", "systemctl enables a unit")
    if name == "launchctl" and any(a in ("load", "bootstrap", "enable", "submit") for a in args):
        return RiskFinding("risk.persistence", "high", "launchctl loads a job")
    for target in write_targets(cmd):
        for pattern in PERSISTENCE_PATHS:
            full = home + pattern[1:] if pattern.startswith("~") else pattern
            if target == full or target.startswith(full.rstrip("/") + "/") or \
                    (target.startswith(full) and pattern.endswith("rc")):
                return RiskFinding("risk.persistence", "high", f"writes {full}, which runs at login or on a schedule")
    return None


def _process_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in PROCESS_TOOLS:
        return RiskFinding("risk.process_control", "medium", f"{name} signals processes")
    if name == "systemctl" and any(a in ("stop", "restart", "kill", "disable", "mask", "isolate", "reload")
                                   for a in args):
        return RiskFinding("risk.process_control", "medium", "systemctl stops or restarts services")
    if name == "service" and any(a in ("stop", "restart", "reload") for a in args):
        return RiskFinding("risk.process_control", "medium", "service stops or restarts a service")
    if name == "launchctl" and any(a in ("unload", "bootout", "kill", "stop") for a in args):
        return RiskFinding("risk.process_control", "medium", "launchctl stops a job")
    return None


def _env_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in ENV_DUMPERS and (name == "printenv" or not [a for a in args if not a.startswith("-") and "=" not in a]):
        return RiskFinding("risk.env_dump", "medium", f"{name} prints the environment (secrets live there)")
    if name in ("set", "export", "declare", "typeset", "compgen") and (
        not args or any(a in ("-p", "-x", "-v", "-e") for a in args[:1])
    ) and name != "compgen" or (name == "compgen" and any(a in ("-v", "-e") for a in args)):
        return RiskFinding("risk.env_dump", "medium", f"{name} lists variables (secrets live there)")
    return None


def _shutdown_rule(cmd: SimpleCommand) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    if name in SHUTDOWN_TOOLS or (name == "init" and args[:1] in (("0",), ("6",))):
        return RiskFinding("risk.shutdown", "high", f"{name} stops or restarts the machine")
    if name == "systemctl" and any(a in ("poweroff", "reboot", "halt", "suspend", "hibernate", "kexec",
                                         "rescue", "emergency") for a in args):
        return RiskFinding("risk.shutdown", "high", "systemctl stops or restarts the machine")
    return None


def _destructive_rule(cmd: SimpleCommand, home: str) -> RiskFinding | None:
    name = cmd.name
    args = cmd.argv[1:]
    cwd = cmd.cwd
    if name in ("rm", "shred", "srm", "unlink", "rmdir") or (name == "find" and "-delete" in args):
        if name == "find":
            starts, filtered = wrappers.find_starts(cmd.argv)
            targets = [s.rstrip("/") + "/matched" for s in starts] if filtered else starts
            recursive = not filtered
        else:
            targets = wrappers.operands(args)
            flags = wrappers.short_flags(args)
            recursive = "r" in flags or "R" in flags or wrappers.long_flag(args, "recursive") or name == "shred"
        level = "low"
        why = ""
        for target in targets:
            resolved = resolve_path(target, cwd)
            if DYN in target or cmd.unknown_args:
                lvl, reason = ("high" if recursive else "medium"), "targets only known at run time"
            elif resolved.startswith("/") and not in_scratch(resolved) and not (
                cwd and resolved.startswith(cwd.rstrip("/") + "/")
            ):
                lvl, reason = ("high" if recursive else "medium"), f"outside the working directory ({resolved})"
            elif target in (".", "*", "./*", "..") or target.startswith("../") or (cwd and resolved == cwd):
                lvl, reason = "high", f"the whole working directory or its parent ({target})"
            else:
                continue
            if LEVELS[lvl] > LEVELS[level]:
                level, why = lvl, reason
        if level != "low":
            verb = "deletes recursively" if recursive else "deletes"
            return RiskFinding("risk.destructive_fs", level, f"{name} {verb} {why}")
        return None
    if name == "dd" and any(a.startswith("of=") for a in args):
        return RiskFinding("risk.destructive_fs", "medium", "dd overwrites a file")
    if name == "rsync" and any(a.startswith("--delete") for a in args):
        return RiskFinding("risk.destructive_fs", "medium", "rsync --delete removes files at the destination")
    if name == "truncate" and any(a in ("-s0", "0") or a.startswith("--size=0") for a in args):
        return RiskFinding("risk.destructive_fs", "medium", "truncate empties files")
    return None


def _remote_rule(cmd: SimpleCommand) -> RiskFinding | None:
    if cmd.name in ("ssh", "autossh") and any(isinstance(e, wrappers.ScriptExec) and e.via == "ssh host"
                                              for e in wrappers.peel(cmd.argv)):
        return RiskFinding("risk.remote_exec", "medium", "runs a command on a remote host")
    if cmd.name in ("kubectl", "oc") and "exec" in cmd.argv:
        return RiskFinding("risk.remote_exec", "medium", "runs a command inside a cluster")
    if cmd.name == "history" and "-c" in cmd.argv:
        return RiskFinding("risk.obfuscation", "medium", "clears the shell history")
    return None


SIGNAL_RULES: dict[str, tuple[str, str, str]] = {
    "lookalike": ("risk.obfuscation", "high", "look-alike Unicode characters in the command"),
    "hidden_char": ("risk.obfuscation", "high", "invisible characters in the command"),
    "dynamic_command": ("risk.obfuscation", "high", "the program to run is computed at run time"),
    "dynamic_script": ("risk.obfuscation", "high", "a script built at run time is executed (eval of variables)"),
    "decode_exec": ("risk.obfuscation", "high", "decoded data is executed"),
    "download_exec": ("risk.obfuscation", "high", "downloaded data is executed"),
    "pipe_to_shell": ("risk.obfuscation", "high", "command output is executed as a script"),
    "exec_flag": ("risk.obfuscation", "medium", "an option or variable makes a program run a command"),
    "loader_env": ("risk.obfuscation", "high", "a loader variable injects code into programs"),
    "decoded_value": ("risk.obfuscation", "medium", "a command uses a value decoded at run time"),
    "inline_exec": ("risk.obfuscation", "medium", "interpreter code runs commands"),
    "secret_var": ("risk.env_dump", "medium", "expands a secret-looking variable"),
    "xargs_unknown": ("risk.obfuscation", "low", "xargs arguments arrive at run time"),
}


def risk_findings(analysis: Analysis) -> list[RiskFinding]:
    """Every tier-1 finding for ``analysis``."""
    if analysis.error:
        return [RiskFinding(analysis.error, "high", analysis.error_detail or "the command cannot be judged")]
    found: list[RiskFinding] = []
    for sig in analysis.signals:
        rule = SIGNAL_RULES.get(sig.kind)
        if rule:
            found.append(RiskFinding(rule[0], rule[1], f"{rule[2]} ({sig.detail})", via=sig.via))
    home = analysis.home
    for cmd in analysis.commands:
        if not cmd.argv:
            continue
        for check in (_destructive_rule, _persistence_rule):
            finding = check(cmd, home)
            if finding:
                found.append(attrs.evolve(finding, command=tuple(describe(cmd)["argv"]), via=cmd.via))
        for check2 in (_git_rule if cmd.name == "git" else None, _sql_rule, _package_rule, _exfil_rule,
                       _privilege_rule, _process_rule, _env_rule, _shutdown_rule, _remote_rule):
            if check2 is None:
                continue
            finding = check2(cmd)
            if finding:
                found.append(attrs.evolve(finding, command=tuple(describe(cmd)["argv"]), via=cmd.via))
    dynamic = network_targets(analysis).dynamic
    if dynamic:
        shown = "; ".join(dynamic[:3]) + ("; …" if len(dynamic) > 3 else "")
        found.append(RiskFinding("risk.network_dynamic", "medium",
                                 f"a network destination is only known at run time ({shown})"))
    return found


def overall(findings: list[RiskFinding]) -> RiskFinding | None:
    """The highest-level finding (first one on ties), or None when nothing is above low."""
    best: RiskFinding | None = None
    for finding in findings:
        if LEVELS[finding.level] == 0:
            continue
        if best is None or LEVELS[finding.level] > LEVELS[best.level]:
            best = finding
    return best
