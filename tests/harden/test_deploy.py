"""Deployment artefacts: the Dockerfile, the systemd units and the watchdog's restart logic.

docker is not available in the test environment, so the image is checked statically; the
watchdog script runs for real against a fake ``ethos`` and a fake ``systemctl`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
SYSTEMD = REPO / "deploy" / "systemd"
WATCHDOG = SYSTEMD / "ethos-watchdog.sh"


# --- Dockerfile --------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1]:]


def test_dockerfile_runtime_stage_is_hardened() -> None:
    stage = _final_stage()
    words = [w for w, _ in stage]
    args = {w: a for w, a in stage}
    assert stage[0] == ("FROM", "python:3.11-slim")
    assert args["USER"] == "1000:1000"
    assert args["VOLUME"] == "/home/ethos/.ethos"
    assert "ETHOS_HOME=/home/ethos/.ethos" in args["ENV"]
    assert '["ethos", "health"]' in args["HEALTHCHECK"] and args["HEALTHCHECK"].split()[-3] == "CMD"
    assert "EXPOSE" not in words
    # USER comes after every RUN: nothing runs as root once the user is set.
    assert max(i for i, w in enumerate(words) if w == "RUN") < words.index("USER")
    assert "gateway" in args["CMD"] and "run" in args["CMD"]
    assert "umask 077" in args["ENTRYPOINT"] and "exec ethos" in args["ENTRYPOINT"]


def test_dockerfile_installs_the_package_with_pip() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "pip wheel" in text and "pip install" in text and "ethos-core" in text


def test_dockerfile_copy_sources_exist_and_are_not_ignored() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    for word, arg in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word != "COPY" or arg.startswith("--from"):
            continue
        *sources, _dest = arg.split()
        for src in sources:
            assert (REPO / src).exists(), src
            assert src.split("/")[0] not in ignored, f"{src} is excluded by .dockerignore"


def test_dockerignore_keeps_homes_and_secrets_out_of_the_context() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8")
    for pattern in (".git", "**/*.db", "**/.env", ".ethos", "tests"):
        assert pattern in ignored.splitlines()


# --- systemd units ----------------------------------------------------------------------------------


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_gateway_unit_has_the_hardening_directives() -> None:
    unit = _unit("ethos-gateway.service")
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "read-only",
        "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectControlGroups": "yes", "LockPersonality": "yes", "UMask": "0077",
        "Restart": "on-failure", "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], key
    home = unit["Environment"][0].split("=", 1)[1]
    assert unit["Environment"] == [f"ETHOS_HOME={home}"]
    assert home in unit["ReadWritePaths"]
    assert unit["User"] != ["root"] and unit["User"]
    assert unit["ExecStart"][0].endswith("ethos gateway run")


def test_watchdog_timer_runs_every_two_minutes() -> None:
    timer = _unit("ethos-watchdog.timer")
    assert timer["OnUnitActiveSec"] == ["2min"] and timer["Unit"] == ["ethos-watchdog.service"]
    service = _unit("ethos-watchdog.service")
    assert service["Type"] == ["oneshot"] and service["ExecStart"][0].endswith("ethos-watchdog.sh")
    assert "WATCHDOG_THRESHOLD=3" in service["Environment"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    ethos = shutil.which("ethos") or "/bin/true"
    for unit in SYSTEMD.iterdir():
        text = unit.read_text(encoding="utf-8").replace("/usr/local/bin/ethos", ethos)
        text = text.replace("/usr/local/lib/ethos/ethos-watchdog.sh", str(WATCHDOG))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    names = [str(tmp_path / n) for n in ("ethos-gateway.service", "ethos-watchdog.service", "ethos-watchdog.timer")]
    proc = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


# --- the watchdog script, for real ----------------------------------------------------------------


class Watchdog:
    """The script with a fake ``ethos`` (health from a file) and ``systemctl`` (logs its calls)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.health_rc = tmp / "health_rc"
        self.calls = tmp / "systemctl.log"
        self.active = tmp / "active"
        self.restart_rc = tmp / "restart_rc"
        self.health_runs = tmp / "health.log"
        self.state = tmp / "state" / "consecutive-failures"
        self._script("ethos", f'echo "$*" >> "{self.health_runs}"\nexit "$(cat "{self.health_rc}")"\n')
        self._script("systemctl", f'echo "$*" >> "{self.calls}"\n'
                                  f'case "$1" in is-active) cat "{self.active}"; exit 0 ;; '
                                  f'restart) exit "$(cat "{self.restart_rc}")" ;; esac\n')
        self.set(health=0, active="active", restart=0)

    def _script(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        path.chmod(0o755)

    def set(self, *, health: int | None = None, active: str | None = None, restart: int | None = None) -> None:
        if health is not None:
            self.health_rc.write_text(str(health), encoding="utf-8")
        if active is not None:
            self.active.write_text(active + "\n", encoding="utf-8")
        if restart is not None:
            self.restart_rc.write_text(str(restart), encoding="utf-8")

    def run(self) -> int:
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "WATCHDOG_STATE": str(self.state),
               "ETHOS_HOME": str(self.tmp / "home"), "GATEWAY_UNIT": "ethos-gateway.service"}
        proc = subprocess.run(["/bin/sh", str(WATCHDOG)], env=env, capture_output=True, text=True, timeout=30)
        return proc.returncode

    def restarts(self) -> int:
        if not self.calls.exists():
            return 0
        return sum(1 for line in self.calls.read_text(encoding="utf-8").splitlines() if line.startswith("restart "))

    def count(self) -> int:
        return int(self.state.read_text(encoding="utf-8").strip())


