"""Tests of the Kibana saved objects, the import/export script, the Kibana double and the compose stack."""
