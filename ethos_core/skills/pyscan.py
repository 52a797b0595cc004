"""Static analysis of one Python source file for the install-time scanner (never executed).

Invariant: every rule here is decided on the parsed AST (``ast.parse``) plus the raw text for
invisible characters; no code of the file is imported, compiled to bytecode or evaluated.
Names are resolved through the file's own import aliases (``import subprocess as sp`` →
``sp.run`` is ``subprocess.run``), so renaming an import does not hide a call. A file that does
not parse is itself a red finding (it cannot be reviewed).

What it reports: red findings (code.*, obf.*), and the *facts* the scanner compares with the
manifest — where the code uses the network, runs programs, touches files, asks for secrets,
and which ``ethos_*`` hooks it defines.

Not covered: data flow beyond one assignment (``f = exec; g = f; g(x)`` is not followed past
``f``), code reached only through ``eval`` of data the scanner cannot see, and behaviour of
dependencies (each dependency is its own artifact). Python's dynamism means a determined author
can always hide intent from static analysis; that is why capabilities are also enforced at run
time and why untrusted skills need every red rule named by the operator.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

import attrs

from ethos_core.skills.findings import Finding, excerpt

BLOB_MIN = 200
_B64_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_COMPRESSED_MAGIC = (b"x\x9c", b"x\xda", b"x\x01", b"x^", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
SECRET_ENV_RE = re.compile(r"(?i)(?:^|_)(?:key|token|secret|passw(?:or)?d|pwd|credentials?|auth|session|cookie|private)(?:_|$)|apikey|api_key")
HOME_ENV = frozenset({"HOME", "USERPROFILE", "ETHOS_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "APPDATA"})
SECRET_PATH_FRAGMENTS = (
    ".ssh", ".aws", ".gnupg", ".netrc", ".ethos", "id_rsa", "id_ed25519", "id_ecdsa", "/etc/shadow", "/etc/passwd",
    ".kube/config", ".docker/config.json", ".git-credentials", ".pypirc", "ETHOS_HOME", "/proc/self/environ",
    "/proc/self/mem", ".config/gcloud", ".azure", "wallet.dat", "Login Data", "keychain", ".password-store",
    "secrets.yaml", "skills.lock", "observability.db", "state.db",
)
_SECRET_PATH_RE = re.compile("|".join(re.escape(f) for f in SECRET_PATH_FRAGMENTS))
HIDDEN_RE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")

RAW_NET_MODULES = ("requests", "urllib.request", "urllib3", "httpx", "aiohttp", "http.client", "httplib2", "pycurl", "ftplib",
                   "smtplib", "telnetlib", "xmlrpc.client", "websocket", "websockets", "paramiko", "tornado.httpclient",
                   "poplib", "imaplib", "nntplib", "urllib2", "httpcore", "treq", "grpc", "boto3", "botocore")
MODULE_RULES: dict[str, str] = {
    "subprocess": "code.subprocess", "multiprocessing": "code.subprocess", "pexpect": "code.subprocess",
    "sh": "code.subprocess", "plumbum": "code.subprocess", "pty": "code.pty", "ctypes": "code.native_ffi",
    "_ctypes": "code.native_ffi", "cffi": "code.native_ffi", "socket": "code.socket", "_socket": "code.socket",
    "socketserver": "code.socket", "asyncore": "code.socket", "ssl": "code.socket", "runpy": "code.dynamic_exec",
    "code": "code.dynamic_exec", "codeop": "code.dynamic_exec", "imp": "code.dynamic_import",
    **{m: "code.raw_http" for m in RAW_NET_MODULES},
}
ALLOWED_ETHOS = ("ethos_core", "ethos_core.types", "ethos_core.markers", "ethos_core.errors", "ethos_core.skills.runtime",
                 "ethos_core.testing")
CALL_RULES: dict[str, str] = {
    "os.system": "code.os_system", "os.popen": "code.subprocess", "os.fork": "code.subprocess",
    "os.forkpty": "code.pty", "os.startfile": "code.subprocess", "os.posix_spawn": "code.subprocess",
    "os.posix_spawnp": "code.subprocess", "asyncio.create_subprocess_exec": "code.subprocess",
    "asyncio.create_subprocess_shell": "code.subprocess", "asyncio.open_connection": "code.socket",
    "asyncio.start_server": "code.socket", "pickle.loads": "code.deserialize", "pickle.load": "code.deserialize",
    "pickle.Unpickler": "code.deserialize", "_pickle.loads": "code.deserialize", "cPickle.loads": "code.deserialize",
    "marshal.loads": "code.deserialize", "marshal.load": "code.deserialize", "shelve.open": "code.deserialize",
    "dill.loads": "code.deserialize", "dill.load": "code.deserialize", "cloudpickle.loads": "code.deserialize",
    "joblib.load": "code.deserialize", "yaml.unsafe_load": "code.deserialize", "numpy.load": "code.deserialize",
    "pathlib.Path.home": "code.secret_path", "os.path.expanduser": "code.secret_path", "os.getlogin": "code.secret_path",
    "pwd.getpwuid": "code.secret_path", "pwd.getpwnam": "code.secret_path",
    "urllib.request.urlopen": "code.raw_http", "urllib.urlopen": "code.raw_http",
}
EXEC_BUILTINS = frozenset({"exec", "eval", "compile", "execfile"})
DECODERS = frozenset({"b64decode", "b32decode", "b16decode", "b85decode", "a85decode", "urlsafe_b64decode", "standard_b64decode",
                      "decodebytes", "decodestring", "decompress", "unhexlify", "fromhex", "a2b_base64", "a2b_hex", "decode",
                      "loads", "rot13"})
FS_CALLS = frozenset({"open", "io.open", "os.open", "os.remove", "os.unlink", "os.rename", "os.replace", "os.mkdir",
                      "os.makedirs", "os.listdir", "os.scandir", "os.walk", "os.rmdir", "os.chmod", "os.chown",
                      "os.symlink", "os.link", "os.truncate", "glob.glob", "glob.iglob", "tempfile.mkstemp",
                      "tempfile.mkdtemp", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile"})
FS_METHODS = frozenset({"read_text", "write_text", "read_bytes", "write_bytes", "unlink", "rmdir", "touch", "iterdir",
                        "rglob", "open_file"})
ALLOWED_SKILL_HOOKS = frozenset({"ethos_register_tools", "ethos_watch", "ethos_audit"})


@attrs.define
class PyFacts:
    """What one file does, as the manifest comparison needs it (path, line) per use."""

    network: list[tuple[str, int]] = attrs.field(factory=list)
    exec: list[tuple[str, int]] = attrs.field(factory=list)
    fs: list[tuple[str, int]] = attrs.field(factory=list)
    secrets: list[tuple[str, int, str]] = attrs.field(factory=list)
    hooks: list[tuple[str, int, str]] = attrs.field(factory=list)


def _is_assembled(node: ast.AST) -> bool:
    """A string built at run time from pieces (concatenation, join, format, chr, slicing…)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("join", "format", "replace", "decode", "lower", "upper",
                                                              "strip", "translate", "swapcase", "title"):
            return True
        if isinstance(func, ast.Name) and func.id in ("chr", "str", "bytes", "reversed", "format"):
            return True
        if isinstance(func, (ast.Name, ast.Attribute)) and _last(func) in DECODERS:
            return True
    return False


