"""Each layer of a service keeps to its job: checked on the source, so a shortcut shows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "customs", "allocation", "reporting")
# What each layer must not import: the domain is pure, the application knows no web framework.
FORBIDDEN_IMPORTS = {
    "domain.py": ("fastapi", "starlette", "asyncpg", "aiokafka", "shared.http", "shared.db"),
    "application.py": ("fastapi", "starlette", "shared.http.commands", "shared.http.security"),
    "queries.py": ("fastapi", "starlette"),
}
SQL_READ = re.compile(r"\bSELECT\b")


def layer_files(service: str, layer: str) -> list[Path]:
    """A layer's module, or every module of the package it grew into (``domain/``...)."""
    module = ROOT / "services" / service / layer
    if module.exists():
        return [module]
    package = sorted((module.parent / module.stem).glob("*.py"))
    assert package, f"services/{service} has no {layer} nor {module.stem}/"
    return package


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("layer", sorted(FORBIDDEN_IMPORTS))
def test_a_layer_does_not_import_what_belongs_to_another(service: str, layer: str) -> None:
    imported = {m for path in layer_files(service, layer) for m in imported_modules(path)}
    leaks = {
        m for m in imported for f in FORBIDDEN_IMPORTS[layer] if m == f or m.startswith(f + ".")
    }
    assert not leaks, f"services/{service}/{layer} imports {sorted(leaks)}"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("adapter", ["api.py", "pages.py"])
def test_the_adapters_read_through_queries_only(service: str, adapter: str) -> None:
    source = "".join(path.read_text() for path in layer_files(service, adapter))
    assert not SQL_READ.search(source), f"services/{service}/{adapter} holds SQL"


@pytest.mark.parametrize("module", ["rounds_api.py", "policies", "domain"])
def test_the_allocation_rounds_read_through_queries_only(module: str) -> None:
    path = ROOT / "services" / "allocation" / module
    for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
        assert not SQL_READ.search(file.read_text()), f"{file} holds SQL"
    if module == "policies":  # pure, like the domain
        leaks = {
            m
            for file in path.glob("*.py")
            for m in imported_modules(file)
            for f in FORBIDDEN_IMPORTS["domain.py"]
            if m == f or m.startswith(f + ".")
        }
        assert not leaks


def test_domain_errors_carry_no_http_status() -> None:
    source = (ROOT / "shared" / "decider.py").read_text()
    assert not re.search(r"^\s+(status|title)\s*=", source, re.MULTILINE)


@pytest.mark.parametrize("package", ["intake/rules", "allocation/policies"])
def test_the_rules_packages_are_as_pure_as_a_domain(package: str) -> None:
    files = sorted((ROOT / "services" / package).glob("*.py"))
    assert files
    imported = {m for path in files for m in imported_modules(path)}
    forbidden = FORBIDDEN_IMPORTS["domain.py"]
    leaks = {m for m in imported for f in forbidden if m == f or m.startswith(f + ".")}
    assert not leaks, f"services/{package} imports {sorted(leaks)}"
