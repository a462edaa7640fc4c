"""domain/ does no I/O: it imports only pure modules and never reads a clock or a random source.

Everything impure (databases, the network, files, the time, randomness) is passed in by the
callers, so the domain can be unit-tested and replayed deterministically.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"

#: Standard-library modules that do no I/O and read no clock or randomness.
PURE_STDLIB = {
    "__future__",
    "abc",
    "bisect",
    "collections",
    "contextlib",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "math",
    "numbers",
    "operator",
    "re",
    "string",
    "types",
    "typing",
    "uuid",
    # Time-zone rules: read-only reference data, the same answer every time (subscriptions).
    "zoneinfo",
}
THIRD_PARTY = {"msgspec", "fractional_indexing", "typing_extensions", "cronsim"}
ALLOWED = PURE_STDLIB | THIRD_PARTY | {"domain"}

#: Calls that read a clock or a random source (``uuid4()`` included: ids come from callers).
IMPURE_CALLS = {
    "now",
    "utcnow",
    "today",
    "time",
    "time_ns",
    "monotonic",
    "perf_counter",
    "uuid1",
    "uuid4",
    "urandom",
    "random",
    "randint",
    "open",
    "input",
    "print",
    "getenv",
    "__import__",
    "import_module",
}


def _modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def _imported(tree: ast.AST, path: Path) -> list[tuple[int, str]]:
    names: list[tuple[int, str]] = []
    package = path.relative_to(DOMAIN.parent).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package[: len(package) - node.level]
                names.append((node.lineno, ".".join((*base, *filter(None, [node.module])))))
            else:
                names.append((node.lineno, node.module or ""))
    return names


def test_the_domain_has_modules() -> None:
    assert len(_modules()) > 10


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(DOMAIN.parent)))
def test_domain_module_imports_only_pure_modules(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = [
        f"{path.name}:{line} imports {name}"
        for line, name in _imported(tree, path)
        if name.split(".")[0] not in ALLOWED
    ]
    assert not bad, "domain/ must not do I/O or depend on other Loupe packages:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(DOMAIN.parent)))
def test_domain_module_reads_no_clock_and_no_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in IMPURE_CALLS:
                bad.append(f"{path.name}:{node.lineno} calls {name}()")
    assert not bad, "domain/ takes time, ids and randomness from its callers:\n" + "\n".join(bad)


def test_the_allowed_standard_library_modules_are_standard() -> None:
    assert sys.stdlib_module_names >= PURE_STDLIB


def test_the_checker_catches_io() -> None:
    fake = DOMAIN / "report" / "leaky.py"  # never written: parsed from a string
    tree = ast.parse("import asyncpg\nfrom api.settings import Settings\nfrom . import events\n")
    names = [name for _, name in _imported(tree, fake)]
    assert names == ["asyncpg", "api.settings", "domain.report"]
    assert [n for n in names if n.split(".")[0] not in ALLOWED] == ["asyncpg", "api.settings"]
