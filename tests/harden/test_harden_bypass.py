"""Ways a weak deployment could slip past ``ethos harden check``: one named test per class.

Credentials hidden from a naive grep (comments, YAML escapes, folded scalars, zero-width
characters, prompt files, keys used as YAML keys), reach wildcards in disguise, floor paths
spelled differently, retention shortened by a more specific glob, and store files swapped for
symlinks. Plus the container facts, judged from ``/proc/self/mounts``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ethos_core.harden import run_checks
from ethos_core.harden.scan import is_wildcard_everything
from ethos_core.harden.system import Mount, SystemFacts, detect_container, parse_mounts
from tests.harden.helpers import HOST

KEY_BODY = "Q7" * 30
ANTHROPIC = f"sk-ant-api03-{KEY_BODY}"


def _plaintext(home: Path) -> list[str]:
    return list(run_checks(home, system=HOST).by_id("harden.secrets_plaintext").findings)


def _global(home: Path, text: str) -> None:
    (home / "config.yaml").write_text(text, encoding="utf-8")


def _personality(home: Path, text: str, pid: str = "default") -> None:
    pdir = home / "personalities" / pid
    pdir.mkdir(mode=0o700, exist_ok=True)
    (pdir / "config.yaml").write_text(text, encoding="utf-8")


# --- plaintext credentials --------------------------------------------------------------------


def test_key_in_a_yaml_comment_is_found(home: Path) -> None:
    _global(home, f"# old key: {ANTHROPIC}\nbots: []\n")
    assert any(f.startswith("config.yaml:1:") for f in _plaintext(home))


def test_key_behind_yaml_unicode_escape_is_found(home: Path) -> None:
    escaped = ANTHROPIC.replace("-", "\\u002d")
    _global(home, f'providers:\n  p:\n    type: anthropic\n    apiKey: "{escaped}"\n')
    assert any(f.startswith("config.yaml:4") for f in _plaintext(home))


def test_key_split_over_a_folded_scalar_is_found(home: Path) -> None:
    _personality(home, f"name: d\nprompt: >-\n  {ANTHROPIC[:20]}\\\n  {ANTHROPIC[20:]}\n".replace("\\\n  ", ""))
    _personality(home, f'name: d\nprompt: "{ANTHROPIC[:20]}\\\n  {ANTHROPIC[20:]}"\n')
    assert any("personalities/default/config.yaml" in f for f in _plaintext(home))


def test_key_with_zero_width_characters_is_found(home: Path) -> None:
    hidden = ANTHROPIC[:15] + "\u200b" + ANTHROPIC[15:30] + "\u2060" + ANTHROPIC[30:]
    _global(home, f"providers:\n  p:\n    type: anthropic\n    apiKey: \"{hidden}\"\n")
    assert any(f.startswith("config.yaml:4") for f in _plaintext(home))


def test_key_in_a_prompt_file_is_found(home: Path) -> None:
    (home / "personalities" / "default" / "prompt.md").write_text(f"You are helpful.\nUse key {ANTHROPIC}\n",
                                                                    encoding="utf-8")
    assert any(f.startswith("personalities/default/prompt.md:2") for f in _plaintext(home))


def test_key_used_as_a_yaml_key_is_found_and_not_echoed(home: Path) -> None:
    _global(home, f"secrets:\n  bindings:\n    {ANTHROPIC}: [api.anthropic.com]\n")
    findings = _plaintext(home)
    assert findings and not any(KEY_BODY[:12] in f for f in findings)


def test_literal_under_a_secret_key_is_found_without_a_known_shape(home: Path) -> None:
    _global(home, "bots:\n  - platform: telegram\n    personality: default\n    token: hunter2hunter2hunter2\n")
    assert any(f.startswith("config.yaml:4") and "secret key" in f for f in _plaintext(home))


def test_dotenv_file_in_the_home_is_scanned(home: Path) -> None:
    (home / ".env").write_text(f"ANTHROPIC_API_KEY={ANTHROPIC}\n", encoding="utf-8")
    assert any(f.startswith(".env:1") for f in _plaintext(home))


def test_secret_references_are_not_findings(home: Path) -> None:
    _global(home, "providers:\n  p:\n    type: anthropic\n    apiKey: ${secrets:anthropic-key}\n"
                  "secrets:\n  aws:\n    secretId: arn:aws:secretsmanager:eu-west-1:123456789012:secret:ethos\n")
    assert _plaintext(home) == []


# --- network reach -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["*", "*.com", "*.io.", "*."])
def test_wildcards_that_mean_everything(host: str) -> None:
    assert is_wildcard_everything(host)


@pytest.mark.parametrize("host", ["*.slack.com", "api.github.com", "*.example.co.uk"])
def test_scoped_wildcards_are_not_everything(host: str) -> None:
    assert not is_wildcard_everything(host)


def test_tld_wildcard_in_config_fails(home: Path) -> None:
    _personality(home, 'name: d\nfs_reach: {read: [], write: []}\nsafety:\n  networkReach:\n    - host: "*.com"\n')
    assert run_checks(home, system=HOST).by_id("harden.network_wildcard").status == "fail"


# --- filesystem reach ---------------------------------------------------------------------------


@pytest.mark.parametrize("root,rule", [
    ("~/.SSH", "floor.ssh"),
    ("$HOME/.aws/credentials", "floor.aws"),
    ("/tmp/../root", "floor.root_home"),
    ("~/projects/../.gnupg", "floor.gnupg"),
])
def test_floor_paths_in_other_spellings(home: Path, root: str, rule: str) -> None:
    _personality(home, f"name: d\nfs_reach:\n  read:\n    - \"{root}\"\n")
    res = run_checks(home, system=HOST).by_id("harden.fs_reach_floor")
    assert res.status == "fail" and rule in res.findings[0]


@pytest.mark.parametrize("root", ["~", "/", "/etc", "/proc"])
def test_roots_that_contain_the_floor(home: Path, root: str) -> None:
    _personality(home, f"name: d\nfs_reach:\n  write:\n    - \"{root}\"\n")
    res = run_checks(home, system=HOST).by_id("harden.fs_reach_floor")
    assert res.status == "fail" and "contains always-deny paths" in res.findings[0]


def test_reach_containing_the_ethos_home_fails(home: Path) -> None:
    _personality(home, f"name: d\nfs_reach:\n  read:\n    - \"{home}\"\n")
    res = run_checks(home, system=HOST).by_id("harden.fs_reach_floor")
    assert res.status == "fail" and "floor.ethos_audit" in res.findings[0]


def test_project_directory_reach_passes(home: Path) -> None:
    _personality(home, "name: d\nfs_reach:\n  read: [~/projects/app]\n  write: [~/projects/app/src]\n")
    assert run_checks(home, system=HOST).by_id("harden.fs_reach_floor").status == "pass"


# --- retention and channels --------------------------------------------------------------------


def test_exact_category_shorter_than_its_glob_fails(home: Path) -> None:
    _global(home, 'observability:\n  retention:\n    "audit.*": "90d"\n    "audit.block": "7d"\n')
    res = run_checks(home, system=HOST).by_id("harden.audit_retention")
    assert res.status == "fail" and any("audit.block kept 7 days" in f for f in res.findings)


def test_catch_all_glob_shortens_audit_retention(home: Path) -> None:
    _global(home, 'observability:\n  retention:\n    "*": "2w"\n')
    res = run_checks(home, system=HOST).by_id("harden.audit_retention")
    assert res.status == "fail" and any("channel.deny" in f for f in res.findings)


def test_filter_with_no_allowlist_pairing_or_owner_fails(home: Path) -> None:
    _global(home, "channel_filter:\n  telegram:\n    requireMention: true\n"
                  "bots:\n  - platform: telegram\n    personality: default\n")
    res = run_checks(home, system=HOST).by_id("harden.channel_filter")
    assert res.status == "fail" and "admits nobody" in res.findings[0]


# --- container facts -----------------------------------------------------------------------------

MOUNTS_HARDENED = """\
overlay / overlay ro,relatime,lowerdir=/a,upperdir=/b,workdir=/c 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
/dev/vdb /home/ethos/.ethos ext4 rw,relatime 0 0
/dev/vdc /data/my\\040dir ext4 rw 0 0
"""


def test_mount_parsing_unescapes_octal() -> None:
    mounts = parse_mounts(MOUNTS_HARDENED)
    assert mounts[-1].mountpoint == "/data/my dir"


def test_detect_container_markers(tmp_path: Path) -> None:
    assert detect_container(tmp_path, {}) == ""
    assert detect_container(tmp_path, {"container": "podman"}) == "$container=podman"
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "proc" / "1" / "cgroup").write_text("0::/kubepods/besteffort/pod1\n", encoding="utf-8")
    assert "kubepods" in detect_container(tmp_path, {})
    (tmp_path / ".dockerenv").write_text("", encoding="utf-8")
    assert detect_container(tmp_path, {}) == "/.dockerenv"


def _facts(mounts: str, euid: int, home: Path) -> SystemFacts:
    parsed = tuple(Mount(str(home) if m.mountpoint == "/home/ethos/.ethos" else m.mountpoint, m.fstype, m.options)
                   for m in parse_mounts(mounts))
    return SystemFacts(in_container=True, evidence="/.dockerenv", euid=euid, mounts=parsed)


def test_hardened_container_passes(home: Path) -> None:
    report = run_checks(home, system=_facts(MOUNTS_HARDENED, 1000, home))
    for cid in ("harden.container_user", "harden.container_rootfs", "harden.container_tmp", "harden.container_volume"):
        assert report.by_id(cid).status == "pass", report.by_id(cid)


def test_default_docker_run_fails_every_container_check(home: Path) -> None:
    weak = "overlay / overlay rw,relatime 0 0\nshm /dev/shm tmpfs rw 0 0\n"
    report = run_checks(home, system=_facts(weak, 0, home))
    for cid in ("harden.container_user", "harden.container_rootfs", "harden.container_tmp", "harden.container_volume"):
        assert report.by_id(cid).status == "fail", report.by_id(cid)


def test_tmp_under_a_tmpfs_elsewhere_is_not_a_tmpfs_tmp(home: Path) -> None:
    mounts = "overlay / overlay ro 0 0\ntmpfs /tmpdata tmpfs rw 0 0\n"
    report = run_checks(home, system=_facts(mounts, 1000, home))
    assert report.by_id("harden.container_tmp").status == "fail"


def test_unreadable_mounts_fail_closed(home: Path) -> None:
    facts = SystemFacts(in_container=True, evidence="/.dockerenv", euid=1000, mounts=None)
    report = run_checks(home, system=facts)
    assert report.by_id("harden.container_rootfs").status == "fail"
    assert report.by_id("harden.container_tmp").status == "fail"
    assert report.by_id("harden.container_volume").status == "fail"


def test_read_only_volume_fails(home: Path) -> None:
    mounts = MOUNTS_HARDENED.replace("ext4 rw,relatime", "ext4 ro,relatime")
    report = run_checks(home, system=_facts(mounts, 1000, home))
    assert report.by_id("harden.container_volume").status == "fail"
