"""Getting an edition onto disk, verified: download, or take a local folder or zip.

`fetch` leaves `<data_dir>/<folder>` complete and verified, and touches the
network only when that folder is absent (or `force`). Verification: the
required files are present; the zip's MD5 / sha256 / size and the files'
sha256 match where the registry knows them (see pipeline.datasets). After a
fetch, `.movierec-manifest.json` in the folder records every file's sha256,
so later runs re-verify even editions without published per-file hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pipeline.datasets import Dataset, get
from pipeline.errors import DatasetError

log = logging.getLogger(__name__)

MANIFEST = ".movierec-manifest.json"
DEFAULT_TIMEOUT = 60.0  # seconds without progress before a download fails
_CHUNK = 1 << 20


def file_digests(path: Path, algorithms: Iterable[str] = ("sha256",)) -> dict[str, str]:
    """Hex digests of a file, read once in 1 MiB chunks."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def expected_hashes(dataset: Dataset, folder: Path) -> dict[str, str]:
    """Known sha256 per file: the registry's, then the manifest's for the rest."""
    expected = dict(read_manifest(folder).get("files", {}))
    expected.update(dataset.file_sha256)
    return expected


def verify_folder(dataset: Dataset, folder: Path, checksums: bool = True) -> dict[str, str]:
    """Check an unpacked edition; returns the sha256 of every file in it.

    Raises DatasetError naming missing required files or checksum mismatches.
    Files with a known hash must match it; a known file that is absent is
    only an error when the edition needs it.
    """
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    missing = [name for name in dataset.required_files if not (folder / name).is_file()]
    if missing:
        raise DatasetError(f"{dataset.name} in {folder} is incomplete: missing {', '.join(missing)}")
    actual = {p.name: file_digests(p)["sha256"] for p in _files(folder) if p.suffix != ".zip"}
    if checksums:
        expected = expected_hashes(dataset, folder)
        wrong = [name for name, digest in expected.items() if name in actual and actual[name] != digest]
        if wrong:
            raise DatasetError(
                f"{dataset.name} in {folder}: sha256 mismatch for {', '.join(sorted(wrong))} "
                "(not the official files, or damaged)"
            )
        unknown = [n for n in dataset.required_files if n not in expected]
        if unknown:
            log.warning("%s: no published checksum for %s; checked presence only", dataset.name, ", ".join(unknown))
    return actual


def verify_zip(dataset: Dataset, path: Path, checksums: bool = True) -> dict[str, str]:
    """Check an edition's zip against its published MD5 (and sha256 / size where known)."""
    digests = file_digests(path, ("md5", "sha256"))
    if not checksums:
        return digests
    problems = []
    if dataset.zip_md5 and digests["md5"] != dataset.zip_md5:
        problems.append(f"md5 {digests['md5']} != published {dataset.zip_md5}")
    if dataset.zip_sha256 and digests["sha256"] != dataset.zip_sha256:
        problems.append(f"sha256 {digests['sha256']} != {dataset.zip_sha256}")
    if dataset.zip_bytes and path.stat().st_size != dataset.zip_bytes:
        problems.append(f"size {path.stat().st_size} != {dataset.zip_bytes} bytes")
    if problems:
        raise DatasetError(f"{path.name} is not the official {dataset.zip_name}: {'; '.join(problems)}")
    if not dataset.zip_md5 and not dataset.zip_sha256:
        log.warning("%s: no published zip checksum; checked the files only", dataset.name)
    return digests


class _Progress:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        self.last = 0.0
        self.started = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self._draw()

    def _draw(self) -> None:
        mb = self.done / 1e6
        rate = mb / max(time.monotonic() - self.started, 1e-6)
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            text = f"\r{self.label} [{bar:<30}] {share:6.1%} {mb:8.1f}/{self.total / 1e6:.1f} MB {rate:6.1f} MB/s"
        else:
            text = f"\r{self.label} {mb:8.1f} MB {rate:6.1f} MB/s"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()


