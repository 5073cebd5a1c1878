"""The shape of the code (issue 10), checked on the source so it cannot drift back: no
module over 600 lines, no import circle between the project's modules (imports inside
functions and under ``TYPE_CHECKING`` count too), no use of another object's ``_private``
names across modules, and the engine never imports Qt."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "ui", "skills", "models")
MAX_LINES = 600
#: Third-party private names we must call, each behind one wrapper (pinned versions):
#: sounddevice has no public way to re-scan devices after a hot-plug; os._exit is the only
#: exit that does not run atexit handlers in a forked child.
ALLOWED_PRIVATE = {"sd._terminate", "sd._initialize", "sounddevice._terminate", "sounddevice._initialize",
                   "os._exit", "sys._getframe", "sys._MEIPASS"}


def _modules(*roots: str) -> dict[str, Path]:
    found = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "__pycache__" in path.parts or "templates" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


PROJECT = _modules(*PACKAGES)


def _imports(module: str, path: Path) -> set[str]:
    """Project modules that ``module`` imports anywhere in its body (resolved to modules
    that exist: ``from assistant.audio import FileSource`` → ``assistant.audio``), with the
    packages above each (their ``__init__`` runs first: a circle through a package's
    re-exports is a circle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            while name and name not in PROJECT:
                name = name.rpartition(".")[0]
            # importing a.b.c runs the packages a and a.b first (their __init__ imports)
            while name:
                if name != module and not module.startswith(name + "."):
                    out.add(name)
                name = name.rpartition(".")[0]
    return out


def test_no_module_over_600_lines():
    big = {m: n for m, p in PROJECT.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_no_import_circle():
    graph = {m: _imports(m, p) for m, p in PROJECT.items()}
    # a package's __init__ re-exporting its own submodules is not a circle
    for m in graph:
        graph[m] = {d for d in graph[m] if not (m.startswith(d + ".") and PROJECT[d].name == "__init__.py")}
    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import circles:\n" + "\n".join(" → ".join(c) for c in cycles)


_PRIVATE_ATTR = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.\w+)*)\.(_[a-z]\w*)\b(?!__)")


@pytest.mark.parametrize("root", [*PACKAGES, "tests", "benchmarks", "scripts"])
def test_no_private_access_across_modules(root):
    """``x._name`` where ``x`` is not ``self``/``cls``/``super()`` reaches into another
    object's private state; ``from m import _name`` into another module's."""
    offenders = []
    for path in sorted((ROOT / root).rglob("*.py")):
        if "__pycache__" in path.parts or path.name == "test_structure.py":
            continue
        text = path.read_text(encoding="utf-8")
        own_classes = {c.name for c in ast.walk(ast.parse(text)) if isinstance(c, ast.ClassDef)}
        for n, code in _code_lines(text):
            for owner, name in _PRIVATE_ATTR.findall(code):
                if owner.split(".")[0] in ("self", "cls") or owner in own_classes \
                        or f"{owner}.{name}" in ALLOWED_PRIVATE:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {owner}.{name}")
            m = re.match(r"\s*from\s+([\w.]+)\s+import\s+(.+)", code)
            if m and m.group(1).split(".")[0] in PACKAGES:
                for name in re.split(r"[,()\s]+", m.group(2)):
                    if name.startswith("_") and not name.startswith("__") \
                            and f"{m.group(1)}.{name}" not in PROJECT:  # a private module is fine
                        offenders.append(f"{path.relative_to(ROOT)}:{n}: from {m.group(1)} import {name}")
    assert not offenders, "private names used across modules:\n" + "\n".join(offenders)


def _code_lines(text: str):
    """``(line number, code)`` with comments dropped and every string literal (docstrings
    included) replaced by ``""``, so names quoted in prose are not code."""
    import io
    import tokenize

    lines: dict[int, list[str]] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type == tokenize.STRING or tok.type in _FSTRING_TOKENS:
            lines.setdefault(tok.start[0], []).append('""')
            continue
        lines.setdefault(tok.start[0], []).append(tok.string)
    for n in sorted(lines):
        yield n, _join_tokens(lines[n])


_FSTRING_TOKENS = {getattr(__import__("tokenize"), name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                   if hasattr(__import__("tokenize"), name)}


def _join_tokens(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        glue = "" if tok == "." or out.endswith(".") else " "
        out += (glue if out else "") + tok
    return out


def test_engine_never_imports_qt():
    qt = [m for m in PROJECT if m.startswith("assistant")
          if any(d.startswith(("PySide6", "PyQt")) for d in _third_party_imports(PROJECT[m]))]
    assert not qt, f"engine modules importing Qt: {qt}"


def _third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module or "")
    return out


def test_checks_can_fail(tmp_path):
    """The circle finder and the private-access pattern do find what they look for."""
    assert _PRIVATE_ATTR.findall("app._listen_request = 1") == [("app", "_listen_request")]
    assert not _PRIVATE_ATTR.findall("x = other.__class__")
    assert _imports("assistant.pipeline", PROJECT["assistant.pipeline"]) >= {"assistant.machine", "assistant.events"}
