"""scripts/kibana_objects.py end to end, against the Kibana double (or a real Kibana: --kibana-url).

Tests taking `kibana_url` also run against a real Kibana and create nothing there
except the project's own objects; tests taking `kibana_double` inspect the double.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import pytest

from pipeline.kibana import read_objects, to_ndjson

pytestmark = pytest.mark.kibana

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kibana_objects.py"
FOLDER = ROOT / "kibana_saved_objects"
FOLDER_KEYS = sorted((o["type"], o["id"]) for o in read_objects(FOLDER))
FAST = ["--interval", "0.05"]


def run_script(*args: str, env: dict[str, str] | None = None, isolated: bool = False) -> subprocess.CompletedProcess:
    """Run the script; `isolated` drops KIBANA_* from the environment (tests of the double)."""
    base = {k: v for k, v in os.environ.items() if not (isolated and k.startswith("KIBANA_"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, env={**base, **(env or {})},
        timeout=120, cwd=ROOT,
    )


def keys(items: list[dict]) -> list[tuple[str, str]]:
    return sorted((i["type"], i["id"]) for i in items)


def test_import_waits_through_the_not_ready_phase_then_creates_everything(kibana_double):
    kibana_double.not_ready_requests = 3
    done = run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["success"] is True and summary["successCount"] == len(FOLDER_KEYS)
    assert keys(summary["created"]) == FOLDER_KEYS and summary["updated"] == [] and summary["errors"] == []
    assert kibana_double.status_calls == 4  # three 503s, then 200
    assert sorted(kibana_double.objects) == FOLDER_KEYS
    for obj in read_objects(FOLDER):
        assert kibana_double.get(obj["type"], obj["id"])["attributes"] == obj["attributes"]
    assert "created dashboard movierec-overview (movierec — MovieLens overview)" in done.stderr


def test_import_sends_one_multipart_upload_with_kbn_xsrf_and_overwrite(kibana_double):
    done = run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True)
    assert done.returncode == 0, done.stderr
    posts = [r for r in kibana_double.requests if r.method == "POST"]
    assert len(posts) == 1
    req = posts[0]
    assert (req.path, req.query) == ("/api/saved_objects/_import", {"overwrite": ["true"]})
    assert req.headers["kbn-xsrf"] == "true"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + req.headers["content-type"].encode() + b"\r\n\r\n" + req.body
    )
    parts = list(message.iter_parts())
    assert len(parts) == 1
    assert parts[0].get_param("name", header="content-disposition") == "file"
    assert parts[0].get_filename().endswith(".ndjson")
    assert parts[0].get_payload(decode=True) == to_ndjson(read_objects(FOLDER))
    assert "authorization" not in req.headers


def test_import_twice_in_a_row_succeeds_and_the_second_run_updates(kibana_url):
    first = run_script("import", "--kibana-url", kibana_url, *FAST)
    assert first.returncode == 0, first.stderr
    second = run_script("import", "--kibana-url", kibana_url, *FAST)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["created"] == [] and keys(summary["updated"]) == FOLDER_KEYS


def _folder_with(tmp_path: Path, *objects: dict) -> Path:
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "bad.ndjson").write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return folder


def test_import_fails_with_exit_code_1_and_reports_missing_references(kibana_url, tmp_path):
    lens_id, missing = f"movierec-test-{uuid.uuid4().hex[:8]}", f"movierec-missing-{uuid.uuid4().hex[:8]}"
    lens = {"type": "lens", "id": lens_id, "attributes": {"title": "orphan", "visualizationType": "lnsMetric", "state": {}},
            "references": [{"type": "index-pattern", "id": missing, "name": "indexpattern-datasource-layer-l1"}]}
    done = run_script("import", "--kibana-url", kibana_url, "--dir", str(_folder_with(tmp_path, lens)), *FAST)
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["success"] is False and summary["created"] == [] and summary["updated"] == []
    assert [(e["type"], e["id"], e["error"]["type"]) for e in summary["errors"]] == [("lens", lens_id, "missing_references")]
    assert summary["errors"][0]["error"]["references"] == [{"type": "index-pattern", "id": missing}]
    assert f"lens '{lens_id}' (orphan): missing_references [index-pattern '{missing}']" in done.stderr


def test_import_fails_on_unsupported_types(kibana_url, tmp_path):
    odd = {"type": "movierec-no-such-type", "id": "x1", "attributes": {"title": "odd"}, "references": []}
    done = run_script("import", "--kibana-url", kibana_url, "--dir", str(_folder_with(tmp_path, odd)), *FAST)
    assert done.returncode == 1
    assert [e["error"]["type"] for e in json.loads(done.stdout)["errors"]] == ["unsupported_type"]


def test_import_of_a_broken_folder_fails_before_calling_kibana(kibana_double, tmp_path):
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "lens.ndjson").write_text('{"type":"lens","id":"a"}\n{"type":"lens",\n', encoding="utf-8")
    done = run_script("import", "--kibana-url", kibana_double.url, "--dir", str(folder), *FAST, isolated=True)
    assert done.returncode == 1
    assert "lens.ndjson:2: not JSON" in done.stderr
    assert kibana_double.requests == []


def test_import_gives_up_when_kibana_never_becomes_ready(kibana_double):
    kibana_double.not_ready_requests = 10**9
    done = run_script("import", "--kibana-url", kibana_double.url, "--timeout", "0.3", *FAST, isolated=True)
    assert done.returncode == 1
    assert f"Kibana at {kibana_double.url} not available after 0.3 s (HTTP 503, level unavailable)" in done.stderr
    assert all(r.method == "GET" for r in kibana_double.requests)


def test_import_gives_up_when_nothing_listens(tmp_path):
    done = run_script("import", "--kibana-url", "http://127.0.0.1:9", "--timeout", "0.3", *FAST, isolated=True)
    assert done.returncode == 1
    assert "not available after" in done.stderr and "URLError" in done.stderr


def test_credentials_come_from_the_environment(kibana_double):
    kibana_double.authorization = "ApiKey a2V5"
    done = run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True, env={"KIBANA_API_KEY": "a2V5"})
    assert done.returncode == 0, done.stderr
    assert {r.headers.get("authorization") for r in kibana_double.requests} == {"ApiKey a2V5"}

    before = len(kibana_double.requests)
    refused = run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True,
                         env={"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "wrong"})
    assert refused.returncode == 1
    assert "refused the credentials (401)" in refused.stderr
    assert kibana_double.requests[-1].headers["authorization"].startswith("Basic ")
    assert len(kibana_double.requests) == before + 1  # a 401 ends the wait at once


def test_export_writes_the_folder_back_unchanged(kibana_double, tmp_path):
    assert run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True).returncode == 0
    copy = tmp_path / "objects"
    shutil.copytree(FOLDER, copy)
    for path in copy.glob("*.ndjson"):
        path.write_text("".join(sorted(path.read_text("utf-8").splitlines(keepends=True), reverse=True)), encoding="utf-8")
    done = run_script("export", "--kibana-url", kibana_double.url, "--dir", str(copy), *FAST, isolated=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == {"dashboard.ndjson": 1, "index-pattern.ndjson": 4, "lens.ndjson": 9}
    for path in FOLDER.glob("*.ndjson"):
        assert (copy / path.name).read_text("utf-8") == path.read_text("utf-8"), path.name


def test_export_of_named_objects_follows_references_into_an_empty_folder(kibana_double, tmp_path):
    assert run_script("import", "--kibana-url", kibana_double.url, *FAST, isolated=True).returncode == 0
    target = tmp_path / "fresh"
    done = run_script("export", "--kibana-url", kibana_double.url, "--dir", str(target),
                      "--object", "dashboard:movierec-overview", *FAST, isolated=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["dashboard.ndjson", "index-pattern.ndjson", "lens.ndjson"]
    assert sorted((o["type"], o["id"]) for o in read_objects(target)) == FOLDER_KEYS
