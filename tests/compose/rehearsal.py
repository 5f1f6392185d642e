"""A rehearsal of `docker compose up` on a machine without Docker.

    python -m tests.compose.rehearsal --work DIR [--compose-file F] [--shell KEY=VALUE ...] [--timeout S]

Compose v2 resolves docker-compose.yaml (`stack.load_config`, with .env.example as the
user's `.env` and `--shell` as the user's shell). Then, in a network namespace of its own
(`unshare --net --mount`: loopback only, every service name resolving to it through a
private /etc/hosts, so each service listens on its real port and is reached by its
compose host name), every service starts in dependency order, honouring each
`depends_on` condition, with the environment compose gives it plus the image's ENV:

- the Elastic images are stood in for by the ES and Kibana test doubles, on their ports;
- every application service runs its real command, in a mount and UTS namespace of its
  own (`launch.py`): its volumes bind-mounted at their container paths, its host name,
  the image's working directory (a copy of what the Dockerfile puts there): the Spark
  master and worker by their `spark-class` commands, `setup`, `pipeline` (on a small
  synthetic MovieLens edition in the folder mounted at /data), `dashboards`, and the API
  under gunicorn with the compose command;
- each healthcheck's command runs against its service before the service starts (it
  must fail), then until it passes; each pass is checked against the rehearsal's own
  readiness probe of that service, so a healthcheck that passes early fails the run.

Before anything starts, each application service's environment is checked: every
variable its code reads is passed (found in the source by `stack.env_reads`), no TLS
option accompanies an http Elasticsearch URL, and no variable of the user's shell meant
for another cluster leaks in. The run stops at the first failure and writes
DIR/report.json: {"ok", "failures", "events", "logs"}; the exit code is 0 only when
every service came up (healthy, or completed successfully) and the API served a
recommendation from the model the pipeline exported.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.es import client_options
from tests.compose import stack

log = logging.getLogger("rehearsal")

LAUNCH = Path(__file__).with_name("launch.py")
VENV_BIN = str(Path(sys.executable).parent)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOUBLES = {  # image (without tag) -> the test double standing in for it
    "docker.elastic.co/elasticsearch/elasticsearch": ["-m", "tests.es_double"],
    "docker.elastic.co/kibana/kibana": ["-m", "tests.kibana_double", "--not-ready-seconds", "20"],
}
# Variables the code reads that compose rightly does not pass, and why.
NOT_PASSED = {
    "PYSPARK_GATEWAY_PORT": "spark-submit sets it for the driver it starts; a user never does",
    "PORT": "the api command binds 0.0.0.0:5000 itself (gunicorn's --bind wins over gunicorn_conf's PORT)",
}
GUNICORN_CONF = "service/gunicorn_conf.py"
LEAK = "from-the-user-shell"  # marks shell values meant for another cluster
# A user who followed README section 3 for their own cluster, then runs the stack:
USER_SHELL = {
    "ES_URL": f"https://{LEAK}.example:9200",
    "ES_CA_CERTS": f"/home/user/{LEAK}/ca.crt",
    "ES_API_KEY": LEAK,
    "ES_VERIFY_CERTS": "true",
    "KIBANA_URL": f"https://{LEAK}.example:5601",
    "KIBANA_API_KEY": LEAK,
}


class RehearsalFailed(Exception):
    """A service did not come up as compose would need it to."""


def _parse_seconds(text: str | None, default: float) -> float:
    if not text:
        return default
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|h|m|s)", text):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total or default


def _get_json(url: str, timeout: float = 3.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:  # 503 and the like: their JSON body says why
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


# ------------------------------------------------------------------ readiness, as the rehearsal sees it


def _es_ready() -> tuple[bool, str]:
    status, body = _get_json("http://elasticsearch:9200/_cluster/health")
    return status == 200 and (body or {}).get("status") in ("green", "yellow"), f"HTTP {status} {body and body.get('status')}"


def _kibana_ready() -> tuple[bool, str]:
    status, body = _get_json("http://kibana:5601/api/status")
    level = ((body or {}).get("status") or {}).get("overall", {}).get("level")
    return status == 200 and level == "available", f"HTTP {status}, overall level {level}"


def _master_ready() -> tuple[bool, str]:
    status, body = _get_json("http://spark-master:8080/json/")
    return (body or {}).get("status") == "ALIVE", f"HTTP {status}, status {(body or {}).get('status')}"


def _worker_ready() -> tuple[bool, str]:
    _, body = _get_json("http://spark-master:8080/json/")
    alive = [w for w in (body or {}).get("workers", []) if w.get("state") == "ALIVE"]
    return bool(alive), f"{len(alive)} worker(s) ALIVE at the master"


def _api_ready() -> tuple[bool, str]:
    status, _ = _get_json("http://api:5000/health")
    if status != 200:
        return False, f"/health HTTP {status}"
    status, body = _get_json("http://api:5000/users/1/recommendations?k=3", timeout=10)
    items = (body or {}).get("items") or (body or {}).get("results") or []
    return status == 200 and bool(items), f"/users/1/recommendations HTTP {status}, {len(items)} items"


READY: dict[str, Callable[[], tuple[bool, str]]] = {
    "elasticsearch": _es_ready,
    "kibana": _kibana_ready,
    "spark-master": _master_ready,
    "spark-worker": _worker_ready,
    "api": _api_ready,
}


# ------------------------------------------------------------------ the environment compose gives


def required_variables(service: stack.Service, reads: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """{variable: files} the service's code reads and compose must pass (see NOT_PASSED)."""
    if not service.is_app or service.command[:1] == ["spark-class"]:
        return {}  # Spark daemons run no movierec code; executors get the client options from the driver
    serves = service.command[:1] == ["gunicorn"]
    needed: dict[str, set[str]] = {}
    for name, files in reads.items():
        files = {f for f in files if serves or f != GUNICORN_CONF}
        if files and name not in NOT_PASSED:
            needed[name] = files
    return needed


