"""``ethos gateway run``: start every bot in ``config.yaml`` until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from ethos_core.cli.common import EXIT_USAGE, fail, home_path, json_option


@click.group("gateway")
def gateway_group() -> None:
    """The multi-bot channel gateway."""


@gateway_group.command("run")
@json_option
@click.pass_context
def run_cmd(ctx: click.Context, as_json: bool) -> None:
    """Run every configured bot; stops gracefully on Ctrl-C or SIGTERM."""
    try:
        from ethos_core.engine import Engine
    except ImportError as exc:
        fail(f"the engine is not available in this build ({exc})", EXIT_USAGE)
        return
    from ethos_core.channel.gateway import Gateway, GatewayError
    from ethos_core.errors import EthosError

    home = home_path(ctx)
    if not home.exists():
        fail(f"ethos home {home} does not exist; run: ethos init", EXIT_USAGE)
    try:
        engine = Engine.from_home(home)
    except EthosError as exc:
        fail(f"error: {exc}", EXIT_USAGE)
        return
    if not engine.runtime.config.bots:
        fail("no bots configured (config.yaml: bots: [...])", EXIT_USAGE)

    def context_factory(bot, key, skey):  # type: ignore[no-untyped-def]
        return engine.session(bot.personality, channel=bot.platform, session_id=skey, bot=key).ctx

    from ethos_core.agent.gateway_handler import make_agent_handler

    gateway = Gateway(engine.runtime, engine.pipeline, context_factory=context_factory)
    gateway.handler = make_agent_handler(engine, gateway)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        gateway.start()
    except (GatewayError, EthosError) as exc:
        engine.close()
        fail(f"gateway did not start: {exc}", EXIT_USAGE)
        return
    if not as_json:
        click.echo(f"gateway running {len(gateway.bots)} bot(s): {', '.join(sorted(gateway.bots))}")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        gateway.stop()
        engine.close()
    if as_json:
        import json

        click.echo(json.dumps(gateway.health(), default=str))
