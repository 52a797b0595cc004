"""The example skill's own tests: its tools under the real engine, and a clean scan."""

from __future__ import annotations

from pathlib import Path

from ethos_example_skill import ExampleSkill

from ethos_core.testing import SkillHarness, scan_project

PROJECT = Path(__file__).resolve().parents[1]


def test_scan_of_the_project_is_clean() -> None:
    report = scan_project(PROJECT)
    assert report.verdict == "clean", [f.to_json() for f in report.findings]
    assert report.manifest is not None and {t.name for t in report.manifest.tools} == {"text_stats", "read_note"}


def test_text_stats_runs_through_every_stage(tmp_path: Path) -> None:
    with SkillHarness(tmp_path, ExampleSkill(), project=PROJECT, distribution="ethos-example-skill",
                      toolset=["text_stats"]) as h:
        out = h.call("text_stats", text="one two\nthree")
        assert out.result.ok, out.result.error
        assert "words=3" in out.result.content and "lines=2" in out.result.content
        assert h.engine.tools.get("text_stats").spec.source == "ethos-example-skill"


def test_read_note_is_limited_to_the_declared_root(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("hello note", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not yours", encoding="utf-8")
    reach = f"fs_reach:\n  read: [{tmp_path}]\n"
    with SkillHarness(tmp_path / "h", ExampleSkill(), project=PROJECT, distribution="ethos-example-skill",
                      toolset=["read_note"], personality_config=reach) as h:
        ok = h.call("read_note", path=str(notes / "a.txt"))
        assert ok.result.ok and "hello note" in ok.result.content
        outside = h.call("read_note", path=str(tmp_path / "secret.txt"))
        assert not outside.result.ok and "skill.capability_fs" in (outside.result.error or "")


def test_tool_outside_the_toolset_is_denied(tmp_path: Path) -> None:
    with SkillHarness(tmp_path, ExampleSkill(), project=PROJECT, toolset=["text_stats"]) as h:
        out = h.call("read_note", path="/etc/hostname")
        assert not out.result.ok and "toolset" in (out.result.error or "")
