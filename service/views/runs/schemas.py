"""Run record schema (the fields the runs index maps, without the model internals)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class RunSchema(ma.Schema):
    run_id = fields.String(required=True, metadata={"description": "Run id", "example": "20261122-101900-ab12cd"})
    status = fields.String(metadata={"description": "running, succeeded or failed", "example": "succeeded"})
    active = fields.Boolean(metadata={"description": "Served by the aliases"})
    dataset = fields.String(metadata={"description": "MovieLens edition", "example": "ml-100k"})
    data_hash = fields.String(metadata={"description": "sha256 over the input files"})
    model_kind = fields.String(metadata={"description": "implicit or explicit", "example": "implicit"})
    vector_size = fields.Integer(metadata={"description": "Dimensions of `factors`", "example": 64})
    started_at = fields.String(metadata={"description": "Start (UTC, ISO 8601)"})
    finished_at = fields.String(allow_none=True, metadata={"description": "End (UTC, ISO 8601)"})
    duration_s = fields.Float(allow_none=True, metadata={"description": "Duration in seconds"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "Documents written"})
    indices = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "Indices written"})
    metrics = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": "Evaluation metrics"})
    params = fields.Dict(metadata={"description": "ALS parameters"})
    timings = fields.Dict(metadata={"description": "Seconds per step"})
