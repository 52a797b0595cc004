"""``ethos chat``: an interactive terminal chat with one personality.

Approvals are asked in the terminal; every block says which layer stopped what, and its rule id.
"""

from __future__ import annotations

import sys

import click

from ethos_core.cli.common import EXIT_USAGE, load_engine


@click.command("chat")
@click.option("--personality", "-p", "personality", default="default", show_default=True)
@click.option("--provider", "provider_name", help="A providers.<name> entry of config.yaml (default: the personality's model.provider).")
@click.option("--script", "script", type=click.Path(exists=True, dir_okay=False), help="Replay a JSON script of model turns instead of calling a model.")
@click.option("--stream/--no-stream", default=True, show_default=True)
@click.pass_context
def chat_cmd(ctx: click.Context, personality: str, provider_name: str | None, script: str | None, stream: bool) -> None:
    """Chat with an agent in the terminal (empty line or Ctrl-D ends)."""
    from ethos_core.agent import AgentLoop, LoopEvent
    from ethos_core.approvals import TerminalApprover
    from ethos_core.providers import LLMProvider, ProviderError, ScriptedProvider, build_provider

    engine = load_engine(ctx, approver=TerminalApprover())
    try:
        if personality not in engine.home.personalities:
            click.echo(f"no personality {personality!r}", err=True)
            ctx.exit(EXIT_USAGE)
        p = engine.personality(personality)
        provider: LLMProvider
        try:
            if script:
                provider = ScriptedProvider.from_file(script)
            else:
                name = provider_name or p.provider
                if not name:
                    click.echo("no provider: set model.provider in the personality, or pass --provider or --script", err=True)
                    ctx.exit(EXIT_USAGE)
                provider = build_provider(engine, name)
        except ProviderError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        session = engine.session(personality, channel="cli")

        def show(event: LoopEvent) -> None:
            if event.kind == "text" and stream:
                click.echo(event.text, nl=False)
            elif event.kind == "tool" and event.outcome is not None:
                result = event.outcome.processed.result
                status = "ok" if result.ok else "error"
                click.secho(f"\n  [tool {event.outcome.call.name}: {status}]", fg="cyan", err=True)
            elif event.kind == "block" and event.outcome is not None:
                click.secho(f"  [blocked] {event.text}", fg="red", err=True)
            elif event.kind == "stop":
                click.secho(f"\n  [stopped] {event.text}", fg="yellow", err=True)

        loop = AgentLoop(session, provider, stream=stream, on_event=show)
        click.echo(f"ethos chat — personality {personality}; empty line to quit", err=True)
        while True:
            click.echo("\nyou> ", nl=False, err=True)
            line = sys.stdin.readline()
            if not line or not line.strip():
                break
            result = loop.run_turn(line.rstrip("\n"), source="owner", trusted=True)
            if not stream and result.stopped is None:
                click.echo(result.text)
        click.echo("", err=True)
    finally:
        engine.close()