def environment_problems(
    svcs: Mapping[str, stack.Service], image: stack.ImageDefaults, reads: Mapping[str, set[str]]
) -> list[str]:
    problems = []
    for name, service in svcs.items():
        if not service.is_app:
            continue
        env = {**image.env, **service.environment}
        for variable, files in sorted(required_variables(service, reads).items()):
            if variable not in env:
                problems.append(f"{name}: its code reads {variable} ({', '.join(sorted(files))}), compose does not pass it")
        leaked = sorted(k for k, v in env.items() if LEAK in v)
        if leaked:
            problems.append(f"{name}: the user's shell leaks into {', '.join(leaked)}")
        if service.command[:1] != ["spark-class"]:
            opts = client_options(None, env)
            tls = sorted(k for k in ("ca_certs", "verify_certs", "ssl_show_warn") if k in opts)
            if opts["hosts"][0].startswith("http://") and tls:
                problems.append(f"{name}: TLS options {tls} for the http URL {opts['hosts'][0]} (the client refuses them)")
    return problems


def scripts_run_by(svcs: Mapping[str, stack.Service]) -> set[Path]:
    used = set()
    for service in svcs.values():
        for part in [*service.command, *(service.healthcheck or [])]:
            used.update(stack.ROOT / m for m in re.findall(r"scripts/\w+\.py", part))
    return used


def code_reads(svcs: Mapping[str, stack.Service]) -> dict[str, set[str]]:
    files = [*stack.ROOT.joinpath("pipeline").rglob("*.py"), *stack.ROOT.joinpath("service").rglob("*.py"), *scripts_run_by(svcs)]
    return stack.code_env_reads(sorted(files))


# ------------------------------------------------------------------ running services


@dataclass
class Running:
    service: stack.Service
    proc: subprocess.Popen
    log: Path
    started: float
    healthy: bool = False


