"""The package layout docs/architecture.md describes: no import cycles, imports point one way, small modules.

Every import counts, the lazy ones inside functions too. Layers, from the bottom:
core (hearme.core) <- llm (hearme.llm) <- the rooms (hearme.lf, converters, evaluators, tibetan)
<- the shell (hearme.demo, webui_ext, hearme.cli and every room's `cli` / `*_cli` module).
A module imports only from its own layer or below, and nothing imports the deprecated shims.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOMS = {"hearme": "hearme", "converters": "hearme.converters", "evaluators": "hearme.evaluators",
         "tibetan": "hearme.tibetan", "webui_ext": "hearme.webui_ext"}
SHIMS = {"hearme.schema", "hearme.io", "hearme.lf_plugin"}  # deprecated re-exports, for old imports only
MAX_LINES = 400


def modules() -> dict[str, Path]:
    out = {}
    for folder, package in ROOMS.items():
        for f in (ROOT / folder).rglob("*.py"):
            rel = f.relative_to(ROOT / folder).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            name = ".".join((package, *parts))
            if folder == "hearme" and parts and parts[0] in ("converters", "evaluators", "tibetan", "webui_ext"):
                continue
            out[name] = f
    return out


MODS = modules()


def imports(name: str, path: Path) -> set[str]:
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # "from hearme.core import io" is hearme.core.io; "from hearme.llm import LLMClient" is hearme.llm
            subs = {f"{base}.{a.name}" for a in node.names} & MODS.keys()
            found |= subs if len(subs) == len(node.names) else subs | {base}
    return {t for t in found if t in MODS and t != name}


GRAPH = {m: imports(m, p) for m, p in MODS.items()}


def layer(name: str) -> int:
    if name in SHIMS:
        return 9
    if name == "hearme" or name.startswith("hearme.core"):
        return 0
    if name.startswith("hearme.llm"):
        return 1
    if name.startswith(("hearme.demo", "hearme.webui_ext")) or name == "hearme.cli" or name.endswith((".cli", "_cli")):
        return 3
    return 2


def cycles() -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_package():
    assert {"hearme.core.io.atomic", "hearme.llm.client", "hearme.lf.runner", "hearme.demo.pipeline",
            "hearme.converters.scrub", "hearme.evaluators.judge", "hearme.tibetan.filter"} <= set(MODS)
    assert "hearme.core.io.tally" in GRAPH["hearme.converters.base"] or "hearme.core.io" in GRAPH["hearme.converters.base"]


def test_no_import_cycles():
    assert cycles() == []


def test_a_cycle_would_be_found():
    GRAPH["hearme.core.schema"].add("hearme.core.io")  # io imports schema: a planted back edge
    try:
        assert ["hearme.core.io", "hearme.core.schema"] in [c[:2] for c in cycles()] or any(
            "hearme.core.schema" in c for c in cycles())
    finally:
        GRAPH["hearme.core.schema"].discard("hearme.core.io")


def test_imports_point_one_way():
    wrong = sorted(f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
                   for m, targets in GRAPH.items() for t in targets
                   if layer(t) > layer(m) and not (m in SHIMS))
    assert wrong == []


def test_nothing_imports_the_deprecated_shims():
    assert sorted(m for m, t in GRAPH.items() if t & SHIMS and m not in SHIMS) == []


def test_modules_are_small_or_say_why():
    big = []
    for name, path in MODS.items():
        n = sum(1 for _ in path.open(encoding="utf-8"))
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if n > MAX_LINES and "over 400 lines" not in doc:
            big.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert big == []


def test_old_import_paths_still_work_and_warn():
    import importlib
    import sys
    import warnings

    for old, new, attr in (("hearme.schema", "hearme.core.schema", "Record"), ("hearme.io", "hearme.core.io", "write_json")):
        sys.modules.pop(old, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod = importlib.import_module(old)
        assert getattr(mod, attr) is getattr(importlib.import_module(new), attr)
        assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)
    from hearme import lf_plugin  # what an older hearme_lf_plugin.pth imports
    from hearme.lf import plugin

    assert lf_plugin.install_hook is plugin.install_hook
    from hearme.llm import LLMClient, ParseError, extract_json, llm_options  # noqa: F401  (hearme.llm stays)


TEST_ROOMS = {"core": "hearme.core", "llm": "hearme.llm", "lf": "hearme.lf", "converters": "hearme.converters",
              "evaluators": "hearme.evaluators", "tibetan": "hearme.tibetan", "demo": "hearme.demo",
              "webui": "hearme.webui_ext"}
WHOLE_PACKAGE_TESTS = {"test_layout.py", "test_wheel.py"}  # about the package as a whole, so beside conftest.py


def test_tests_follow_the_layout():
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name not in ("fixtures", "__pycache__")}
    assert folders == set(TEST_ROOMS), "a test folder per room, named after it"
    assert all(TEST_ROOMS[f] in MODS for f in folders)
    assert all((tests / f / "__init__.py").is_file() for f in folders)
    assert {p.name for p in tests.glob("test_*.py")} == WHOLE_PACKAGE_TESTS
    assert list(tests.glob("*/*/test_*.py")) == [], "one level of room folders"
