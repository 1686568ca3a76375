"""Service boundaries: a service imports only `shared` and itself; `shared` imports no service and not `infra`.

Two checks of the same rules: import-linter's contracts from pyproject.toml, and a plain `ast` walk whose
failures name the file, line and import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["incubation", "intake", "matching", "notify", "review"]

# import-linter's own command line, run in a child process: in-process it would add the working folder to
# sys.path and reconfigure logging (disabling every logger configured before it) for the rest of the run.
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_the_import_linter_contracts_are_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, report
    assert f"Contracts: {len(contracts)} kept, 0 broken." in report, report


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every name `path` imports, absolute, with its line: `from services.review import api` is
    `services.review.api`, and relative imports are resolved against the file's package."""
    package = list(path.relative_to(root).parent.parts)  # a module's package, or an __init__'s own
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            found += [(node.lineno, module if alias.name == "*" else f"{module}.{alias.name}") for alias in node.names]
    return found


def boundary_violations(root: Path) -> list[str]:
    """Each import that crosses a boundary, as `file:line imports module (rule)`."""
    problems = []
    for service_dir in sorted(path for path in (root / "services").iterdir() if (path / "__init__.py").is_file()):
        own = f"services.{service_dir.name}"
        for path in sorted(service_dir.rglob("*.py")):
            for line, module in imported_modules(path, root):
                parts = module.split(".")
                where = f"{path.relative_to(root)}:{line} imports {module}"
                if parts[0] == "infra":
                    problems.append(f"{where} (a service must not import the composition root)")
                elif parts[0] == "services" and len(parts) > 1 and ".".join(parts[:2]) != own:
                    problems.append(f"{where} (a service must not import another service; send an event)")
    for path in sorted((root / "shared").rglob("*.py")):
        for line, module in imported_modules(path, root):
            if module.split(".")[0] in {"services", "infra"}:
                problems.append(f"{path.relative_to(root)}:{line} imports {module} (shared must not depend on it)")
    return problems


def test_the_walk_sees_every_service():
    found = sorted(path.name for path in (ROOT / "services").iterdir() if (path / "__init__.py").is_file())
    assert found == SERVICES


def test_no_service_imports_another_service_or_infra_and_shared_imports_neither():
    problems = boundary_violations(ROOT)
    assert not problems, "imports across boundaries:\n" + "\n".join(problems)


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("services/alpha/handlers.py", "from services.beta import api\n", "services.beta"),
        ("services/alpha/handlers.py", "from services import beta\n", "services.beta"),
        ("services/alpha/handlers.py", "import services.beta.api as api\n", "services.beta"),
        ("services/alpha/handlers.py", "from ..beta import api\n", "services.beta"),
        ("services/alpha/handlers.py", "from infra.composition import build\n", "infra.composition"),
        ("services/alpha/handlers.py", "def f():\n    import infra\n", "infra"),
        ("shared/helpers.py", "from services.alpha import handlers\n", "services.alpha"),
        ("shared/sub/helpers.py", "if True:\n    import infra.cli\n", "infra.cli"),
    ],
)
def test_the_walk_catches_an_import_across_a_boundary(tmp_path, relative, source, expected):
    for package in ("services/alpha", "services/beta", "shared", "shared/sub"):
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, relative, source)
    problems = boundary_violations(tmp_path)
    assert problems, f"{relative} importing {expected} was not caught"
    assert all(problem.startswith(f"{relative}:") for problem in problems)
    assert any(f"imports {expected}" in problem for problem in problems)


def test_the_walk_allows_imports_of_shared_and_of_the_service_itself(tmp_path):
    for package in ("services/alpha", "shared"):
        write(tmp_path, f"{package}/__init__.py", "")
    write(
        tmp_path,
        "services/alpha/handlers.py",
        "from shared import lifecycle\nfrom services.alpha import schemas\nfrom . import api\nimport services\n",
    )
    write(tmp_path, "shared/helpers.py", "from shared.db import models\nfrom . import errors\n")
    assert boundary_violations(tmp_path) == []


def test_a_worker_imports_no_web_framework():
    """Handlers take a `shared.principal.Principal`, not the web layer's: a worker process never loads FastAPI."""
    probe = (
        "import sys, infra.composition, shared.worker.stage, services.notify.worker; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'shared.web') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
