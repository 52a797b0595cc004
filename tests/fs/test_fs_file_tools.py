"""The built-in file tools: specs, capabilities, judged arguments, behaviour through ScopedStorage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fsworld import World

from ethos_core.errors import BoundaryError
from ethos_core.tools.files import FILE_HANDLERS, FILE_TOOLS, FileOutput, make_file_tools
from ethos_core.tools.registry import ToolRegistry
from ethos_core.types import Capability, ToolCall


def run(name: str, storage: Any, **args: Any) -> str:
    return FILE_HANDLERS[name](args, storage)


def test_specs_declare_capabilities_and_path_roles() -> None:
    specs = {spec.name: spec for spec, _ in FILE_TOOLS}
    assert set(specs) == {"read_file", "write_file", "edit_file", "list_dir", "search_files"}
    assert specs["read_file"].capabilities == {Capability.READ_FS, Capability.UNTRUSTED_OUTPUT}
    assert specs["write_file"].capabilities == {Capability.WRITE_FS}
    assert specs["edit_file"].capabilities == {Capability.WRITE_FS}
    assert specs["list_dir"].capabilities == {Capability.READ_FS}
    assert Capability.UNTRUSTED_OUTPUT in specs["search_files"].capabilities
    for spec in specs.values():
        (role,) = spec.arg_roles
        assert role.name == "path" and role.kind == "path"
        assert role.op == ("write" if Capability.WRITE_FS in spec.capabilities else "read")
        assert "path" in spec.parameters["properties"]


def test_registry_accepts_the_bound_tools(world: World) -> None:
    registry = ToolRegistry()
    storage = world.storage()
    for spec, handler in make_file_tools(lambda session: storage):
        registry.add(spec, handler)
    tool = registry.get("read_file")
    assert tool is not None
    assert tool.handler(ToolCall("read_file", {"path": "notes.txt"}), object()) == "hello\n"


def test_read_file_lines_and_provenance(world: World) -> None:
    storage = world.storage()
    (world.ws / "lines.txt").write_text("1\n2\n3\n4\n")
    out = run("read_file", storage, path="lines.txt", offset=2, limit=2)
    assert out == "2\n3\n"
    assert isinstance(out, FileOutput) and out.source == "file" and out.trusted is False
    run("write_file", storage, path="mine.txt", content="own words")
    mine = run("read_file", storage, path="mine.txt")
    assert mine == "own words" and isinstance(mine, FileOutput) and mine.trusted is True


def test_read_file_refuses_outside_reach(world: World) -> None:
    with pytest.raises(BoundaryError):
        run("read_file", world.storage(), path=str(world.outside / "secret.txt"))
    assert world.events[-1].data["tool"] == "read_file"


def test_write_and_edit(world: World) -> None:
    storage = world.storage()
    assert run("write_file", storage, path="w.txt", content="alpha beta alpha") == "wrote 16 bytes to w.txt"
    with pytest.raises(ValueError, match="occurs 2 times"):
        run("edit_file", storage, path="w.txt", old="alpha", new="x")
    assert run("edit_file", storage, path="w.txt", old="beta", new="gamma") == "replaced 1 occurrence(s) in w.txt"
    run("edit_file", storage, path="w.txt", old="alpha", new="A", replace_all=True)
    assert (world.ws / "w.txt").read_text() == "A gamma A"
    with pytest.raises(ValueError, match="not found"):
        run("edit_file", storage, path="w.txt", old="zzz", new="y")
    with pytest.raises(ValueError):
        run("write_file", storage, path="w.txt", content=3)


def test_list_dir_and_search(world: World) -> None:
    storage = world.storage()
    assert run("list_dir", storage, path=".") == "notes.txt\nsub/"
    assert run("search_files", storage, pattern="*.txt") == "notes.txt\nsub/deep.txt"
    hits = run("search_files", storage, query="DEEP")
    assert hits == "sub/deep.txt:1: deep" and isinstance(hits, FileOutput) and not hits.trusted
    assert run("search_files", storage, query="absent") == "(no matches)"
    with pytest.raises(ValueError):
        run("search_files", storage, query="x" * 5000)


def test_check_path_cli_uses_the_builtin_stage(tmp_path: Path, ethos_home: Path) -> None:
    from ethos_core.cli.main import cli

    home = ethos_home
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "check", "path", "~/.ssh/id_rsa", "--op", "read", "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["rule"] == "fs.floor.ssh"
    ws = tmp_path / "ws"
    ws.mkdir()
    args = ["--home", str(home), "check", "path", str(ws / "f.txt"), "--op", "write", "--write", str(ws), "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "allow"
    pconfig = home / "personalities" / "default" / "config.yaml"
    args = ["--home", str(home), "check", "path", str(pconfig), "--op", "write", "--write", str(home), "--json"]
    assert json.loads(runner.invoke(cli, args).output)["rule"] == "fs.protected"
