"""environment.yml (conda) and the pip requirements pin the same packages and versions."""

from __future__ import annotations

import re

import yaml

from conftest import REPO


def pip_pins() -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                package, version = line.split("==")
                pins[package.lower()] = version
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for dependency in env["dependencies"]:
        if isinstance(dependency, dict):
            for line in dependency["pip"]:
                if "==" in line:
                    package, version = line.split("==")
                    pins[package.lower()] = version
        elif "=" in dependency and not dependency.startswith("python="):
            package, version = dependency.split("=")
            pins[package.lower()] = version
    return pins


def test_conda_and_pip_pin_the_same_packages_and_versions():
    assert conda_pins() == pip_pins()


def test_every_pip_pin_is_exact_and_in_the_constraints():
    constraints = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line:
            package, version = line.split("==")
            constraints[re.sub(r"[-_.]+", "-", package.lower())] = version
    for package, version in pip_pins().items():
        assert re.fullmatch(r"[0-9][0-9a-z.]*", version), package
        assert constraints[re.sub(r"[-_.]+", "-", package)] == version, package
