"""Publish to Elasticsearch: what a run does around its export (run hygiene, re-folding users after the swap)."""
