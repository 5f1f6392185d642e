"""movierec pipeline: Spark batch jobs from MovieLens files to Elasticsearch."""

__version__ = "0.1.0"
