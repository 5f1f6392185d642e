"""Fetching: from a folder, from a zip, by download (file:// URL); checksums enforced; no network when present."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.request
import zipfile
from pathlib import Path

import pytest

from pipeline import fetch, synthetic
from pipeline.datasets import get
from pipeline.errors import DatasetError


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory) -> Path:
    return synthetic.generate(tmp_path_factory.mktemp("src"), "ml-latest-small", n_users=20, n_movies=40, n_ratings=500)


def _zip(folder: Path, path: Path, prefix: str = "ml-latest-small/") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, prefix + file.name)
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_from_folder_checks_the_published_checksums(small_folder, tmp_path):
    # ml-latest-small's real files have published sha256 sums; synthetic ones cannot match them
    with pytest.raises(DatasetError, match="sha256 mismatch for links.csv, movies.csv, ratings.csv, tags.csv"):
        fetch.fetch("ml-latest-small", tmp_path / "data", source=small_folder)
    assert not (tmp_path / "data" / "ml-latest-small").exists()


def test_from_folder_without_checksums_copies_and_records_a_manifest(small_folder, tmp_path):
    target = fetch.fetch("ml-latest-small", tmp_path / "data", source=small_folder, checksums=False)
    assert target == tmp_path / "data" / "ml-latest-small"
    assert (target / "ratings.csv").read_bytes() == (small_folder / "ratings.csv").read_bytes()
    manifest = json.loads((target / fetch.MANIFEST).read_text())
    assert manifest["files"]["ratings.csv"] == hashlib.sha256((small_folder / "ratings.csv").read_bytes()).hexdigest()
    # with no published per-file sums, the manifest guards the copy: a changed file is caught next time
    unpublished = dataclasses.replace(get("ml-latest-small"), file_sha256={})
    assert fetch.fetch(unpublished, tmp_path / "data") == target
    (target / "movies.csv").write_text("movieId,title,genres\n1,Changed (2000),Drama\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="sha256 mismatch for movies.csv \\(.*--force"):
        fetch.fetch(unpublished, tmp_path / "data")


def test_missing_required_file(small_folder, tmp_path):
    partial = tmp_path / "partial" / "ml-latest-small"
    partial.mkdir(parents=True)
    (partial / "ratings.csv").write_bytes((small_folder / "ratings.csv").read_bytes())
    with pytest.raises(DatasetError, match="missing movies.csv, tags.csv, links.csv"):
        fetch.fetch("ml-latest-small", tmp_path / "data", source=partial.parent, checksums=False)


def test_from_zip_verifies_the_published_md5(small_folder, tmp_path):
    archive = _zip(small_folder, tmp_path / "ml-latest-small.zip")
    with pytest.raises(DatasetError, match="md5 .* != published 31a303aabbc519bd33d025e44d6c2570"):
        fetch.fetch("ml-latest-small", tmp_path / "data", source=archive)


def test_from_zip_with_matching_checksum(small_folder, tmp_path):
    archive = _zip(small_folder, tmp_path / "mine.zip")
    dataset = dataclasses.replace(
        get("ml-latest-small"), zip_md5=_md5(archive), zip_sha256=None, zip_bytes=None, file_sha256={}
    )
    target = fetch.fetch(dataset, tmp_path / "data", source=archive)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [fetch.MANIFEST, "links.csv", "movies.csv", "ratings.csv", "synthetic.json", "tags.csv", "truth.npz"]
    )


def test_zip_escaping_the_target_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside.txt", "x")
    with pytest.raises(DatasetError, match="outside"):
        fetch.fetch("ml-latest-small", tmp_path / "data", source=archive, checksums=False)
    assert not (tmp_path / "outside.txt").exists()


def test_download_verifies_then_never_downloads_again(small_folder, tmp_path, monkeypatch, capsys):
    archive = _zip(small_folder, tmp_path / "served.zip")
    dataset = dataclasses.replace(
        get("ml-latest-small"), zip_md5=_md5(archive), zip_sha256=None, zip_bytes=None, file_sha256={}
    )
    target = fetch.fetch(dataset, tmp_path / "data", url=archive.as_uri())
    assert (target / "ratings.csv").read_bytes() == (small_folder / "ratings.csv").read_bytes()
    assert not (tmp_path / "data" / "ml-latest-small.zip").exists()  # the zip is removed after unpacking
    assert "served" not in capsys.readouterr().out  # the progress bar goes to stderr

    def no_network(*args, **kwargs):
        raise AssertionError("fetch went to the network although the data is present")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert fetch.fetch(dataset, tmp_path / "data") == target


def test_download_of_a_damaged_zip_fails(small_folder, tmp_path):
    archive = _zip(small_folder, tmp_path / "served.zip")
    with pytest.raises(DatasetError, match="not the official ml-latest-small.zip"):
        fetch.fetch("ml-latest-small", tmp_path / "data", url=archive.as_uri())
    assert not (tmp_path / "data" / "ml-latest-small").exists()


def test_unreachable_url_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="download of .* failed"):
        fetch.fetch("ml-latest-small", tmp_path / "data", url=(tmp_path / "nothing.zip").as_uri())


def test_progress_bar_draws_share_and_size():
    import io

    stream = io.StringIO()
    bar = fetch._Progress("ml-100k.zip", total=2_000_000, stream=stream)
    bar.update(1_000_000)
    bar.close()
    assert "50.0%" in stream.getvalue() and "1.0/2.0 MB" in stream.getvalue()
