"""``ethos harden check``: the production hardening checklist, automated.

Invariant: :func:`run_checks` reports on every check in :data:`CHECKS` exactly once, in that
order, with ``pass``, ``fail`` or ``skip``; it never raises for a broken home (a configuration
the engine refuses is itself a failed check with file:line). A check that cannot establish its
fact fails rather than passes (fail closed); ``skip`` is used only where the check does not
apply (container checks outside a container, engine checks when the configuration does not
load — reported as failed by ``harden.config_valid``). ``--fix`` only removes group/other
permission bits (see :mod:`ethos_core.harden.modes`); nothing else is ever changed, except one
``harden.canary`` and one ``harden.report`` event written through the engine to the audit store.

Not covered: token scopes on the platforms (step 2 of the checklist), backups and rotation
runbooks (step 10), and anything outside the home and this process's view of the machine.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import attrs

from ethos_core.config.load import position
from ethos_core.config.model import GlobalConfig
from ethos_core.errors import EthosError
from ethos_core.harden import system as system_mod
from ethos_core.harden.canary import CanaryOutcome, run_canary
from ethos_core.harden.modes import fix_mode, loose_bits, mode_of, sensitive_paths
from ethos_core.harden.report import CheckResult, HardenReport, ordered
from ethos_core.harden.scan import HomeScan, PersonalityScan, is_wildcard_everything, scan_home
from ethos_core.harden.system import SystemFacts
from ethos_core.types import AuditEvent, Capability

MAX_SECRET_AGE_DAYS = 90
MIN_RETENTION = dt.timedelta(days=90)
RETAINED_PREFIXES = ("audit.", "channel.")
# Tool capabilities whose results carry outside content (a custom tool with one of these must
# also be tagged untrusted_output, which the watcher's sequence rules and the downgrade key on).
OUTSIDE_CONTENT_CAPABILITIES = frozenset({Capability.NETWORK, Capability.READ_FS})
# Built-in web tools, for toolset checks when the engine (and so the registry) is unavailable.
FALLBACK_NETWORK_TOOLS = frozenset({"web_fetch", "web_post"})


@attrs.frozen
class CheckSpec:
    id: str
    severity: str
    title: str
    fix: str
    fixable: bool = False


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("harden.config_valid", "high", "every configuration file loads",
              "fix each file:line listed (ethos config validate --strict shows the same errors)"),
    CheckSpec("harden.engine_start", "critical", "the engine starts on this home",
              "run ethos health for the full error; fix the configuration or the secrets provider"),
    CheckSpec("harden.secrets_plaintext", "critical", "no literal credential in any configuration file",
              "move each value into a secrets provider (ethos secrets set REF, env or file provider) and "
              "write ${secrets:REF} in its place; then rotate the credential, it was on disk in clear"),
    CheckSpec("harden.secrets_resolve", "high", "every ${secrets:REF} resolves",
              "add the missing secrets to the configured provider (ethos secrets list shows each status)"),
    CheckSpec("harden.secrets_age", "medium", "no secret is older than 90 days",
              "rotate the listed secrets (mint a new token, ethos secrets set REF, restart, revoke the old one)"),
    CheckSpec("harden.fs_reach_declared", "medium", "every personality declares fs_reach",
              "add fs_reach: {read: [...], write: [...]} to each listed personalities/<id>/config.yaml"),
    CheckSpec("harden.fs_reach_floor", "high", "no fs_reach root is on or contains the always-deny floor",
              "narrow fs_reach to the project directories the personality needs (never ~, / or a credential directory)"),
    CheckSpec("harden.network_declared", "medium", "personalities with web tools declare safety.networkReach",
              "add safety.networkReach with the hosts (and ports) each listed personality needs"),
    CheckSpec("harden.network_wildcard", "critical", "no networkReach rule allows every host",
              "replace '*' (or '*.tld') with the exact hosts, e.g. {host: api.github.com, ports: [443]}"),
    CheckSpec("harden.channel_filter", "high", "every bot's platform has a channel_filter with an allowlist or pairing",
              "add channel_filter.<platform> with owner, allowedSenders and/or pairingEnabled: true"),
    CheckSpec("harden.channel_visibility", "high", "no channel_filter uses contextVisibility: all",
              "set contextVisibility: allowlist (or allowlist_quote) for each listed platform"),
    CheckSpec("harden.bot_bindings", "high", "every bot is bound to an existing personality",
              "create the personality directory (personalities/<id>/) or fix bots[i].personality"),
    CheckSpec("harden.tool_tags", "high", "custom tools returning outside content are tagged untrusted_output",
              "add 'untrusted_output' to the capabilities of each listed tool's ToolSpec"),
    CheckSpec("harden.audit_writing", "critical", "the audit store commits events to observability.db",
              "check the home is writable by this user and the disk is not full (ethos health)"),
    CheckSpec("harden.audit_redacting", "critical", "a canary credential never reaches the audit files unredacted",
              "do not install audit sinks or plugins that bypass the store; report this as a bug"),
    CheckSpec("harden.audit_retention", "high", "audit.* and channel.* events are kept at least 90 days",
              'set observability.retention: {"audit.*": "90d", "channel.*": "90d"} (or longer) in config.yaml'),
    CheckSpec("harden.observability_full", "medium", "no personality stores full payloads (safety.observability: full)",
              "set safety.observability: redacted (full is for development only)"),
    CheckSpec("harden.injection_defense", "medium", "no personality turns injection defense off",
              "set safety.injectionDefense: balanced or strict"),
    CheckSpec("harden.home_mode", "high", "the home is private to its owner (mode 0700)",
              "chmod 700 $ETHOS_HOME (or run ethos harden check --fix)", fixable=True),
    CheckSpec("harden.file_modes", "high", "stores and configuration files have no group/other permissions",
              "chmod go-rwx on each listed path (or run ethos harden check --fix)", fixable=True),
    CheckSpec("harden.container_user", "high", "in a container: the process is not root",
              "run with --user 1000:1000 (the image's USER already is)"),
    CheckSpec("harden.container_rootfs", "high", "in a container: the root filesystem is read-only",
              "run with --read-only"),
    CheckSpec("harden.container_tmp", "medium", "in a container: /tmp is a tmpfs",
              "run with --tmpfs /tmp"),
    CheckSpec("harden.container_volume", "high", "in a container: ETHOS_HOME is a writable volume",
              "mount a persistent volume at ETHOS_HOME, e.g. -v /data/ethos:/home/ethos/.ethos, owned by 1000:1000"),
)
SPECS: dict[str, CheckSpec] = {c.id: c for c in CHECKS}


def result(check_id: str, status: str, message: str, findings: Iterable[str] = (), fixed: Iterable[str] = ()) -> CheckResult:
    spec = SPECS[check_id]
    return CheckResult(check_id, spec.severity, status, message, spec.fix, tuple(findings), tuple(fixed))


def judged(check_id: str, findings: list[str], ok_message: str, fail_message: str) -> CheckResult:
    if findings:
        return result(check_id, "fail", fail_message.format(n=len(findings)), findings)
    return result(check_id, "pass", ok_message)


class Inspector:
    """One run of every check over one home. Build it, call :meth:`run`."""

    def __init__(self, root: Path, *, system: SystemFacts | None = None, fix: bool = False,
                 now: float | None = None, engine_factory: Callable[[Path], Any] | None = None) -> None:
        self.root = root.expanduser()
        self.system = system if system is not None else system_mod.probe_system()
        self.fix = fix
        self.now = time.time() if now is None else now
        self.engine_factory = engine_factory or _default_engine
        self.scan: HomeScan = scan_home(self.root)
        self.engine: Any = None
        self.engine_error: str | None = None

    # --- driver ------------------------------------------------------------------------------

    def run(self) -> HardenReport:
        results: list[CheckResult] = [self.config_valid()]
        if not self.scan.errors:
            try:
                self.engine = self.engine_factory(self.root)
            except Exception as exc:  # noqa: BLE001 - report, never crash
                self.engine_error = _redacted(f"{type(exc).__name__}: {exc}")
        try:
            results.append(self.engine_start())
            results.extend(self.audit_canary())
            for check in (self.secrets_plaintext, self.secrets_resolve, self.secrets_age, self.fs_reach_declared,
                          self.fs_reach_floor, self.network_declared, self.network_wildcard, self.channel_filter,
                          self.channel_visibility, self.bot_bindings, self.tool_tags, self.audit_retention,
                          self.observability_full, self.injection_defense, self.container_user,
                          self.container_rootfs, self.container_tmp, self.container_volume):
                try:
                    results.append(check())
                except Exception as exc:  # noqa: BLE001 - a crashing check fails, never passes
                    spec_id = "harden." + check.__name__
                    results.append(result(spec_id, "fail", f"the check itself failed: {_redacted(f'{type(exc).__name__}: {exc}')}"))
            # Modes last: the engine has created its store files by now.
            results.append(self.home_mode())
            results.append(self.file_modes())
            report = HardenReport(str(self.root), ordered(results, SPECS), self.system.in_container)
            self._audit_report(report)
            return report
        finally:
            if self.engine is not None:
                try:
                    self.engine.close()
                except Exception:  # noqa: BLE001 - closing must not hide the report
                    pass

    def _audit_report(self, report: HardenReport) -> None:
        if self.engine is None:
            return
        try:
            self.engine.emit(AuditEvent(category="system.startup", code="harden.report",
                                        severity="info" if report.ok else "warning",
                                        data={"ok": report.ok, "failed": report.ids("fail"), "skipped": report.ids("skip")}))
        except Exception:  # noqa: BLE001 - harden.audit_writing already reports a broken store
            pass

    # --- configuration and engine -------------------------------------------------------------

    def config_valid(self) -> CheckResult:
        findings = [_redacted(_rel_issue(self.scan, i)) for i in self.scan.errors]
        return judged("harden.config_valid", findings, "every configuration file loads",
                      "{n} configuration error(s); the engine refuses to start until they are fixed")

    def engine_start(self) -> CheckResult:
        if self.scan.errors:
            return result("harden.engine_start", "skip", "not attempted: the configuration does not load (harden.config_valid)")
        if self.engine is None:
            return result("harden.engine_start", "fail", "the engine did not start", [self.engine_error or "unknown error"])
        return result("harden.engine_start", "pass", "the engine starts and seals on this home")

    def _skip_without_engine(self, check_id: str) -> CheckResult:
        why = "the configuration does not load" if self.scan.errors else "the engine did not start"
        return result(check_id, "skip", f"not checked: {why}")

    def audit_canary(self) -> list[CheckResult]:
        if self.engine is None:
            return [self._skip_without_engine("harden.audit_writing"), self._skip_without_engine("harden.audit_redacting")]
        outcome: CanaryOutcome = run_canary(self.engine)
        writing = result("harden.audit_writing", "pass" if outcome.written else "fail", outcome.written_detail)
        if not outcome.written:
            redacting = result("harden.audit_redacting", "fail", outcome.redact_detail)
        elif outcome.leaked_in:
            redacting = result("harden.audit_redacting", "fail", outcome.redact_detail, list(outcome.leaked_in))
        else:
            redacting = result("harden.audit_redacting", "pass", outcome.redact_detail)
        return [writing, redacting]

    # --- secrets ------------------------------------------------------------------------------

    def secrets_plaintext(self) -> CheckResult:
        findings = [_redacted(f.render()) for f in self.scan.plaintext]
        return judged("harden.secrets_plaintext", findings, "no literal credential in the home's configuration files",
                      "{n} literal credential(s) in configuration files")

    def _resolvers(self) -> list[Any]:
        if self.engine is not None:
            return list(self.engine.runtime.services.get("secret_resolvers") or [])
        from ethos_core.runtime import HomePaths, Runtime
        from ethos_core.secrets.providers import ProviderResolvers
        from ethos_core.secrets.resolvers import BuiltinResolvers

        runtime = Runtime(home=HomePaths(self.root), config=self.scan.config or GlobalConfig())
        return [*ProviderResolvers(runtime).ethos_secret_resolvers(), *BuiltinResolvers(runtime).ethos_secret_resolvers()]

    def secrets_resolve(self) -> CheckResult:
        from ethos_core.secrets.refs import find_secret_refs

        refs = find_secret_refs(self.root)
        if not refs:
            return result("harden.secrets_resolve", "pass", "no ${secrets:REF} references to resolve")
        resolvers = self._resolvers()
        findings = []
        status: dict[str, tuple[bool, str]] = {}
        for ref, path, line in refs:
            if ref not in status:
                status[ref] = _resolve(ref, resolvers)
            ok, detail = status[ref]
            if not ok:
                findings.append(_redacted(f"{self.scan.rel(path)}:{line}: ${{secrets:{ref}}} {detail}"))
        return judged("harden.secrets_resolve", findings, f"all {len(status)} referenced secret(s) resolve",
                      "{n} reference(s) do not resolve")

    def secrets_age(self) -> CheckResult:
        from ethos_core.secrets.refs import find_secret_refs

        resolvers = self._resolvers()
        refs = {ref for ref, _p, _l in find_secret_refs(self.root)}
        for r in resolvers:
            if getattr(r, "name", "") == "vault":
                try:
                    refs.update(r.refs())
                except Exception:  # noqa: BLE001 - a locked or broken vault: ages unknown
                    pass
        if not refs:
            return result("harden.secrets_age", "pass", "no secrets in use")
        findings, known = [], 0
        for ref in sorted(refs):
            age = _age_days(ref, resolvers, self.now)
            if age is None:
                continue
            known += 1
            if age > MAX_SECRET_AGE_DAYS:
                findings.append(f"{ref}: set {age:.0f} days ago (older than {MAX_SECRET_AGE_DAYS})")
        if findings:
            return result("harden.secrets_age", "fail", f"{len(findings)} secret(s) older than {MAX_SECRET_AGE_DAYS} days", findings)
        if not known:
            return result("harden.secrets_age", "skip",
                          f"the providers of {len(refs)} secret(s) record no ages (env); track rotation dates yourself")
        unknown = len(refs) - known
        note = f"; {unknown} with no recorded age" if unknown else ""
        return result("harden.secrets_age", "pass", f"{known} secret(s) younger than {MAX_SECRET_AGE_DAYS} days{note}")

    # --- filesystem and network reach --------------------------------------------------------------

    def _personalities(self) -> list[PersonalityScan]:
        return list(self.scan.personalities.values())

    def fs_reach_declared(self) -> CheckResult:
        findings = []
        for p in self._personalities():
            if p.config is None:
                findings.append(f"personalities/{p.id}/config.yaml: does not load, so its fs_reach is unknown")
            elif p.config.fs_reach is None:
                findings.append(f"personalities/{p.id}/config.yaml: no fs_reach (it reaches only its data/ directory; "
                                "declare what it needs explicitly)")
        if not self.scan.personalities:
            return result("harden.fs_reach_declared", "fail", "no personality is configured",
                          ["personalities/: empty (run ethos init)"])
        return judged("harden.fs_reach_declared", findings, "every personality declares fs_reach",
                      "{n} personality(ies) without a declared fs_reach")

    def fs_reach_floor(self) -> CheckResult:
        from ethos_core.fs.floor import floor_entries, floor_rule
        from ethos_core.fs.paths import PathRefused, normalize, split_abs

        home = os.path.expanduser("~")
        entries = floor_entries(home, str(self.root))
        findings = []
        for p in self._personalities():
            if p.config is None or p.config.fs_reach is None:
                continue
            for op in ("read", "write"):
                roots = getattr(p.config.fs_reach, op)
                for i, root in enumerate(roots):
                    line, _c = position(p.tree, ("fs_reach", op, i), at_key=False)
                    where = f"personalities/{p.id}/config.yaml:{line}: fs_reach.{op}[{i}] {root!r}"
                    try:
                        norm = normalize(root, home=home, base="/")
                    except PathRefused:
                        continue  # a malformed root grants nothing
                    rule = floor_rule(norm, home, str(self.root))
                    if rule is not None:
                        findings.append(f"{where} is on the always-deny floor ({rule})")
                        continue
                    inside = _floor_inside(("/", *split_abs(norm)), entries)
                    if inside:
                        findings.append(f"{where} contains always-deny paths ({', '.join(inside)})")
        return judged("harden.fs_reach_floor", findings, "no fs_reach root touches the always-deny floor",
                      "{n} fs_reach root(s) on or around the always-deny floor")

    def _network_tools(self) -> frozenset[str]:
        if self.engine is None:
            return FALLBACK_NETWORK_TOOLS
        return frozenset(t.spec.name for t in self.engine.tools if Capability.NETWORK in t.spec.capabilities)

    def network_declared(self) -> CheckResult:
        web = self._network_tools()
        findings = []
        for p in self._personalities():
            if p.config is None:
                continue
            used = sorted(p.toolset & web)
            if used and p.config.safety.network_reach is None:
                findings.append(f"personalities/{p.id}: has {', '.join(used)} but no safety.networkReach "
                                "(its web tools have no egress)")
        return judged("harden.network_declared", findings, "every personality with web tools declares its network reach",
                      "{n} personality(ies) with web tools and no declared network reach")

    def network_wildcard(self) -> CheckResult:
        findings = []
        for p in self._personalities():
            if p.config is None:
                continue
            for i, rule in enumerate(p.config.safety.network_reach or ()):
                if is_wildcard_everything(rule.host):
                    line, _c = position(p.tree, ("safety", "networkReach", i, "host"), at_key=False)
                    findings.append(f"personalities/{p.id}/config.yaml:{line}: safety.networkReach[{i}].host "
                                    f"{rule.host!r} allows egress to every host")
        return judged("harden.network_wildcard", findings, "no networkReach rule allows every host",
                      "{n} wildcard networkReach rule(s)")

    # --- channels and bots ------------------------------------------------------------------------

    def _global(self) -> GlobalConfig | None:
        return self.scan.config

    def channel_filter(self) -> CheckResult:
        cfg = self._global()
        if cfg is None:
            return result("harden.channel_filter", "fail", "config.yaml does not load, so channel filters are unknown")
        if not cfg.bots:
            return result("harden.channel_filter", "pass", "no bots configured")
        findings = []
        for i, bot in enumerate(cfg.bots):
            line, _c = position(self.scan.config_tree, ("bots", i), at_key=False)
            cf = cfg.channel_filter.get(bot.platform)
            if cf is None:
                findings.append(f"config.yaml:{line}: bots[{i}] on {bot.platform!r} has no channel_filter.{bot.platform} "
                                "(every message is dropped: nobody is allowlisted)")
            elif not (cf.owner or cf.allowed_senders or cf.pairing_enabled):
                cline, _c = position(self.scan.config_tree, ("channel_filter", bot.platform))
                findings.append(f"config.yaml:{cline}: channel_filter.{bot.platform} has no owner, allowedSenders or "
                                "pairingEnabled (it admits nobody)")
        return judged("harden.channel_filter", findings, "every bot's platform has an allowlist or pairing",
                      "{n} bot platform(s) without an allowlist or pairing")

    def channel_visibility(self) -> CheckResult:
        cfg = self._global()
        if cfg is None:
            return result("harden.channel_visibility", "fail", "config.yaml does not load, so channel filters are unknown")
        findings = []
        for platform, cf in sorted(cfg.channel_filter.items()):
            if cf.context_visibility == "all":
                line, _c = position(self.scan.config_tree, ("channel_filter", platform, "contextVisibility"), at_key=False)
                findings.append(f"config.yaml:{line}: channel_filter.{platform}.contextVisibility is 'all' "
                                "(quoted and history text from anyone reaches the model unfiltered)")
        return judged("harden.channel_visibility", findings, "no channel shows context from non-allowlisted senders",
                      "{n} channel(s) with contextVisibility: all")

    def bot_bindings(self) -> CheckResult:
        cfg = self._global()
        if cfg is None:
            return result("harden.bot_bindings", "fail", "config.yaml does not load, so bot bindings are unknown")
        findings = []
        for i, bot in enumerate(cfg.bots):
            line, _c = position(self.scan.config_tree, ("bots", i, "personality"), at_key=False)
            p = self.scan.personalities.get(bot.personality)
            if p is None:
                findings.append(f"config.yaml:{line}: bots[{i}].personality {bot.personality!r} does not exist under personalities/")
            elif p.config is None:
                findings.append(f"config.yaml:{line}: bots[{i}].personality {bot.personality!r} has a configuration that does not load")
        return judged("harden.bot_bindings", findings, f"all {len(cfg.bots)} bot(s) are bound to existing personalities",
                      "{n} bot(s) bound to a missing personality")

    # --- tools and audit ------------------------------------------------------------------------

    def tool_tags(self) -> CheckResult:
        if self.engine is None:
            return self._skip_without_engine("harden.tool_tags")
        findings = []
        for tool in self.engine.tools:
            spec = tool.spec
            caps = frozenset(spec.capabilities)
            outside = sorted(caps & OUTSIDE_CONTENT_CAPABILITIES)
            if _is_custom(tool) and outside and Capability.UNTRUSTED_OUTPUT not in caps:
                findings.append(f"tool {spec.name!r} from {spec.source}: capabilities {', '.join(outside)} "
                                "without untrusted_output")
        return judged("harden.tool_tags", findings, "every custom tool that returns outside content is tagged untrusted_output",
                      "{n} custom tool(s) return outside content untagged")

    def audit_retention(self) -> CheckResult:
        from ethos_core.audit.events import CATEGORIES
        from ethos_core.audit.retention import retention_for, validate_retention

        cfg = self._global()
        if cfg is None:
            return result("harden.audit_retention", "fail", "config.yaml does not load, so retention is unknown")
        try:
            rules = validate_retention(cfg.observability.retention)
        except ValueError as exc:
            return result("harden.audit_retention", "fail", "a retention rule does not parse", [f"config.yaml: {exc}"])
        findings = []
        for category in sorted(c for c in CATEGORIES if c.startswith(RETAINED_PREFIXES)):
            glob, keep = retention_for(category, rules)
            if keep is not None and keep < MIN_RETENTION:
                line, _c = position(self.scan.config_tree, ("observability", "retention", glob or ""), at_key=False)
                findings.append(f"config.yaml:{line}: {category} kept {_days(keep)} by {glob!r} (minimum 90 days)")
        return judged("harden.audit_retention", findings, "audit.* and channel.* events are kept at least 90 days",
                      "{n} categor(ies) kept less than 90 days")

    def observability_full(self) -> CheckResult:
        findings = []
        for p in self._personalities():
            if p.config is not None and p.config.safety.observability == "full":
                line, _c = position(p.tree, ("safety", "observability"), at_key=False)
                findings.append(f"personalities/{p.id}/config.yaml:{line}: safety.observability is 'full'")
        return judged("harden.observability_full", findings, "no personality stores full tool payloads",
                      "{n} personality(ies) store full payloads")

    def injection_defense(self) -> CheckResult:
        findings = []
        for p in self._personalities():
            if p.config is not None and p.config.safety.injection_defense == "off":
                line, _c = position(p.tree, ("safety", "injectionDefense"), at_key=False)
                findings.append(f"personalities/{p.id}/config.yaml:{line}: safety.injectionDefense is 'off'")
        return judged("harden.injection_defense", findings, "injection defense is on for every personality",
                      "{n} personality(ies) with injection defense off")

    # --- file modes ---------------------------------------------------------------------------

    def home_mode(self) -> CheckResult:
        loose = loose_bits(self.root)
        if loose is None:
            return result("harden.home_mode", "fail", f"{self.root} is a symlink or cannot be read",
                          [f"{self.root}: resolve the link and point ETHOS_HOME at the real directory"])
        if not loose:
            return result("harden.home_mode", "pass", f"{self.root} is mode {mode_of(self.root)}")
        finding = f"{self.root}: mode {mode_of(self.root)} (group/other have access)"
        if self.fix:
            err = fix_mode(self.root)
            if err is None:
                return result("harden.home_mode", "pass", f"fixed: {self.root} is now mode {mode_of(self.root)}",
                              fixed=[f"{self.root}: chmod go-rwx"])
            return result("harden.home_mode", "fail", "the home is accessible by group/others and --fix failed",
                          [f"{finding}; {err}"])
        return result("harden.home_mode", "fail", "the home is accessible by group/others", [finding])

    def file_modes(self) -> CheckResult:
        findings, fixed = [], []
        for path in sensitive_paths(self.root):
            rel = self.scan.rel(path)
            if path.is_symlink():
                findings.append(f"{rel}: is a symlink (stores and configuration must be regular files in the home)")
                continue
            loose = loose_bits(path)
            if not loose:
                continue
            if self.fix:
                before = mode_of(path)
                err = fix_mode(path)
                if err is None:
                    fixed.append(f"{rel}: {before} -> {mode_of(path)}")
                    continue
                findings.append(f"{rel}: mode {before}; --fix failed: {err}")
                continue
            findings.append(f"{rel}: mode {mode_of(path)} (group/other have access)")
        if findings:
            return result("harden.file_modes", "fail", f"{len(findings)} path(s) with loose permissions", findings, fixed)
        msg = f"fixed {len(fixed)} path(s)" if fixed else "stores and configuration files are private"
        return result("harden.file_modes", "pass", msg, fixed=fixed)

    # --- container -----------------------------------------------------------------------------

    def _container_skip(self, check_id: str) -> CheckResult | None:
        if self.system.in_container:
            return None
        return result(check_id, "skip", "not running in a container")

    def container_user(self) -> CheckResult:
        skip = self._container_skip("harden.container_user")
        if skip:
            return skip
        if self.system.euid == 0:
            return result("harden.container_user", "fail", "the process runs as root inside the container")
        return result("harden.container_user", "pass", f"runs as uid {self.system.euid}")

    def container_rootfs(self) -> CheckResult:
        skip = self._container_skip("harden.container_rootfs")
        if skip:
            return skip
        mount = self.system.mount_for("/")
        if mount is None:
            return result("harden.container_rootfs", "fail", "cannot read /proc/self/mounts to tell")
        if not mount.read_only:
            return result("harden.container_rootfs", "fail", "the root filesystem is mounted read-write")
        return result("harden.container_rootfs", "pass", "the root filesystem is read-only")

    def container_tmp(self) -> CheckResult:
        skip = self._container_skip("harden.container_tmp")
        if skip:
            return skip
        mount = self.system.mount_for("/tmp")
        if mount is None:
            return result("harden.container_tmp", "fail", "cannot read /proc/self/mounts to tell")
        if mount.mountpoint != "/tmp" or mount.fstype != "tmpfs":
            return result("harden.container_tmp", "fail", f"/tmp is on {mount.mountpoint} ({mount.fstype}), not a tmpfs")
        return result("harden.container_tmp", "pass", "/tmp is a tmpfs")

    def container_volume(self) -> CheckResult:
        skip = self._container_skip("harden.container_volume")
        if skip:
            return skip
        findings = []
        mount = self.system.mount_for(str(self.root))
        if mount is None:
            findings.append("cannot read /proc/self/mounts to tell where ETHOS_HOME lives")
        elif mount.mountpoint == "/":
            findings.append(f"{self.root} is on the container's root filesystem (lost when the container is replaced)")
        elif mount.read_only:
            findings.append(f"{self.root} is on a read-only mount ({mount.mountpoint})")
        err = _probe_write(self.root)
        if err:
            findings.append(f"{self.root} is not writable: {err}")
        return judged("harden.container_volume", findings, f"{self.root} is a writable volume",
                      "ETHOS_HOME is not a writable persistent volume")


# --- helpers -------------------------------------------------------------------------------------


def _is_custom(tool: Any) -> bool:
    """Not shipped in ethos_core: by its recorded source, or by where its handler lives (the
    registry records "builtin" for a plugin tool whose spec does not name its source)."""
    if tool.spec.source != "builtin":
        return True
    handler = getattr(tool.handler, "func", tool.handler)  # functools.partial
    module = str(getattr(handler, "__module__", "") or "")
    return not (module == "ethos_core" or module.startswith("ethos_core."))


def _default_engine(root: Path) -> Any:
    from ethos_core.engine import Engine

    return Engine.from_home(root)


def _redacted(text: str) -> str:
    from ethos_core.cli.common import redact_for_display

    return redact_for_display(text)


def _rel_issue(scan: HomeScan, issue: Any) -> str:
    rendered: str = issue.render()
    prefix = str(scan.root) + os.sep
    return rendered[len(prefix):] if rendered.startswith(prefix) else rendered


def _resolve(ref: str, resolvers: list[Any]) -> tuple[bool, str]:
    """(resolved?, why not) — the value is dropped at once and never returned."""
    errors = []
    for r in resolvers:
        name = str(getattr(r, "name", type(r).__name__))
        try:
            value = r.resolve(ref)
        except Exception as exc:  # noqa: BLE001 - a broken provider is a finding
            # EthosError messages are written never to carry a value; anything else shows its type only.
            errors.append(f"{name}: {exc}" if isinstance(exc, EthosError) else f"{name}: {type(exc).__name__}")
            continue
        if value:
            return True, ""
    if errors:
        return False, "does not resolve (" + "; ".join(errors) + ")"
    names = ", ".join(str(getattr(r, "name", "?")) for r in resolvers) or "none"
    return False, f"is missing (providers tried: {names})"


def _age_days(ref: str, resolvers: list[Any], now: float) -> float | None:
    """Age of ``ref`` in days from the provider that holds it; None when unknown."""
    for r in resolvers:
        try:
            if not r.resolve(ref):
                continue
        except Exception:  # noqa: BLE001
            continue
        set_at = getattr(r, "set_at", None)
        if callable(set_at):
            try:
                ts = set_at(ref)
            except Exception:  # noqa: BLE001
                return None
            return None if ts is None else (now - float(ts)) / 86400
        path = getattr(r, "path", None)
        if getattr(r, "name", "") == "file" and isinstance(path, Path):
            # Every value in the file is at least as old as the file's last change.
            try:
                return (now - path.stat().st_mtime) / 86400
            except OSError:
                return None
        return None
    return None


def _floor_inside(root: tuple[str, ...], entries: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Rules of floor entries strictly below ``root`` (component-wise, case-insensitive)."""
    rules: list[str] = []
    for rule, parts in entries:
        if len(parts) <= len(root):
            continue
        if all(fnmatchcase(r.lower(), e.lower()) for r, e in zip(root, parts[: len(root)], strict=True)):
            if rule not in rules:
                rules.append(rule)
    return rules[:6] + (["…"] if len(rules) > 6 else [])


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} days"


def _probe_write(root: Path) -> str | None:
    probe = root / f".harden-write-probe-{os.urandom(4).hex()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    try:
        probe.unlink()
    except OSError:
        pass
    return None


def run_checks(root: Path | str, *, fix: bool = False, system: SystemFacts | None = None,
               now: float | None = None, engine_factory: Callable[[Path], Any] | None = None) -> HardenReport:
    """Run every check in :data:`CHECKS` over the home at ``root``."""
    return Inspector(Path(root), system=system, fix=fix, now=now, engine_factory=engine_factory).run()


def check_ids() -> list[str]:
    return [c.id for c in CHECKS]


def specs() -> Mapping[str, CheckSpec]:
    return SPECS
