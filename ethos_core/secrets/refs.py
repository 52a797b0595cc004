"""Find the ``${secrets:REF}`` references in an ethos home's configuration files.

Invariant: every reference in ``config.yaml`` and ``personalities/*/config.yaml`` outside a
full-line comment is returned with its file and 1-based line. Not covered: references built at
run time, or inside YAML block scalars the loader would treat differently (they are listed too).
"""

from __future__ import annotations

import re
from pathlib import Path

SECRET_REF_RE = re.compile(r"\$\{secrets:([A-Za-z0-9_.\-/]{1,128})\}")


def config_files(home: Path) -> list[Path]:
    files = [home / "config.yaml"]
    personalities = home / "personalities"
    if personalities.is_dir():
        files.extend(sorted(personalities.glob("*/config.yaml")))
    return [f for f in files if f.is_file()]


def find_secret_refs(home: str | Path) -> list[tuple[str, Path, int]]:
    """``[(ref, file, line)]`` in file order, one entry per occurrence."""
    found: list[tuple[str, Path, int]] = []
    for path in config_files(Path(home)):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith("#"):
                continue
            for m in SECRET_REF_RE.finditer(line):
                found.append((m.group(1), path, lineno))
    return found