@dataclass
class Rehearsal:
    config: dict[str, Any]
    work: Path
    timeout: float = 600.0
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.svcs = stack.services(self.config)
        self.image = stack.image_defaults()
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.app_dir = stack.copy_app_dir(self.work / "app", self.image)
        self.home = self.work / "home"
        self.home.mkdir(exist_ok=True)
        self.running: dict[str, Running] = {}
        self.t0 = time.monotonic()

    # -------------------------------------------------------------- pieces

    def event(self, service: str, what: str) -> None:
        entry = {"t": round(time.monotonic() - self.t0, 1), "service": service, "event": what}
        self.events.append(entry)
        log.info("%6.1fs %-13s %s", entry["t"], service, what)

    def env_of(self, service: stack.Service) -> dict[str, str]:
        base = {"PATH": f"{VENV_BIN}:{SYSTEM_PATH}", "HOME": str(self.home), "LANG": "C.UTF-8"}
        image_env = self.image.env if service.is_app else {}
        return {**base, **image_env, **service.environment}

    def mounts(self, service: stack.Service) -> list[str]:
        specs = []
        for volume in service.volumes:
            if volume["type"] == "volume":
                source = self.work / "volumes" / volume["source"]
                source.mkdir(parents=True, exist_ok=True)
            elif volume["type"] == "bind":
                source = Path(volume["source"])
                if not source.exists():
                    raise RehearsalFailed(f"{service.name}: bind mount source {source} does not exist")
            else:
                raise RehearsalFailed(f"{service.name}: volume type {volume['type']} not rehearsed")
            specs.append(f"{source}:{volume['target']}" + (":ro" if volume.get("read_only") else ""))
        return specs

    def argv(self, service: stack.Service, command: list[str]) -> list[str]:
        """`command` as the service's container would run it."""
        if not service.is_app:
            return command
        launch = [sys.executable, str(LAUNCH), "--hostname", service.hostname, "--cwd", str(self.app_dir)]
        for spec in self.mounts(service):
            launch += ["--mount", spec]
        return ["unshare", "--mount", "--uts", "--propagation", "private", "--", *launch, "--", *command]

    def service_command(self, service: stack.Service) -> list[str]:
        if service.is_app:
            return service.command
        image = service.image.rsplit(":", 1)[0]
        if image not in DOUBLES:
            raise RehearsalFailed(f"{service.name}: no stand-in for the image {service.image}")
        port = str(service.spec["ports"][0]["target"])
        return [sys.executable, *DOUBLES[image], "--port", port]

    def healthcheck(self, service: stack.Service) -> tuple[bool, str]:
        """Run the service's healthcheck command once: (passed, output tail)."""
        test = service.healthcheck or []
        if test[:1] == ["CMD"]:
            command = test[1:]
        elif test[:1] == ["CMD-SHELL"]:
            command = ["sh", "-c", test[1]]
        else:
            raise RehearsalFailed(f"{service.name}: healthcheck form {test[:1]} not rehearsed")
        limit = _parse_seconds(service.spec["healthcheck"].get("timeout"), 30.0)
        try:
            done = subprocess.run(
                self.argv(service, command), env=self.env_of(service), cwd=self.work,
                capture_output=True, text=True, timeout=limit, check=False, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {limit:g} s"
        return done.returncode == 0, (done.stdout + done.stderr).strip()[-300:]

    def start(self, service: stack.Service) -> None:
        if service.healthcheck is not None:
            passed, output = self.healthcheck(service)
            if passed:
                raise RehearsalFailed(f"{service.name}: healthcheck passes before the service is started ({output})")
            self.event(service.name, "healthcheck fails before start (as it must)")
        log_path = self.logs / f"{service.name}.log"
        cwd = stack.ROOT if not service.is_app else self.work  # the doubles are modules of this repository
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                self.argv(service, self.service_command(service)), env=self.env_of(service), cwd=cwd,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self.running[service.name] = Running(service, proc, log_path, time.monotonic())
        self.event(service.name, f"started: {' '.join(self.service_command(service))[:160]}")

    def tail(self, name: str, lines: int = 40) -> str:
        text = self.running[name].log.read_text("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def satisfied(self, name: str, condition: str) -> bool:
        run = self.running.get(name)
        if run is None:
            return False
        if condition == "service_started":
            return True
        if condition == "service_healthy":
            return run.healthy
        if condition == "service_completed_successfully":
            return run.proc.poll() == 0
        raise RehearsalFailed(f"depends_on condition {condition} not rehearsed")

    def poll(self, run: Running) -> None:
        name = run.service.name
        code = run.proc.poll()
        if code is not None and not (run.service.one_shot and code == 0):
            what = "exited" if run.service.one_shot else "stopped (a long-running service)"
            raise RehearsalFailed(f"{name} {what} with code {code}:\n{self.tail(name)}")
        if run.healthy or run.service.healthcheck is None:
            return
        passed, output = self.healthcheck(run.service)
        if not passed:
            return
        probe = READY.get(name)
        if probe is None:
            raise RehearsalFailed(f"{name}: no readiness probe to judge its healthcheck by (add one to READY)")
        ready, detail = probe()
        if not ready:
            raise RehearsalFailed(f"{name}: healthcheck passed while the service was not ready ({detail}; check said: {output})")
        run.healthy = True
        self.event(name, f"healthy after {time.monotonic() - run.started:.1f} s ({detail})")

    # -------------------------------------------------------------- the run

    def run(self) -> None:
        reads = code_reads(self.svcs)
        problems = environment_problems(self.svcs, self.image, reads)
        if problems:
            raise RehearsalFailed("environment:\n" + "\n".join(problems))
        self.event("-", f"environment checked: {len(self.svcs)} services, {len(reads)} variables read by the code")
        order = stack.start_order(self.svcs)
        deadline = time.monotonic() + self.timeout
        while True:
            for name in order:
                if name not in self.running and all(self.satisfied(d, c) for d, c in self.svcs[name].depends_on.items()):
                    self.start(self.svcs[name])
            for run in list(self.running.values()):
                self.poll(run)
            settled = [
                r.healthy if r.service.healthcheck is not None else r.proc.poll() == 0 for r in self.running.values()
            ]
            if len(self.running) == len(order) and all(settled):
                break
            if time.monotonic() > deadline:
                waiting = [n for n in order if n not in self.running]
                unsettled = [r.service.name for r, ok in zip(self.running.values(), settled, strict=True) if not ok]
                raise RehearsalFailed(f"not up after {self.timeout:g} s: not started {waiting}, not ready {unsettled}")
            time.sleep(0.5)
        self.event("-", "every service is up")

    def stop(self) -> None:
        for run in reversed(list(self.running.values())):
            if run.proc.poll() is None:
                try:
                    os.killpg(run.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for run in self.running.values():
            try:
                run.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait(timeout=10)


# ------------------------------------------------------------------ the namespace and the data


def enter_private_network(svcs: Mapping[str, stack.Service], work: Path) -> None:
    """Loopback up, and every service name and host name resolving to it (a private /etc/hosts)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    names = sorted({"localhost", socket.gethostname(), *svcs, *(s.hostname for s in svcs.values())})
    hosts = work / "hosts"
    hosts.write_text(f"127.0.0.1 {' '.join(names)}\n::1 localhost ip6-localhost ip6-loopback\n", encoding="utf-8")
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)


def synthetic_data(work: Path, edition: str, ratings: int) -> Path:
    """A folder holding a small synthetic `edition` as `movierec data fetch` leaves it (with its manifest)."""
    synth, data = work / "synth", work / "data"
    movierec = [str(Path(VENV_BIN) / "movierec")]
    subprocess.run([*movierec, "data", "synth", "--format", edition, "--ratings", str(ratings), "--seed", "3",
                    "--data-dir", str(synth)], check=True, capture_output=True)
    folder = next(p for p in synth.iterdir() if p.is_dir())
    subprocess.run([*movierec, "data", "fetch", edition, "--from", str(folder), "--no-checksum", "--no-summary",
                    "--data-dir", str(data)], check=True, capture_output=True)
    shutil.rmtree(synth)
    return data


def rehearse(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work
    report: dict[str, Any] = {"ok": False, "failures": [], "events": [], "logs": str(work / "logs")}
    shell = {**USER_SHELL, **dict(item.split("=", 1) for item in args.shell)}
    rehearsal = None
    try:
        if args.synthetic:
            shell.setdefault("MOVIEREC_DATASET", args.synthetic)
            shell.setdefault("MOVIEREC_DATA", str(synthetic_data(work, args.synthetic, args.ratings)))
        config = stack.load_config(args.compose_file, shell)
        rehearsal = Rehearsal(config, work, timeout=args.timeout)
        enter_private_network(rehearsal.svcs, work)
        rehearsal.run()
        report["ok"] = True
    except (RehearsalFailed, RuntimeError, ValueError, subprocess.CalledProcessError) as exc:
        report["failures"].append(str(exc))
        log.error("%s", exc)
    finally:
        if rehearsal is not None:
            report["events"] = rehearsal.events
            rehearsal.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compose.rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder: logs, volumes, report.json")
    parser.add_argument("--compose-file", type=Path, default=stack.COMPOSE_FILE)
    parser.add_argument("--shell", action="append", default=[], metavar="KEY=VALUE", help="a variable of the user's shell")
    parser.add_argument("--synthetic", default="ml-1m", help="edition to synthesise into MOVIEREC_DATA ('' for none)")
    parser.add_argument("--ratings", type=int, default=3000, help="synthetic ratings (default 3000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole stack to come up")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.inside:  # never touch this machine's network or /etc/hosts: re-run in namespaces of our own
        command = ["unshare", "--net", "--mount", "--propagation", "private", "--",
                   sys.executable, "-m", "tests.compose.rehearsal", "--inside", *(argv if argv is not None else sys.argv[1:])]
        return subprocess.run(command, check=False, cwd=stack.ROOT).returncode
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args.work.mkdir(parents=True, exist_ok=True)
    report = rehearse(args)
    (args.work / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"ok": report["ok"], "failures": report["failures"]}))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
