"""One base exception for the pipeline; subclasses carry the data a caller needs."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class DatasetError(PipelineError):
    """A dataset is unknown, missing, incomplete or fails its checksum."""


class TooManyRejects(PipelineError):
    """Cleaning rejected a larger share of rows than allowed."""

    def __init__(self, message: str, report: dict) -> None:
        super().__init__(message)
        self.report = report


class ExportError(PipelineError):
    """Writing to Elasticsearch failed; `errors` holds the failed items."""

    def __init__(self, message: str, errors: list | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []
