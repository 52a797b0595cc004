"""``ethos check …`` and ``ethos redact``: explain any decision without running anything.

Exit status for single checks: 0 allow/clean, 1 deny/flagged, 3 approve, 2 usage error.
``--batch`` reads JSON Lines and answers one JSON line per case, in order; a malformed line
answers ``{"error": …}`` and the batch goes on. ``check command`` decides like the engine
decides a shell call: hardline (⑦), risk (⑧) and network reach (⑩) for every destination the
command names, the strictest wins (the first DENY in stage order, else the strictest flag).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import attrs
import click

from ethos_core.cli.common import (
    EXIT_APPROVE,
    EXIT_DENY,
    EXIT_OK,
    EXIT_USAGE,
    emit_json,
    load_engine,
    read_only_services,
)
from ethos_core.shell.network import network_accesses
from ethos_core.types import Capability, Context, Decision, ProvenanceVerdict, ToolCall
from ethos_core.verdicts import Verdict


def _engine(ctx: click.Context) -> Any:
    return load_engine(ctx, services=read_only_services(), resolve_secrets=False, record_startup=False)


def parse_resolve(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        if "=" not in value:
            raise click.BadParameter(f"{value!r}: expected HOST=IP[,IP…]", param_hint="--resolve")
        host, ips = value.split("=", 1)
        out.setdefault(host.strip().lower().rstrip("."), []).extend(ip.strip() for ip in ips.split(",") if ip.strip())
    return out


def _exit_for(decision: Decision) -> int:
    return {Verdict.ALLOW: EXIT_OK, Verdict.DENY: EXIT_DENY, Verdict.APPROVE: EXIT_APPROVE}[decision.verdict]


def _print_decision(decision: Decision, as_json: bool) -> None:
    if as_json:
        emit_json(decision.to_json())
    else:
        click.echo(f"{decision.verdict}: {decision.reason}")
        click.echo(f"  stage: {decision.stage.value} (#{decision.stage.number})  rule: {decision.rule}  by: {decision.source}")


def _text_json(verdict: ProvenanceVerdict) -> dict[str, Any]:
    return {"flagged": verdict.flagged, "signals": list(verdict.signals)}


def _read_input(arg: str | None) -> str:
    if arg in (None, "-"):
        return sys.stdin.read()
    with open(arg, encoding="utf-8", errors="replace") as f:
        return f.read()


def check_command_decision(engine: Any, command: str, personality: str | None,
                           resolve: Mapping[str, list[str]] | None = None) -> Decision:
    """Stages ⑦, ⑧ and ⑩ for ``command``, combined the way ``Session.before_tool`` combines them."""
    decision: Decision = engine.check_command(command, personality)
    if decision.verdict is Verdict.DENY:
        return decision
    call = ToolCall(name="shell", args={"command": command}, capabilities={Capability.EXEC})
    accesses, _dynamic = network_accesses(call, ethos_home=str(engine.runtime.home.root))
    if not accesses:
        return decision
    ctx = Context(personality=engine.personality(personality), session="check")
    stand_in = {host: tuple(ips) for host, ips in resolve.items()} if resolve else None
    for access in accesses:
        if stand_in is not None:
            access = attrs.evolve(access, resolve=stand_in)
        reached: Decision = engine.pipeline.network_reach(access, ctx)
        if reached.verdict is Verdict.DENY:
            return reached
        if reached.verdict > decision.verdict:
            decision = reached
    return decision


def _resolve_arg(case: Mapping[str, Any]) -> Mapping[str, list[str]] | None:
    resolve = case.get("resolve")
    if resolve is not None and (not isinstance(resolve, Mapping) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in resolve.values())):
        raise ValueError("'resolve' must map host → list of IP strings")
    return resolve


def run_case(engine: Any, case: Mapping[str, Any], personality: str | None) -> dict[str, Any]:
    """One batch case → its JSON answer. Raises ValueError for malformed cases."""
    kind = case.get("kind")
    if kind == "url":
        url = case.get("url")
        if not isinstance(url, str):
            raise ValueError("url case needs a string 'url'")
        d: Decision = engine.check_url(url, personality, resolve=_resolve_arg(case))
        return d.to_json()
    if kind == "path":
        path, op = case.get("path"), case.get("op")
        if not isinstance(path, str) or op not in ("read", "write"):
            raise ValueError("path case needs a string 'path' and 'op' read|write")
        read = case.get("read") or []
        write = case.get("write") or []
        if not isinstance(read, list) or not isinstance(write, list):
            raise ValueError("'read' and 'write' must be lists")
        return dict(engine.check_path(path, op, personality, read=read, write=write).to_json())
    if kind == "command":
        command = case.get("command")
        if not isinstance(command, str):
            raise ValueError("command case needs a string 'command'")
        return dict(check_command_decision(engine, command, personality, _resolve_arg(case)).to_json())
    if kind == "text":
        text = case.get("text")
        if not isinstance(text, str):
            raise ValueError("text case needs a string 'text'")
        source = case.get("source", "web")
        if source not in ("web", "email", "tool", "channel"):
            raise ValueError("'source' must be web, email, tool or channel")
        return _text_json(engine.check_text(text, source, personality))
    if kind == "redact":
        text = case.get("text")
        if not isinstance(text, str):
            raise ValueError("redact case needs a string 'text'")
        return {"text": engine.redact(text)}
    raise ValueError(f"unknown kind {kind!r}; expected url, path, command, text or redact")


class CheckGroup(click.Group):
    """``ethos check`` is a group whose own callback handles ``--batch``."""


@click.group("check", cls=CheckGroup, invoke_without_command=True)
@click.option("--batch", "batch", metavar="FILE|-", help="JSON Lines of cases; one JSON answer per line, same order.")
@click.option("--personality", "-p", "personality", help="Personality whose policy applies (default: 'default').")
@click.pass_context
def check_cmd(ctx: click.Context, batch: str | None, personality: str | None) -> None:
    """Explain what ethos would decide, without running anything."""
    ctx.ensure_object(dict)
    ctx.obj["personality"] = personality
    if batch is None:
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())
            ctx.exit(EXIT_USAGE)
        return
    if ctx.invoked_subcommand is not None:
        raise click.UsageError("--batch cannot be combined with a subcommand")
    engine = _engine(ctx)
    try:
        stream = sys.stdin if batch == "-" else open(batch, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        click.echo(f"cannot read {batch}: {exc.strerror}", err=True)
        ctx.exit(EXIT_USAGE)
    try:
        for line in stream:
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                if not isinstance(case, dict):
                    raise ValueError("each line must be a JSON object")
                answer = run_case(engine, case, personality)
            except (ValueError, json.JSONDecodeError) as exc:
                answer = {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - one bad case never stops the batch
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            click.echo(json.dumps(answer))
    finally:
        if stream is not sys.stdin:
            stream.close()
        engine.close()


def _personality(ctx: click.Context, local: str | None) -> str | None:
    return local or (ctx.obj or {}).get("personality")


@check_cmd.command("url")
@click.argument("url")
@click.option("--personality", "-p", "personality")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST=IP[,IP…]", help="Stand-in DNS answer (like curl --resolve).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check_url(ctx: click.Context, url: str, personality: str | None, resolve: tuple[str, ...], as_json: bool) -> None:
    """Would a fetch of URL be allowed (stage ⑩)?"""
    mapping = parse_resolve(resolve)
    engine = _engine(ctx)
    try:
        decision = engine.check_url(url, _personality(ctx, personality), resolve=mapping or None)
    finally:
        engine.close()
    _print_decision(decision, as_json)
    ctx.exit(_exit_for(decision))


@check_cmd.command("path")
@click.argument("path")
@click.option("--op", type=click.Choice(["read", "write"]), required=True)
@click.option("--personality", "-p", "personality")
@click.option("--read", "read", multiple=True, metavar="ROOT", help="Judge against this read root instead of fs_reach.")
@click.option("--write", "write", multiple=True, metavar="ROOT", help="Judge against this write root instead of fs_reach.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check_path(ctx: click.Context, path: str, op: str, personality: str | None, read: tuple[str, ...],
               write: tuple[str, ...], as_json: bool) -> None:
    """Would reading or writing PATH be allowed (stage ⑨)?"""
    engine = _engine(ctx)
    try:
        decision = engine.check_path(path, op, _personality(ctx, personality), read=read, write=write)
    finally:
        engine.close()
    _print_decision(decision, as_json)
    ctx.exit(_exit_for(decision))


@check_cmd.command("command")
@click.argument("command")
@click.option("--personality", "-p", "personality")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST=IP[,IP…]",
              help="Stand-in DNS answer for the hosts the command reaches (like curl --resolve).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check_command(ctx: click.Context, command: str, personality: str | None, resolve: tuple[str, ...],
                  as_json: bool) -> None:
    """Would the shell command be allowed (stages ⑦, ⑧ and ⑩ for what it reaches)?"""
    mapping = parse_resolve(resolve)
    engine = _engine(ctx)
    try:
        decision = check_command_decision(engine, command, _personality(ctx, personality), mapping or None)
    finally:
        engine.close()
    _print_decision(decision, as_json)
    ctx.exit(_exit_for(decision))


@check_cmd.command("text")
@click.argument("file", required=False)
@click.option("--source", type=click.Choice(["web", "email", "tool", "channel"]), default="web", show_default=True)
@click.option("--personality", "-p", "personality")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check_text(ctx: click.Context, file: str | None, source: str, personality: str | None, as_json: bool) -> None:
    """Is the text (FILE or stdin) flagged as a prompt injection (stage ④)?"""
    text = _read_input(file)
    engine = _engine(ctx)
    try:
        verdict = engine.check_text(text, source, _personality(ctx, personality))
    finally:
        engine.close()
    if as_json:
        emit_json(_text_json(verdict))
    else:
        click.echo("flagged" if verdict.flagged else "clean")
        for signal in verdict.signals:
            click.echo(f"  signal: {signal}")
    ctx.exit(EXIT_DENY if verdict.flagged else EXIT_OK)


@click.command("redact")
@click.argument("file", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def redact_cmd(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Print FILE (or stdin) with every credential redacted (stage ⑬)."""
    text = _read_input(file)
    engine = _engine(ctx)
    try:
        out = engine.redact(text)
    finally:
        engine.close()
    if as_json:
        emit_json({"text": out})
    else:
        click.echo(out, nl=False)