def _last(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _blob_kind(value: str | bytes) -> str | None:
    if isinstance(value, bytes):
        if len(value) >= 64 and value.startswith(_COMPRESSED_MAGIC):
            return "compressed"
        if len(value) < BLOB_MIN:
            return None  # neither a text blob (compact < BLOB_MIN) nor a binary one (< 2 * BLOB_MIN)
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return "binary" if len(value) >= BLOB_MIN * 2 else None
    elif len(value) < BLOB_MIN:
        return None  # the whitespace-free form can only be shorter
    compact = "".join(value.split())
    if len(compact) < BLOB_MIN:
        return None
    if _HEX_RE.match(compact):
        return "hex"
    if _B64_RE.match(compact) and any(c.isdigit() for c in compact[:400]) and any(c.isupper() for c in compact[:400]) \
            and any(c.islower() for c in compact[:400]):
        return "base64"
    return None


# How the walk descends, per node type: ((field, kind), ...) in *reverse* field order, so that
# pushing onto a stack pops children in source order. Read from each node class's ASDL
# signature (``FunctionDef(identifier name, arguments args, stmt* body, ...)``): identifier,
# string, int and constant fields are leaves, contexts and operators are skipped, ``T*`` is a
# list. A class whose signature cannot be read falls back to inspecting values (_ANY).
_ONE, _MANY, _ANY = 0, 1, 2
_LEAF_TYPES = frozenset({"identifier", "string", "int", "constant", "expr_context", "boolop", "operator", "unaryop", "cmpop"})
_SIGNATURE_RE = re.compile(r"^\w+(?:\((.*)\))?$")
_CHILD_FIELDS: dict[type, tuple[tuple[str, int], ...]] = {}


def _child_fields(cls: type) -> tuple[tuple[str, int], ...]:
    fields: tuple[tuple[str, int], ...] = ()
    if issubclass(cls, ast.AST):
        names: tuple[str, ...] = cls._fields
        m = _SIGNATURE_RE.match((cls.__doc__ or "").strip())
        parsed = [part.split() for part in m.group(1).split(", ")] if m and m.group(1) else []
        if m and [p[-1] for p in parsed] == list(names) and all(len(p) == 2 for p in parsed):
            fields = tuple((name, _MANY if typ.endswith("*") else _ONE) for typ, name in reversed(parsed)
                           if typ.rstrip("*?") not in _LEAF_TYPES)
        else:
            fields = tuple((name, _ANY) for name in reversed(names) if name not in ("ctx", "op", "ops"))
    _CHILD_FIELDS[cls] = fields
    return fields


_MODULE_RULE_CACHE: dict[str, str | None] = {}
_RULE_DEPTH = max(name.count(".") for name in MODULE_RULES) + 1
# Dotted names are kept to this many characters. Every decision on a name is by prefix or by
# equality with a much shorter constant, so a cut name decides the same, while an adversarial
# chain (``a.b.b.b…`` or a long ``from m import x, x, …``) stays linear in the file size.
_NAME_CAP = 512


def _cap(name: str) -> str:
    return name if len(name) <= _NAME_CAP else name[:_NAME_CAP]


def _module_rule(dotted: str) -> str | None:
    """The rule a dotted name falls under by its module prefix (pure, so cached across files;
    the cache holds at most 4096 names of at most _NAME_CAP characters, whatever the input)."""
    try:
        return _MODULE_RULE_CACHE[dotted]
    except KeyError:
        pass
    rule: str | None = None
    parts = dotted.split(".", _RULE_DEPTH)  # longer prefixes cannot name a rule: linear in len(dotted)
    for i in range(min(len(parts), _RULE_DEPTH), 0, -1):
        rule = MODULE_RULES.get(".".join(parts[:i]))
        if rule:
            break
    if rule is None and dotted.startswith("ethos_core.") and dotted not in ALLOWED_ETHOS and \
            not any(dotted.startswith(a + ".") for a in ALLOWED_ETHOS[1:]):
        rule = "code.engine_internals"
    if len(dotted) <= _NAME_CAP:
        if len(_MODULE_RULE_CACHE) >= 4096:
            _MODULE_RULE_CACHE.clear()
        _MODULE_RULE_CACHE[dotted] = rule
    return rule


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[str], facts: PyFacts) -> None:
        self.path = path
        self.lines = lines
        self.facts = facts
        self.findings: list[Finding] = []
        self.aliases: dict[str, str] = {}
        self._qualnames: dict[int, str] = {}  # id(Attribute) -> qualname, valid while aliases are unchanged
        self.decoded_names: set[str] = set()
        self.exec_aliases: set[str] = set()
        self.docstrings: set[int] = set()
        self.may_chr = True  # whether chr() can occur in this file (see run)
        self._seen: set[tuple[str, int]] = set()

    # --- helpers -----------------------------------------------------------------------

    def hit(self, rule: str, node: ast.AST, message: str = "") -> None:
        line = getattr(node, "lineno", 0) or 0
        if (rule, line) in self._seen:
            return
        self._seen.add((rule, line))
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(rule, self.path, line or None, excerpt(text), message))

    def qualname(self, node: ast.AST) -> str:
        """Dotted name of ``node`` with the file's import aliases applied ('' when not a name).

        Attribute results are memoised (cleared when an alias changes) so that the handlers
        meeting every link of one long chain ``a.b.c…`` cost linear, not quadratic, time."""
        memo = self._qualnames
        chain: list[ast.Attribute] = []
        while isinstance(node, ast.Attribute):
            known = memo.get(id(node))
            if known is not None:
                base = known
                break
            chain.append(node)
            node = node.value
        else:
            if isinstance(node, ast.Call):  # Path(...).home() → pathlib.Path.home
                base = self.qualname(node.func)
            elif isinstance(node, ast.Name):
                base = self.aliases.get(node.id, node.id)
            else:
                base = ""
        for link in reversed(chain):
            if base:
                base = _cap(f"{base}.{link.attr}")
            memo[id(link)] = base
        return base

    def set_alias(self, name: str, target: str) -> None:
        self.aliases[name] = _cap(target)
        self._qualnames.clear()

    module_rule = staticmethod(_module_rule)

    def run(self, tree: ast.AST, text: str) -> None:
        """One iterative pass in source order; handlers only for node types this text can need."""
        dispatch: dict[type, Any] = {
            ast.Import: self.visit_Import, ast.ImportFrom: self.visit_ImportFrom, ast.Call: self.visit_Call,
            ast.Assign: self.visit_Assign, ast.Constant: self.visit_Constant,
            ast.FunctionDef: self.visit_FunctionDef, ast.AsyncFunctionDef: self.visit_AsyncFunctionDef,
        }
        # The text gates below are sound only where identifiers are spelled as written: Python
        # NFKC-normalises non-ASCII identifiers (``ｇｌｏｂａｌｓ`` is ``globals``), so such files get every handler.
        plain = text.isascii()
        if not plain or "__builtins__" in text:
            dispatch[ast.Name] = self.visit_Name
        if not plain or "ethos_core" in text:
            dispatch[ast.Attribute] = self.visit_Attribute
        if not plain or any(k in text for k in ("environ", "modules", "globals", "locals", "vars")):
            dispatch[ast.Subscript] = self.visit_Subscript
        self.may_chr = not plain or "chr" in text
        for holder in (ast.Module, ast.ClassDef):
            dispatch[holder] = self._note_docstring
        stack: list[Any] = [tree]
        pop, push, extend = stack.pop, stack.append, stack.extend
        handler_of, fields_of, AST = dispatch.get, _CHILD_FIELDS.get, ast.AST
        while stack:
            node = pop()
            cls = type(node)
            handler = handler_of(cls)
            if handler is not None:
                handler(node)
            fields = fields_of(cls)
            if fields is None:
                fields = _child_fields(cls)  # also () for the None/str items some lists hold
            for field, kind in fields:
                value = getattr(node, field, None)
                if value is None:
                    continue
                if kind == _MANY:
                    extend(reversed(value))
                elif kind == _ONE:
                    push(value)
                elif type(value) is list:
                    extend(reversed(value))
                elif isinstance(value, AST):
                    push(value)

    def _note_docstring(self, node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self.docstrings.add(id(body[0].value))

    # --- imports -------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.set_alias((alias.asname or alias.name).split(".")[0], alias.name if alias.asname else alias.name.split(".")[0])
            rule = self.module_rule(alias.name)
            if rule:
                self.hit(rule, node, f"imports {alias.name}")
                self._note_use(rule, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _cap(node.module or "")
        if node.level:
            return  # relative imports stay inside the package
        module_rule = self.module_rule(module)
        for alias in node.names:
            full = _cap(f"{module}.{alias.name}")
            self.set_alias(alias.asname or alias.name, full)
            rule = self.module_rule(full) or module_rule or CALL_RULES.get(full)
            if rule and not (rule == "code.engine_internals" and module in ALLOWED_ETHOS):
                self.hit(rule, node, f"imports {full}")
                self._note_use(rule, node)
            if alias.name in EXEC_BUILTINS and module == "builtins":
                self.exec_aliases.add(alias.asname or alias.name)
                self.hit("code.dynamic_exec", node, f"imports builtins.{alias.name}")
            if module == "ethos_core.skills.runtime" and alias.name in ("run", "run_skill_process"):
                self.facts.exec.append((self.path, node.lineno))

    def _note_use(self, rule: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        if rule in ("code.raw_http", "code.socket"):
            self.facts.network.append((self.path, line))
        elif rule in ("code.subprocess", "code.os_system", "code.pty"):
            self.facts.exec.append((self.path, line))

    # --- definitions ---------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._note_docstring(node)
        if node.name.startswith("ethos_"):
            self.facts.hooks.append((self.path, node.lineno, node.name))

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._note_docstring(node)
        if node.name.startswith("ethos_"):
            self.facts.hooks.append((self.path, node.lineno, node.name))

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        decoded = isinstance(value, ast.Call) and _last(value.func) in DECODERS
        is_exec_alias = isinstance(value, ast.Name) and (value.id in EXEC_BUILTINS or value.id in self.exec_aliases)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if decoded:
                    self.decoded_names.add(target.id)
                if is_exec_alias:
                    self.exec_aliases.add(target.id)
                    self.hit("code.dynamic_exec", node, f"aliases {getattr(value, 'id', '?')}")
                q = self.qualname(value) if isinstance(value, (ast.Name, ast.Attribute)) else ""
                if q:
                    rule = self.module_rule(q) or CALL_RULES.get(q)
                    if rule is None and q.startswith("os.") and (q[3:].startswith(("spawn", "exec"))):
                        rule = "code.subprocess"
                    if rule and q not in ("os.path.expanduser",):
                        self.set_alias(target.id, q)

    # --- expressions ---------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.hit("obf.builtins_access", node, "touches __builtins__")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        q = self.qualname(node)
        if q.startswith("ethos_core.") and self.module_rule(q) == "code.engine_internals":
            self.hit("code.engine_internals", node, f"reaches {q}")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        target = self.qualname(node.value)
        if target in ("os.environ", "os.environb"):
            self._env_access(node, node.slice)
        elif target == "sys.modules" and _literal_str(node.slice) is None:
            self.hit("code.dynamic_import", node, "sys.modules with a computed key")
        elif isinstance(node.value, ast.Call) and _last(node.value.func) in ("globals", "locals", "vars"):
            self.hit("obf.builtins_access", node, f"{_last(node.value.func)}()[…]")

    def _env_access(self, node: ast.AST, key: ast.AST | None) -> None:
        name = _literal_str(key)
        if name is None:
            self.hit("code.secret_env", node, "environment variable with a computed name")
        elif name.upper() in HOME_ENV:
            self.hit("code.secret_path", node, f"reads ${name}")
        elif SECRET_ENV_RE.search(name):
            self.hit("code.secret_env", node, f"reads ${name}")

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, (str, bytes)) and len(value) >= 4:
            kind = _blob_kind(value)
            if kind:
                self.hit("obf.encoded_blob", node, f"{len(value)}-character {kind} blob")
            if isinstance(value, str) and id(node) not in self.docstrings:
                m = _SECRET_PATH_RE.search(value)
                if m:
                    self.hit("code.secret_path", node, f"names {m.group()}")
                if value.startswith("~") or value.startswith("/home/") or value.startswith("/root"):
                    self.hit("code.secret_path", node, "names a home directory")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        q = self.qualname(func)
        # the callee as a bare name or as an attribute ('' when it is neither)
        fid = func.id if type(func) is ast.Name else ""
        fattr = func.attr if type(func) is ast.Attribute else ""
        last = fid or fattr
        args = node.args
        first = args[0] if args else None
        # exec / eval / compile, and exec of decoded data
        if (fid and (fid in EXEC_BUILTINS or fid in self.exec_aliases)) or \
                q in ("builtins.exec", "builtins.eval", "builtins.compile"):
            self.hit("code.dynamic_exec", node, f"{last}()")
            if first is not None and self._is_decoded(first):
                self.hit("obf.exec_decoded", node, f"{last}() of decoded data")
        # imports with computed names
        if q in ("__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__") or \
                fid == "__import__":
            if _literal_str(first) is None:
                self.hit("code.dynamic_import", node, f"{last}() with a computed name")
                if first is not None and (_is_assembled(first) or self._is_decoded(first)):
                    self.hit("obf.assembled_name", node, "module name assembled at run time")
                    if self._is_decoded(first):
                        self.hit("obf.exec_decoded", node, "imports a decoded name")
            else:
                rule = self.module_rule(str(_literal_str(first)))
                if rule:
                    self.hit(rule, node, f"imports {_literal_str(first)}")
                    self._note_use(rule, node)
        if q.startswith(("importlib.util.", "importlib.machinery.")) or q == "importlib.reload":
            self.hit("code.dynamic_import", node, q)
        # getattr tricks
        if fid in ("getattr", "setattr", "delattr") and len(args) >= 2:
            obj_q = self.qualname(args[0])
            if obj_q in ("__builtins__", "builtins") or (isinstance(args[0], ast.Call) and _last(args[0].func) in ("globals", "vars", "locals")):
                self.hit("obf.builtins_access", node, f"{fid}() on builtins")
            name_node = args[1]
            if _literal_str(name_node) is None:
                if _is_assembled(name_node) or self._is_decoded(name_node):
                    self.hit("obf.assembled_name", node, f"{fid}() with a name assembled at run time")
                elif obj_q and (obj_q in MODULE_RULES or obj_q in ("os", "sys", "builtins", "importlib", "io", "shutil")):
                    self.hit("obf.assembled_name", node, f"{fid}({obj_q}, <computed>)")
            else:
                target = f"{obj_q}.{_literal_str(name_node)}" if obj_q else ""
                rule = CALL_RULES.get(target) or (self.module_rule(target) if target else None)
                if target in ("builtins.exec", "builtins.eval", "builtins.__import__"):
                    rule = "code.dynamic_exec"
                if rule:
                    self.hit(rule, node, f"getattr reaches {target}")
        if fid in ("vars", "globals", "locals") and args and \
                self.qualname(args[0]) in ("builtins", "__builtins__"):
            self.hit("obf.builtins_access", node, "vars(builtins)")
        # chr() chains
        if fattr == "join" and self.may_chr and args and \
                isinstance(args[0], (ast.ListComp, ast.GeneratorExp, ast.List)):
            if any(isinstance(n, ast.Call) and _last(n.func) == "chr" for n in ast.walk(args[0])):
                self.hit("obf.assembled_name", node, "string assembled from chr()")
        # module-level call rules
        rule = CALL_RULES.get(q)
        if rule is None and q.startswith("os.") and q[3:].startswith(("spawn", "exec")):
            rule = "code.subprocess"
        if rule is None and q:
            mrule = self.module_rule(q)
            if mrule and mrule != "code.engine_internals":
                rule = mrule
        if rule:
            self.hit(rule, node, f"calls {q}")
            self._note_use(rule, node)
        # environment
        if q in ("os.getenv", "os.environ.get", "os.environ.pop", "os.environ.setdefault", "os.getenvb", "os.environb.get"):
            self._env_access(node, first)
        elif q in ("os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values", "dict", "list", "sorted") and \
                (q.startswith("os.environ.") or (first is not None and self.qualname(first) in ("os.environ", "os.environb"))):
            self.hit("code.secret_env", node, "copies the whole environment")
        # facts for declared-versus-actual
        if q in FS_CALLS or fid == "open" or q.startswith("shutil.") or \
                fattr in FS_METHODS:
            self.facts.fs.append((self.path, node.lineno))
        if fattr == "open" and not q.startswith(("os.", "io.", "tempfile.", "gzip.", "zipfile.", "tarfile.", "codecs.", "webbrowser.")):
            self.facts.fs.append((self.path, node.lineno))
        if fattr in ("fetch", "fetcher"):
            self.facts.network.append((self.path, node.lineno))
        if (fattr in ("run", "run_skill_process") and not q.startswith(("subprocess.", "asyncio."))
                and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("ctx", "skill", "session", "tools")) or \
                q in ("ethos_core.skills.runtime.run", "ethos_core.skills.runtime.run_skill_process"):
            self.facts.exec.append((self.path, node.lineno))
        if fattr == "secret":
            ref = _literal_str(first)
            self.facts.secrets.append((self.path, node.lineno, ref if ref is not None else "<computed>"))

    def _is_decoded(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.decoded_names
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and _last(sub.func) in DECODERS:
                return True
            if isinstance(sub, ast.Name) and sub.id in self.decoded_names:
                return True
        return False


def scan_python(path: str, text: str, facts: PyFacts) -> list[Finding]:
    """Red findings for one Python file; records usage facts into ``facts``."""
    lines = text.splitlines()
    findings: list[Finding] = []
    for lineno, line in enumerate(lines if HIDDEN_RE.search(text) else (), 1):
        if HIDDEN_RE.search(line):
            findings.append(Finding("obf.hidden_unicode", path, lineno, excerpt(line), "invisible or bidi control characters"))
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        findings.append(Finding("code.unparsable", path, getattr(exc, "lineno", None), excerpt(str(exc)), "does not parse"))
        return findings
    visitor = _Visitor(path, lines, facts)
    try:
        visitor.run(tree, text)
    except RecursionError:
        findings.append(Finding("code.unparsable", path, None, "", "nesting too deep to review"))
    findings.extend(visitor.findings)
    return findings


def names_in(rules: Iterable[Finding]) -> set[str]:
    return {f.rule for f in rules}
