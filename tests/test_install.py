"""Reproducible installs: the README and CI install the exact versions of constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL = 'pip install -c constraints.txt -e ".[test]"'


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[\w.+!-]+", version), f"not an exact pin: {line}"
        pins[_name(name)] = version
    return pins


def test_constraints_pin_every_dependency_and_the_test_extra_but_not_the_project() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    pins = _pins()
    assert "kompasbot" not in pins
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    missing = [r for r in wanted if _name(r) not in pins and "platform_machine" not in r]
    assert missing == []


def test_every_dependency_has_an_upper_bound() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        spec = requirement.split(";")[0]
        assert "<" in spec or "==" in spec, f"no upper bound: {requirement}"


def test_readme_and_ci_install_with_the_constraints_in_two_commands() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    setup = readme.split("## Installeren en testen", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in setup.splitlines() if line.strip()]
    assert commands == [f"python3 -m venv .venv && . .venv/bin/activate && {INSTALL}", "python -m pytest"]
    assert INSTALL in (REPO / ".ci" / "run").read_text("utf-8")
    assert "pip freeze --exclude-editable" in readme  # how to refresh it
