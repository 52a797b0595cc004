"""Names one edit away from an installed or popular distribution (``name.typosquat``).

Invariant: a name whose PEP 503 form is exactly one insertion, deletion, substitution or
adjacent transposition away from a popular name (bundled list) or from a distribution installed
in this environment — and is not itself that name — is reported. Names shorter than four
characters are not compared (every short name is one edit from another).

Not covered: two or more edits, homoglyph names beyond PEP 503 normalisation, combosquatting
(``requests-secure``); the bundled list is short on purpose and the installed set covers what
this environment actually uses.
"""

from __future__ import annotations

import importlib.metadata as md

from ethos_core.skills.manifest import normalize_name

POPULAR = (
    "requests", "urllib3", "boto3", "botocore", "setuptools", "numpy", "pandas", "certifi", "idna", "charset-normalizer",
    "python-dateutil", "typing-extensions", "six", "packaging", "pyyaml", "s3transfer", "cryptography", "pip", "wheel",
    "attrs", "cattrs", "click", "jinja2", "markupsafe", "pydantic", "pydantic-core", "protobuf", "rsa", "pyasn1",
    "jmespath", "colorama", "pytest", "pluggy", "httpx", "httpcore", "anyio", "sniffio", "h11", "aiohttp", "yarl",
    "multidict", "frozenlist", "aiosignal", "async-timeout", "filelock", "platformdirs", "virtualenv", "tomli",
    "pyjwt", "oauthlib", "requests-oauthlib", "google-auth", "googleapis-common-protos", "grpcio", "scipy",
    "matplotlib", "pillow", "sqlalchemy", "psycopg2", "psycopg2-binary", "pymysql", "redis", "celery", "django",
    "flask", "fastapi", "starlette", "uvicorn", "gunicorn", "werkzeug", "itsdangerous", "beautifulsoup4", "lxml",
    "openai", "anthropic", "tiktoken", "langchain", "langchain-core", "transformers", "torch", "tensorflow",
    "scikit-learn", "tqdm", "rich", "ruamel-yaml", "sqlite-utils", "bashlex", "paramiko", "docker", "kubernetes",
    "ethos-core", "websocket-client", "websockets", "pycparser", "cffi", "wrapt", "decorator", "psutil", "regex",
    "tenacity", "backoff", "jsonschema", "toml", "mypy", "ruff", "black", "isort", "tox", "coverage", "selenium",
    "playwright", "pexpect", "python-dotenv", "dotenv", "colorlog", "loguru", "keyring", "pynacl", "bcrypt",
)


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one edit (incl. one adjacent transposition)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def installed_names() -> set[str]:
    names: set[str] = set()
    for dist in md.distributions():
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if name:
            names.add(normalize_name(name))
    return names


def typosquat_of(name: str, installed: set[str] | None = None) -> str | None:
    """The popular or installed name ``name`` imitates, or None."""
    norm = normalize_name(name)
    if len(norm) < 4:
        return None
    candidates = set(map(normalize_name, POPULAR)) | (installed if installed is not None else installed_names())
    if norm in candidates and norm in map(normalize_name, POPULAR):
        return None
    for other in sorted(candidates):
        if other != norm and len(other) >= 4 and one_edit_apart(norm, other):
            return other
    return None
