"""Tests of the Elasticsearch test double, each citing the ES behaviour it mirrors."""
