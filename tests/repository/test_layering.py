"""The core stands alone: nothing under exporter/ imports the built-in providers (they are plugins of it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _is_providers(module: str) -> bool:
    return module == "providers" or module.startswith("providers.")


def providers_imports(source: str) -> list[str]:
    """Every `import providers…` / `from providers… import …` in `source`, top level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_providers(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_providers(node.module):
            found.append(node.module)
    return found


def test_the_scan_finds_an_import_of_providers() -> None:
    """The scan below sees both import forms, also inside a function (so an empty result means something)."""
    source = "import os\ndef f():\n    from providers.orders import X\n    import providers._sql as s\n"
    assert providers_imports(source) == ["providers.orders", "providers._sql"]


def test_no_exporter_module_imports_providers() -> None:
    """No file under exporter/ names the providers package in an import statement."""
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "exporter").rglob("*.py"))
        if (found := providers_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_importing_every_exporter_module_loads_no_provider_module() -> None:
    """Importing every module of the exporter package in a fresh interpreter leaves `providers` unloaded."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import exporter\n"
        "found = pkgutil.walk_packages(exporter.__path__, 'exporter.')\n"
        "names = [m.name for m in found if m.name != 'exporter.__main__']  # __main__ would run the CLI\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
        "print(sorted(n for n in sys.modules if n == 'providers' or n.startswith('providers.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    imported, loaded = result.stdout.splitlines()
    assert int(imported) >= 20  # the walk found the package's modules
    assert loaded == "[]"
