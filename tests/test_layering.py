"""The import rules that keep the core and the built-in plugins in layers, checked on the source.

1. ``harness/`` (the core) never imports ``plugins/`` (the built-in plugins): no ``import plugins``
   or ``from plugins... import``, at the top of a module or inside a function, and no string
   naming a plugins module (``importlib.import_module("plugins.x")``, ``sys.modules["plugins.x"]``)
   except the module names of ``DEFAULT_PLUGINS`` in ``harness/plugins.py``, which is how the
   built-ins are loaded as ordinary plugins.
2. ``plugins/`` uses only ``harness``'s public face: ``import harness`` (then ``harness.NAME``) or
   ``from harness import NAME``, with ``NAME`` in ``harness.__all__``; never a submodule.
3. ``harness/store.py`` does not import ``harness/runner.py``, directly or through other core
   modules (the types both need live in ``harness/experiments.py``).

Every file is parsed (nothing is imported), so a rule broken in a function that no test calls
is still found; a failure names each offending ``file:line``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE, BUILTINS = "harness", "plugins"
#: A string that names a module of the built-in plugins package (``"plugins.longmemory"``).
PLUGIN_MODULE = re.compile(r"^plugins(\.[A-Za-z_]\w*)+$")
IMPORT_FUNCTIONS = {"import_module", "__import__"}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts) if path.is_relative_to(ROOT) else [path.stem]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Absolute names of the modules an import statement imports (``from a import b`` gives
    ``a`` and ``a.b``: ``b`` may be a submodule); relative imports are resolved against ``module``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: max(0, len(package) - (node.level - 1))]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" if base else alias.name for alias in node.names if alias.name != "*")]


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _default_plugins_strings(tree: ast.Module) -> set[int]:
    """ids of the string constants of the module-level ``DEFAULT_PLUGINS = (...)``."""
    allowed: set[int] = set()
    for stmt in tree.body:
        targets = (
            stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "DEFAULT_PLUGINS" for t in targets) and stmt.value is not None:
            allowed |= {id(n) for n in ast.walk(stmt.value) if isinstance(n, ast.Constant)}
    return allowed


def core_violations(source: str, path: Path) -> list[str]:
    """Where a core module (``harness/**``) depends on the built-in plugins."""
    tree = ast.parse(source, filename=str(path))
    module, is_package = _module_name(path), path.name == "__init__.py"
    allowed = _default_plugins_strings(tree) if _rel(path) == "harness/plugins.py" else set()
    out = []
    for node in ast.walk(tree):
        for name in _imported_modules(node, module, is_package):
            if _in_package(name, BUILTINS):
                out.append(
                    f"{_rel(path)}:{node.lineno}: the core imports {name!r} (reach plugins through the registry)"
                )
                break
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            arg = node.args[0]
            if (
                fname in IMPORT_FUNCTIONS
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _in_package(arg.value, BUILTINS)
                and id(arg) not in allowed
            ):
                out.append(f"{_rel(path)}:{node.lineno}: the core imports {arg.value!r} by name")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and PLUGIN_MODULE.match(node.value)
            and id(node) not in allowed
        ):
            out.append(
                f"{_rel(path)}:{node.lineno}: the core names the plugin module {node.value!r} "
                "(only DEFAULT_PLUGINS in harness/plugins.py may)"
            )
    return sorted(set(out), key=_line_order)


def plugin_violations(source: str, path: Path, public: set[str]) -> list[str]:
    """Where a plugin (``plugins/**``) uses the core other than through ``harness.__all__``."""
    tree = ast.parse(source, filename=str(path))
    module, is_package = _module_name(path), path.name == "__init__.py"
    out = []
    aliases = set()  # local names bound to the harness package itself
    for node in ast.walk(tree):
        where = f"{_rel(path)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == CORE:
                    aliases.add(alias.asname or CORE)
                elif _in_package(alias.name, CORE):
                    out.append(
                        f"{where}: a plugin imports the core submodule {alias.name!r} (use harness's public face)"
                    )
        elif isinstance(node, ast.ImportFrom):
            base = _imported_modules(node, module, is_package)[0]
            if base == CORE:
                for alias in node.names:
                    if alias.name != "*" and alias.name not in public:
                        out.append(f"{where}: a plugin imports harness.{alias.name}, which is not in harness.__all__")
            elif _in_package(base, CORE):
                out.append(f"{where}: a plugin imports from the core submodule {base!r} (use harness's public face)")
        elif isinstance(node, ast.Call) and node.args:
            func, arg = node.func, node.args[0]
            fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if (
                fname in IMPORT_FUNCTIONS
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _in_package(arg.value, CORE)
                and arg.value != CORE
            ):
                out.append(f"{where}: a plugin imports the core submodule {arg.value!r} by name")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr not in public
        ):
            out.append(
                f"{_rel(path)}:{node.lineno}: a plugin uses {node.value.id}.{node.attr}, which is not in harness.__all__"
            )
    return sorted(set(out), key=_line_order)


def _line_order(message: str) -> tuple[str, int]:
    path, line, _ = message.split(":", 2)
    return path, int(line)


def public_names() -> set[str]:
    """``harness.__all__``, read from the source of ``harness/__init__.py``."""
    tree = ast.parse((ROOT / "harness" / "__init__.py").read_text(encoding="utf-8"))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            return set(ast.literal_eval(stmt.value))
    raise AssertionError("harness/__init__.py defines no __all__")


def core_import_graph() -> dict[str, set[str]]:
    """Core module -> the core modules it imports (anywhere in the file, functions included)."""
    modules = {_module_name(p): p for p in _sources(CORE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deps = set()
        for node in ast.walk(tree):
            for imported in _imported_modules(node, name, path.name == "__init__.py"):
                if imported in modules and imported != name:
                    deps.add(imported)
        graph[name] = deps
    return graph


def import_chain(graph: dict[str, set[str]], start: str, target: str) -> list[str] | None:
    """The shortest chain of imports from ``start`` to ``target``, or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == target:
            chain = [node]
            while previous[chain[-1]] is not None:
                chain.append(previous[chain[-1]])  # type: ignore[arg-type]
            return chain[::-1]
        for dep in sorted(graph.get(node, ())):
            if dep not in previous:
                previous[dep] = node
                queue.append(dep)
    return None


# --------------------------------------------------------------------------- the rules


def test_the_core_never_imports_the_builtin_plugins():
    files = _sources(CORE)
    assert len(files) > 20, files  # the walk found the package
    found = [v for path in files for v in core_violations(path.read_text(encoding="utf-8"), path)]
    assert not found, "harness/ must not depend on plugins/:\n" + "\n".join(found)


def test_default_plugins_are_the_only_plugin_module_names_in_the_core():
    """The one exception is exactly DEFAULT_PLUGINS, and it names built-in plugin files."""
    path = ROOT / "harness" / "plugins.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [
        n.value
        for stmt in tree.body
        if isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", "") == "DEFAULT_PLUGINS"
        for n in ast.walk(stmt.value)
        if isinstance(n, ast.Constant)
    ]
    assert names and all(PLUGIN_MODULE.match(n) for n in names), names
    assert {n.split(".", 1)[1] for n in names} <= {p.stem for p in _sources(BUILTINS)}


def test_plugins_use_only_the_public_face_of_harness():
    public = public_names()
    files = _sources(BUILTINS)
    assert len(files) > 5, files
    found = [v for path in files for v in plugin_violations(path.read_text(encoding="utf-8"), path, public)]
    assert not found, "plugins/ may use only `import harness` and names in harness.__all__:\n" + "\n".join(found)


def test_public_face_exports_what_it_lists():
    import harness

    assert set(harness.__all__) == public_names()
    missing = [name for name in harness.__all__ if not hasattr(harness, name)]
    assert not missing, missing


def test_the_store_does_not_import_the_runner():
    chain = import_chain(core_import_graph(), "harness.store", "harness.runner")
    assert chain is None, "harness/store.py imports harness/runner.py: " + " -> ".join(chain or [])


# --------------------------------------------------------------------------- the checker itself


CORE_FILE = ROOT / "harness" / "studies" / "example.py"
PLUGIN_FILE = ROOT / "plugins" / "example.py"


@pytest.mark.parametrize(
    "source",
    [
        "from plugins.longmemory import LAGS\n",
        "import plugins.numpy_rnn\n",
        "from plugins import longmemory as lm\n",
        "def f():\n    from plugins.torch_rnn import TorchRNN\n    return TorchRNN\n",
        "import importlib\nm = importlib.import_module('plugins.synthetic')\n",
        "__import__('plugins')\n",
        "import sys\nm = sys.modules['plugins.longmemory']\n",
        "DEFAULT_PLUGINS = ('plugins.baselines',)\n",  # allowed only in harness/plugins.py
    ],
)
def test_checker_finds_core_violations(source):
    found = core_violations(source, CORE_FILE)
    assert found and all(v.startswith("harness/studies/example.py:") for v in found), found


@pytest.mark.parametrize(
    "source",
    [
        "from harness import plugins\nfrom harness.plugins import load_registry\n",
        "from . import memory\nfrom ..plugins import Registry\n",
        "x = 'plugins'  # a word, not a module\n",
        '"""Docs may mention ``plugins.longmemory``."""\n',
    ],
)
def test_checker_allows_the_core_its_own_modules(source):
    assert core_violations(source, CORE_FILE) == []


def test_checker_allows_default_plugins_only_in_harness_plugins():
    source = "import importlib\nDEFAULT_PLUGINS: tuple[str, ...] = ('plugins.a', 'plugins.b')\n"
    assert core_violations(source, ROOT / "harness" / "plugins.py") == []
    assert len(core_violations(source, CORE_FILE)) == 2


@pytest.mark.parametrize(
    "source, line",
    [
        ("from harness.seasonality import deseasonalize_if_seasonal\n", 1),
        ("import harness\nimport harness.windows\n", 2),
        ("from harness import Dataset, seasonality\n", 1),
        ("import harness\n\ndef f(y):\n    return harness.seasonality.is_seasonal(y, 12)\n", 4),
        ("import harness as h\nclass M(h.runner.Experiment):\n    pass\n", 2),
        ("import importlib\nm = importlib.import_module('harness.store')\n", 2),
        ("def f():\n    from harness.studies import memory\n", 2),
    ],
)
def test_checker_finds_plugin_violations(source, line):
    found = plugin_violations(source, PLUGIN_FILE, public_names())
    assert found and found[0].startswith(f"plugins/example.py:{line}:"), found


def test_checker_allows_the_public_face():
    source = (
        "import harness\nfrom harness import Dataset, deseasonalize_if_seasonal, windows\nfrom . import numpy_rnn\n"
        "class M(harness.WindowForecaster):\n    x = harness.windows.Preprocessing\n"
    )
    assert plugin_violations(source, PLUGIN_FILE, public_names()) == []


def test_import_chain_names_the_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert import_chain(graph, "a", "c") == ["a", "b", "c"]
    assert import_chain(graph, "c", "a") is None


# --------------------------------------------------------------------------- the map's layers

ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: Re-export hubs, not layers: the public face and the `python -m harness` entry.
HUBS = {"harness", "harness.__main__"}


def documented_layers() -> list[set[str]]:
    """The numbered list under "Import rules" in docs/architecture.md: layer i's core modules,
    as dotted names (``studies`` stands for the package and everything in it)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Import rules", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        if re.match(r"^\s+\d+\. ", line):
            names = {n for chunk in re.findall(r"`([^`]+)`", line) for n in chunk.split("/")}
            layers.append({f"harness.{n}" for n in names})
    return layers


def _layer_of(module: str, layers: list[set[str]]) -> int | None:
    for i, names in enumerate(layers):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


def test_core_imports_point_down_the_documented_layers():
    """docs/architecture.md lists the core's layers; a module may import its own layer and the
    ones above it in that list, never one below. A module missing from the map, or a name in the
    map that is no module, fails too: the map stays true."""
    layers = documented_layers()
    assert len(layers) >= 5, "docs/architecture.md lost its numbered list of layers"
    graph = core_import_graph()
    problems = []
    for name in sorted(set().union(*layers)):
        if name not in graph and not any(m.startswith(name + ".") for m in graph):
            problems.append(f"docs/architecture.md names {name}, which is not a module")
    for module, deps in sorted(graph.items()):
        if module in HUBS:
            continue
        mine = _layer_of(module, layers)
        if mine is None:
            problems.append(f"{module} is in no layer of docs/architecture.md")
            continue
        for dep in sorted(deps - HUBS):
            theirs = _layer_of(dep, layers)
            if theirs is not None and theirs > mine:
                problems.append(f"{module} (layer {mine + 1}) imports {dep} (layer {theirs + 1})")
    assert not problems, "\n".join(problems)
