"""Build skill artifacts at test time: wheels (zip), sdists (tar.gz) and installed site dirs.

Nothing built here is ever installed into the development environment.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

GOOD_MANIFEST = """
[tool.ethos.skill]
description = "Demo skill."

[[tool.ethos.skill.tools]]
name = "demo_tool"
description = "Return a greeting."
"""

GOOD_CODE = '''"""Demo skill."""
from ethos_core import ToolSpec, hookimpl


def greet(call, ctx):
    return "hello"


class Demo:
    @hookimpl
    def ethos_register_tools(self, registry):
        registry.add(ToolSpec(name="demo_tool", description=""), greet)
'''


def pyproject(name: str = "demo-skill", manifest: str = GOOD_MANIFEST, *, extra: str = "") -> str:
    return (f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = ["ethos-core"]\n'
            f'[project.entry-points."ethos.skills"]\ndemo = "demo_skill:Demo"\n{extra}\n{manifest}')


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_files(name: str = "demo-skill", files: Mapping[str, str | bytes] | None = None, *,
                manifest: str = GOOD_MANIFEST, entry_points: str | None = None, requires: tuple[str, ...] = ("ethos-core",),
                version: str = "1.0") -> dict[str, bytes]:
    """The members of a wheel (site-packages layout) for a skill distribution."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    body = {"demo_skill/__init__.py": GOOD_CODE}
    if files is not None:
        body = dict(files)
    out: dict[str, bytes] = {k: (v.encode() if isinstance(v, str) else v) for k, v in body.items()}
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    out[f"{dist}/METADATA"] = meta.encode()
    out[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    out[f"{dist}/entry_points.txt"] = (entry_points if entry_points is not None else "[ethos.skills]\ndemo = demo_skill:Demo\n").encode()
    if manifest:
        out[f"{dist}/licenses/pyproject.toml"] = pyproject(name, manifest).encode()
    record = [_record_line(p, d) for p, d in out.items()] + [f"{dist}/RECORD,,"]
    out[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    return out


def build_wheel(tmp: Path, name: str = "demo-skill", files: Mapping[str, str | bytes] | None = None, **kw: object) -> Path:
    members = wheel_files(name, files, **kw)  # type: ignore[arg-type]
    path = tmp / f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def build_zip(path: Path, members: Mapping[str, bytes], *, symlinks: Mapping[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
        for member, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(member)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return path


def build_sdist(path: Path, members: Mapping[str, bytes], *, symlinks: Mapping[str, str] | None = None,
                hardlinks: Mapping[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for member, target in (symlinks or {}).items():
            info = tarfile.TarInfo(member)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
        for member, target in (hardlinks or {}).items():
            info = tarfile.TarInfo(member)
            info.type = tarfile.LNKTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def install_into_site(site: Path, members: Mapping[str, bytes]) -> Path:
    """Lay a wheel's members out in ``site`` the way pip would (no pip, no code run)."""
    for member, data in members.items():
        target = site / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return site


def rules_of(report: object) -> set[str]:
    return {f.rule for f in report.findings}  # type: ignore[attr-defined]
