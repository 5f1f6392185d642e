"""Elasticsearch test double: an in-process HTTP server speaking the ES REST subset the project uses."""
