"""The reference agent loop, built only on the public Engine/Session API."""

from ethos_core.agent.loop import AgentLoop, LoopEvent, ToolOutcome, TurnResult

__all__ = ["AgentLoop", "LoopEvent", "ToolOutcome", "TurnResult"]