def download(url: str, dest: Path, timeout: float = DEFAULT_TIMEOUT, progress: bool = True) -> Path:
    """Stream `url` to `dest` (via a .part file); `timeout` bounds each network wait."""
    part = dest.with_name(dest.name + ".part")
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:
            length = response.headers.get("Content-Length")
            bar = _Progress(dest.name, int(length) if length else None) if progress else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                if bar:
                    bar.update(len(chunk))
            if bar:
                bar.close()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise DatasetError(f"download of {url} failed: {exc}") from exc
    part.replace(dest)
    return dest


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if destination != root and root not in destination.parents:
            raise DatasetError(f"zip member {member.filename!r} would land outside {target}")
    archive.extractall(target)


def _find_folder(dataset: Dataset, root: Path) -> Path:
    """The folder under `root` that holds the edition's ratings file."""
    candidates = sorted(p.parent for p in root.rglob(dataset.ratings.file) if "__MACOSX" not in p.parts)
    if not candidates:
        raise DatasetError(f"no {dataset.ratings.file} found in the {dataset.name} source")
    return min(candidates, key=lambda p: len(p.parts))


def _install(dataset: Dataset, source_folder: Path, target: Path, checksums: bool, origin: str) -> Path:
    """Verify `source_folder`, copy it to `target` (replacing it), write the manifest."""
    hashes = verify_folder(dataset, source_folder, checksums)
    staging = Path(tempfile.mkdtemp(prefix=f".{dataset.folder}-", dir=target.parent))
    try:
        copy = staging / dataset.folder
        copy.mkdir()
        for path in _files(source_folder):
            if path.suffix != ".zip":  # the unpacked files are what loads; a zip beside them is not needed
                shutil.copyfile(path, copy / path.name)
        manifest = {"dataset": dataset.name, "source": origin, "fetched_at": int(time.time()), "files": hashes}
        (copy / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        copy.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _from_zip(dataset: Dataset, zip_path: Path, target: Path, checksums: bool, origin: str) -> Path:
    verify_zip(dataset, zip_path, checksums)
    with tempfile.TemporaryDirectory(prefix=f".{dataset.folder}-unzip-", dir=target.parent) as tmp:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _safe_extract(archive, Path(tmp))
        except zipfile.BadZipFile as exc:
            raise DatasetError(f"{zip_path} is not a valid zip: {exc}") from exc
        return _install(dataset, _find_folder(dataset, Path(tmp)), target, checksums, origin)


def fetch(
    name: str | Dataset,
    data_dir: str | Path,
    source: str | Path | None = None,
    force: bool = False,
    checksums: bool = True,
    url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Make `<data_dir>/<folder>` hold the verified edition; returns that folder.

    `source`: a local folder or zip to take instead of downloading. Without
    `force`, an existing folder that verifies is kept and nothing is
    downloaded; one that fails verification is an error (use `force`).
    `checksums=False` checks file presence only (e.g. for synthetic data).
    `url` overrides the official download URL (mirrors, tests).
    """
    dataset = name if isinstance(name, Dataset) else get(name)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / dataset.folder

    if source is not None:
        source = Path(source)
        if not source.exists():
            raise DatasetError(f"--from {source}: no such file or folder")
        if source.is_dir():
            if source.resolve() == target.resolve():
                verify_folder(dataset, target, checksums)
                log.info("%s is already in place at %s; verified", dataset.name, target)
                return target
            folder = _find_folder(dataset, source)
            log.info("copying %s from %s", dataset.name, folder)
            return _install(dataset, folder, target, checksums, str(source.resolve()))
        log.info("unpacking %s from %s", dataset.name, source)
        return _from_zip(dataset, source, target, checksums, str(source.resolve()))

    if target.exists() and not force:
        try:
            verify_folder(dataset, target, checksums)
        except DatasetError as exc:
            raise DatasetError(f"{exc}; run with --force to replace it") from exc
        log.info("%s present and verified at %s; nothing downloaded", dataset.name, target)
        return target

    zip_path = data_dir / dataset.zip_name
    download(url or dataset.url, zip_path, timeout=timeout, progress=progress)
    try:
        return _from_zip(dataset, zip_path, target, checksums, url or dataset.url)
    finally:
        zip_path.unlink(missing_ok=True)
