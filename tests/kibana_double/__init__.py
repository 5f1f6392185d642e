"""An in-process HTTP double of Kibana's status and saved-objects import/export APIs."""

from tests.kibana_double.server import KibanaDouble, RecordedRequest

__all__ = ["KibanaDouble", "RecordedRequest"]
