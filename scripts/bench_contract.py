"""The API contract under schemathesis: every check, against gunicorn (service/gunicorn_conf.py) and a served model.

Needs a cluster with a served model, e.g. the ES test double started standalone and a run on it:

    python -m tests.es_double --port 9277 &
    movierec run --dataset ml-100k --data-dir ../shared/data --es-url http://127.0.0.1:9277 --prefix benchapi
    python scripts/bench_contract.py --es-url http://127.0.0.1:9277 --prefix benchapi --max-examples 100

Starts gunicorn, runs `schemathesis --config-file tests/schemathesis.toml run <api>/openapi.json --checks all`
(all phases: examples, coverage, fuzzing, stateful; positive and negative cases), and prints JSON: the
schemathesis command, cases generated, failures and errors from its JSON report, then one summary line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import urllib3
from bench_api import machine, start_gunicorn, stop

log = logging.getLogger("bench_contract")
ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "schemathesis.toml"


def run_schemathesis(base: str, max_examples: int, seed: int, workers: int, report: Path) -> list[str]:
    """The schemathesis CLI over the running API; returns the command (its exit code is in the report)."""
    exe = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    cmd = [exe, "--config-file", str(CONFIG), "run", f"{base}/openapi.json", "--checks", "all",
           "--max-examples", str(max_examples), "--seed", str(seed), "--workers", str(workers),
           "--report", "json", "--report-json-path", str(report)]
    log.info("%s", " ".join(cmd))
    subprocess.run(cmd, cwd=report.parent, check=False, stdout=sys.stderr)
    return cmd


def warm_up(base: str) -> None:
    """Fill the per-run caches (vocabulary, everyone's genre counts) before the clock of any case starts."""
    http = urllib3.PoolManager()
    for path in ("/vocabulary", "/movies/genres", "/recommendations/cold-start?age=31&gender=F"):
        log.info("warm-up %s: %s", path, http.request("GET", base + path, timeout=120).status)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    cases = report["test_cases"]
    return {
        "schemathesis_version": report["schemathesis_version"],
        "cases": cases["generated"],
        "cases_with_failures": cases["with_failures"],
        "unique_failures": cases["unique_failures"],
        "errored": cases["errored"],
        "failures": report["failures"],
        "errors": report["errors"],
        "operations": report["operations"],
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
        "running_time_s": round(report["running_time"], 1),
        "exit_code": report["exit_code"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--es-url", default="http://127.0.0.1:9277")
    parser.add_argument("--prefix", default="benchapi")
    parser.add_argument("--port", type=int, default=5078, help="gunicorn port (default 5078)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY, default 2)")
    parser.add_argument("--max-examples", type=int, default=100, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--st-workers", type=int, default=1,
                        help="schemathesis workers (default 1: on Python 3.11 hypothesis' lambda-source parsing in "
                             "several threads can trip CPython's 'AST constructor recursion depth mismatch')")
    parser.add_argument("--deadline", type=float, default=None,
                        help="MOVIEREC_REQUEST_DEADLINE_S for the run (default: the app's, 5 s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    result: dict[str, Any] = {"machine": machine(), "settings": vars(args)}
    if args.deadline is not None:
        os.environ["MOVIEREC_REQUEST_DEADLINE_S"] = str(args.deadline)  # read by the gunicorn child's app factory
    proc = start_gunicorn(args.es_url, args.prefix, args.port, {"WEB_CONCURRENCY": str(args.workers)})
    try:
        warm_up(f"http://127.0.0.1:{args.port}")
        with tempfile.TemporaryDirectory(prefix="bench-contract-") as tmp:
            report = Path(tmp) / "report.json"
            cmd = run_schemathesis(f"http://127.0.0.1:{args.port}", args.max_examples, args.seed, args.st_workers, report)
            result["command"] = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)).replace(str(ROOT) + "/", "")
            result.update(summary(json.loads(report.read_text(encoding="utf-8"))))
    finally:
        stop(proc)
    result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result, indent=2))
    print(f"schemathesis {result['schemathesis_version']}: {result['cases']} cases, {result['unique_failures']} failures, "
          f"{result['errored']} errored, {result['running_time_s']} s")
    return 0 if result["unique_failures"] == 0 and not result["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
