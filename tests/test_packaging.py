"""The package as pip installs it: every module ships, and an installed copy runs."""

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared_packages() -> tuple[list[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config["packages"], config.get("package-dir", {})


def _source_packages() -> set[str]:
    """Every directory holding an __init__.py, named as the installed package."""
    found = set()
    for top, name in (("bpfjit", "bpfjit"), ("backends", "bpfjit.backends")):
        for directory, subdirs, files in os.walk(ROOT / top):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            if "__init__.py" in files:
                relative = Path(directory).relative_to(ROOT / top).parts
                found.add(".".join((name,) + relative))
    return found


def test_every_subpackage_is_installed():
    # setuptools installs only the packages listed: a missing subpackage (the verifier,
    # the maps) made `pip install .` give a bpfjit that cannot be imported
    packages, _ = _declared_packages()
    assert _source_packages() - set(packages) == set()


def test_declared_packages_exist_where_package_dir_says():
    packages, package_dir = _declared_packages()
    for package in packages:
        top = package.split(".")
        for prefix in range(len(top), 0, -1):
            mapped = package_dir.get(".".join(top[:prefix]))
            if mapped is not None:
                path = ROOT / mapped / Path(*top[prefix:])
                break
        else:
            path = ROOT / Path(*top)
        assert (path / "__init__.py").is_file(), package


def test_every_data_file_is_installed():
    # the explorer's page.css and page.js are read with importlib.resources: a wheel
    # without them would write pages that fail on first use
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = config.get("package-data", {})
    packages, _ = _declared_packages()
    for package in packages:
        parts = package.split(".")
        base = ROOT / ("backends" if parts[:2] == ["bpfjit", "backends"] else "bpfjit")
        directory = base.joinpath(*parts[2 if parts[:2] == ["bpfjit", "backends"] else 1:])
        data = {f.name for f in directory.iterdir()
                if f.is_file() and f.suffix not in (".py", ".pyc")}
        assert data <= set(declared.get(package, [])), package
