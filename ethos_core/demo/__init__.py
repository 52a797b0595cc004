"""``ethos demo``: the canonical attack chains played against the real engine."""

from ethos_core.demo.chains import CHAINS, DemoRow, run_demo

__all__ = ["CHAINS", "DemoRow", "run_demo"]
