"""Concurrent writes through a real gunicorn run as docker-compose.yaml runs the API, against the ES double.

The API's command and its worker settings (WEB_CONCURRENCY, GUNICORN_*) are read from the compose
file, so these tests exercise what the stack serves: several processes, several threads each, all
writing to one user at once. Each scenario is repeated: a lost update shows up in some
interleavings only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from es_mappings import ACCOUNT_ID_MIN, INTEGER_MAX
from service.model import ActiveModel

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
PARALLEL = 20
TRIALS = 4
_DEFAULT = re.compile(r"^\$\{\w+:-([^}]*)\}$")


def compose_api() -> tuple[list[str], dict[str, str]]:
    """The api service's command and its worker settings (`${X:-default}` -> default)."""
    api = yaml.safe_load((ROOT / "docker-compose.yaml").read_text("utf-8"))["services"]["api"]
    env = {}
    for key, value in (api.get("environment") or {}).items():
        if key.startswith(("WEB_", "GUNICORN_")):
            match = _DEFAULT.match(str(value))
            env[key] = match.group(1) if match else str(value)
    return list(api["command"]), env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def api(es_url, served, tmp_path) -> Iterator[str]:
    """gunicorn with the compose command and worker settings, bound to a free local port."""
    command, workers = compose_api()
    assert command[0] == "gunicorn" and "--bind" in command
    command = list(command)
    port = _free_port()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = {**os.environ, **workers, "ES_URL": es_url, "MOVIEREC_INDEX_PREFIX": served.prefix, "GUNICORN_ACCESS_LOG": ""}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", *command], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if call(base, "GET", "/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /health within 60 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def all_at_once(calls: list[tuple[str, str, Any]], base: str) -> list[tuple[int, dict[str, Any]]]:
    """Run every call from its own thread, released together."""
    gate = threading.Barrier(len(calls))

    def one(spec: tuple[str, str, Any]) -> tuple[int, dict[str, Any]]:
        gate.wait()
        return call(base, *spec)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def expected_vector(served, ratings: dict[int, float]) -> np.ndarray:
    t = served.trained
    model = ActiveModel.from_run({"run_id": served.run_id, "model": t.meta, "params": t.params})
    ids = sorted(m for m in ratings if t.movies[m].get("factors"))
    x = np.asarray([np.float32(t.movies[m]["factors"]) for m in ids], dtype=np.float64)
    return model.fold_in(x, np.asarray([ratings[m] for m in ids])).vector


def assert_user_holds(api: str, es, served, user_id: int, ratings: dict[int, float]) -> None:
    """Every rating is stored, rated, excluded, and the vector is the fold-in of all of them."""
    status, user = call(api, "GET", f"/users/{user_id}")
    assert status == 200
    assert user["rated_movie_ids"] == sorted(ratings) and user["rating_count"] == len(ratings)
    status, recs = call(api, "GET", f"/users/{user_id}/recommendations?k=100")
    assert status == 200 and not {item["movie"]["movie_id"] for item in recs["items"]} & set(ratings)
    stored = es.get(index=f"{served.prefix}-users", id=str(user_id), source_exclude_vectors=False)["_source"]
    assert stored["factors"] == pytest.approx(expected_vector(served, ratings), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_parallel_rating_posts_to_a_new_account_lose_nothing(api, served, es, trial):
    t = served.trained
    movies = sorted(m for m, r in t.movies.items() if r.get("factors"))
    first, rest = movies[trial], [m for m in movies if m != movies[trial]][trial : trial + PARALLEL]
    assert len(rest) == PARALLEL
    status, user = call(api, "POST", "/users", {"ratings": [{"movie_id": first, "rating": 5}]})
    assert status == 201
    user_id = user["user_id"]
    values = {m: float(1 + (m + trial) % 5) for m in rest}
    answers = all_at_once(
        [("POST", f"/users/{user_id}/ratings", {"ratings": [{"movie_id": m, "rating": r}]}) for m, r in values.items()], api
    )
    assert [s for s, _ in answers] == [200] * PARALLEL, answers
    assert_user_holds(api, es, served, user_id, {first: 5.0, **values})
    account = es.get(index=f"{served.prefix}-feedback", id=str(user_id))["_source"]
    assert sorted(r["movie_id"] for r in account["ratings"]) == sorted({first, *rest})


@pytest.mark.parametrize("trial", range(TRIALS))
def test_parallel_rating_posts_to_a_movielens_user_lose_nothing(api, served, es, trial):
    t = served.trained
    user_id = sorted(t.users)[trial]
    unrated = [m for m in sorted(t.movies) if t.movies[m].get("factors") and m not in t.ratings[user_id]]
    new = {m: float(1 + m % 5) for m in unrated[:PARALLEL]}
    answers = all_at_once(
        [("POST", f"/users/{user_id}/ratings", {"ratings": [{"movie_id": m, "rating": r}]}) for m, r in new.items()], api
    )
    assert [s for s, _ in answers] == [200] * len(new), answers
    assert_user_holds(api, es, served, user_id, {**t.ratings[user_id], **new})


@pytest.mark.parametrize("trial", range(TRIALS))
def test_parallel_account_creations_all_succeed_with_distinct_ids(api, served, es, trial):
    movie = min(m for m, r in served.trained.movies.items() if r.get("factors"))
    answers = all_at_once([("POST", "/users", {"ratings": [{"movie_id": movie, "rating": 4}]})] * PARALLEL, api)
    assert [s for s, _ in answers] == [201] * PARALLEL, answers
    ids = [body["user_id"] for _, body in answers]
    assert len(set(ids)) == PARALLEL and all(ACCOUNT_ID_MIN <= i <= INTEGER_MAX for i in ids)
    assert sorted(ids) == list(range(ACCOUNT_ID_MIN, ACCOUNT_ID_MIN + PARALLEL))
    for user_id in ids:
        assert call(api, "GET", f"/users/{user_id}")[1]["rated_movie_ids"] == [movie]


def test_an_out_of_range_id_is_422_and_the_next_creation_works(api, served):
    movie = min(m for m, r in served.trained.movies.items() if r.get("factors"))
    status, body = call(api, "POST", "/users", {"user_id": INTEGER_MAX + 1, "ratings": [{"movie_id": movie, "rating": 4}]})
    assert status == 422 and "user_id" in body["errors"]["json"]
    answers = all_at_once([("POST", "/users", {"ratings": [{"movie_id": movie, "rating": 4}]})] * 5, api)
    assert sorted(b["user_id"] for _, b in answers) == list(range(ACCOUNT_ID_MIN, ACCOUNT_ID_MIN + 5))
