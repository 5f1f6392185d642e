"""Data in: what a run reads besides the dataset files (online feedback from Elasticsearch)."""
