"""Health report schema."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ElasticsearchStatusSchema(ma.Schema):
    reachable = fields.Boolean(required=True, metadata={"description": "Elasticsearch answered"})
    cluster_name = fields.String(allow_none=True, metadata={"description": "Cluster name"})
    version = fields.String(allow_none=True, metadata={"description": "Elasticsearch version", "example": "9.5.6"})


class IndexStatusSchema(ma.Schema):
    alias = fields.String(metadata={"description": "Alias the service reads", "example": "movierec-movies"})
    index = fields.String(allow_none=True, metadata={"description": "Index behind the alias"})
    count = fields.Integer(allow_none=True, metadata={"description": "Documents", "example": 1682})


class HealthSchema(ma.Schema):
    status = fields.String(required=True, metadata={"description": "`ok` or `degraded`", "example": "ok"})
    elasticsearch = fields.Nested(ElasticsearchStatusSchema, required=True)
    active_run = fields.String(allow_none=True, metadata={"description": "Run the movies alias serves"})
    indices = fields.Dict(keys=fields.String(), values=fields.Nested(IndexStatusSchema))
    problems = fields.List(fields.String(), metadata={"description": "Why the status is degraded"})
