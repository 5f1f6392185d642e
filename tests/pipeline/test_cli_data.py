"""`movierec data list | synth | fetch | summary` through pipeline.cli.main."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main


def test_list_shows_every_edition(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "ml-10m           ml-10M100K/" in out
    assert "md5 c4d9eecfca2ab87c1945afe126590906" in out  # ml-1m
    assert len(out.splitlines()) == 7


def test_synth_writes_a_folder(tmp_path, capsys):
    code = main(
        [
            "data",
            "synth",
            "--format",
            "ml-1m",
            "--ratings",
            "600",
            "--users",
            "20",
            "--movies",
            "50",
            "--bad-lines",
            "malformed=2,duplicate=1",
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "ml-1m")
    assert len((tmp_path / "ml-1m" / "ratings.dat").read_text(encoding="latin-1").splitlines()) == 603
    assert len((tmp_path / "ml-1m" / "users.dat").read_text(encoding="latin-1").splitlines()) == 20


def test_synth_rejects_unknown_bad_line_kinds(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", "synth", "--bad-lines", "typo=1"])
    assert "unknown kind 'typo'" in capsys.readouterr().err


def test_synth_impossible_size_is_an_error_not_a_traceback(tmp_path):
    assert (
        main(["data", "synth", "--ratings", "500", "--users", "5", "--movies", "10", "--data-dir", str(tmp_path)]) == 1
    )


def test_fetch_of_a_folder_failing_checksums_exits_1(tmp_path):
    main(["data", "synth", "--ratings", "300", "--users", "10", "--movies", "30", "--data-dir", str(tmp_path / "src")])
    code = main(
        [
            "data",
            "fetch",
            "ml-100k",
            "--from",
            str(tmp_path / "src"),
            "--data-dir",
            str(tmp_path / "data"),
            "--no-summary",
        ]
    )
    assert code == 1  # synthetic files are not the official ml-100k
    assert not (tmp_path / "data" / "ml-100k").exists()


@pytest.mark.spark
def test_fetch_prints_rows_per_table(spark, tmp_path, capsys):
    main(
        [
            "data",
            "synth",
            "--ratings",
            "900",
            "--users",
            "30",
            "--movies",
            "60",
            "--bad-lines",
            "no_year=1",
            "--data-dir",
            str(tmp_path / "src"),
        ]
    )
    capsys.readouterr()
    code = main(
        [
            "data",
            "fetch",
            "ml-100k",
            "--from",
            str(tmp_path / "src" / "ml-100k"),
            "--data-dir",
            str(tmp_path / "data"),
            "--no-checksum",
            "--report",
            str(tmp_path / "report.json"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in out[2:5]}
    assert rows == {"ratings": "900", "movies": "60", "users": "30"}
    assert "no_year 2, no_genres 1" in out[3]  # the "unknown" movie plus the seeded title
    assert out[-1].startswith("rejected ratings: 0 ")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["tables"]["ratings"]["kept"] == 900


@pytest.mark.spark
def test_summary_json_and_too_many_rejects(spark, tmp_path, capsys):
    main(
        [
            "data",
            "synth",
            "--format",
            "ml-latest-small",
            "--ratings",
            "400",
            "--users",
            "10",
            "--movies",
            "60",
            "--bad-lines",
            "malformed=3,out_of_range=2",
            "--data-dir",
            str(tmp_path),
        ]
    )
    capsys.readouterr()
    assert main(["data", "summary", "ml-latest-small", "--data-dir", str(tmp_path), "--json"]) == 1  # 5/405 > 1%
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "too_many_rejects"
    assert report["tables"]["ratings"]["rejected"] == {
        "malformed": 3,
        "id_out_of_range": 0,
        "out_of_range": 2,
        "unknown_movie": 0,
        "duplicate": 0,
    }
    code = main(
        ["data", "summary", "ml-latest-small", "--data-dir", str(tmp_path), "--json", "--max-reject-share", "0.02"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["tables"]["ratings"]["kept"] == 400



def test_fetch_into_a_folder_it_cannot_write_fails_before_downloading(tmp_path, caplog, monkeypatch):
    """What a non-root container meets in a host folder Docker created as root for a bind mount.

    The tests run as root, for whom every folder is writable, so the permission answer is the one a
    non-root user gets for a root-owned 0755 folder."""
    locked = tmp_path / "data"
    locked.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: not (Path(path) == locked and mode == os.W_OK))
    assert main(["data", "fetch", "ml-100k", "--data-dir", str(locked), "--url", "http://127.0.0.1:9/none.zip"]) == 1
    err = caplog.text
    assert f"cannot write ml-100k into {locked}: it belongs to uid {os.getuid()} and this process runs as uid" in err
    assert "sudo chown" in err and not (locked / "ml-100k").exists()