@pytest.fixture
def watchdog(tmp_path: Path) -> Watchdog:
    return Watchdog(tmp_path)


def test_watchdog_restarts_after_three_consecutive_failures_not_before(watchdog: Watchdog) -> None:
    watchdog.set(health=1)
    assert watchdog.run() == 1 and watchdog.restarts() == 0 and watchdog.count() == 1
    assert watchdog.run() == 1 and watchdog.restarts() == 0 and watchdog.count() == 2
    assert watchdog.run() == 1 and watchdog.restarts() == 1 and watchdog.count() == 0
    assert "restart ethos-gateway.service" in watchdog.calls.read_text(encoding="utf-8")
    # Counting starts again after the restart.
    watchdog.run()
    watchdog.run()
    assert watchdog.restarts() == 1


def test_watchdog_success_resets_the_count(watchdog: Watchdog) -> None:
    watchdog.set(health=1)
    watchdog.run()
    watchdog.run()
    watchdog.set(health=0)
    assert watchdog.run() == 0 and watchdog.count() == 0
    watchdog.set(health=1)
    watchdog.run()
    watchdog.run()
    assert watchdog.restarts() == 0
    assert f"--home {watchdog.tmp / 'home'} health" in watchdog.health_runs.read_text(encoding="utf-8")


def test_watchdog_leaves_a_stopped_gateway_alone(watchdog: Watchdog) -> None:
    watchdog.set(health=1, active="inactive")
    for _ in range(4):
        assert watchdog.run() == 0
    assert watchdog.restarts() == 0 and not watchdog.health_runs.exists()


def test_watchdog_retries_a_failed_restart(watchdog: Watchdog) -> None:
    watchdog.set(health=1, restart=1)
    for _ in range(3):
        watchdog.run()
    assert watchdog.restarts() == 1 and watchdog.count() == 3
    watchdog.set(restart=0)
    watchdog.run()
    assert watchdog.restarts() == 2 and watchdog.count() == 0


def test_watchdog_treats_a_corrupt_counter_as_zero(watchdog: Watchdog) -> None:
    watchdog.state.parent.mkdir(parents=True)
    watchdog.state.write_text("9; rm -rf /\n", encoding="utf-8")
    watchdog.set(health=1)
    watchdog.run()
    assert watchdog.count() == 1 and watchdog.restarts() == 0


def test_watchdog_script_is_executable() -> None:
    assert os.access(WATCHDOG, os.X_OK)
