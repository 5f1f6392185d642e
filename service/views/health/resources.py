"""GET /health."""

from __future__ import annotations

from flask.views import MethodView

from service import health
from service.errors import COMMON_ERRORS
from service.views.blueprint import Blueprint, NoQuery
from service.views.health.schemas import HealthSchema

blp = Blueprint("health", __name__, url_prefix="/health", description="Can the service answer?")


@blp.route("")
class Health(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, HealthSchema, errors=[s for s in COMMON_ERRORS if s != 503])
    @blp.alt_response(503, schema=HealthSchema, description="Degraded: Elasticsearch unreachable or no model served",
                      headers={"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}})
    def get(self):
        """Elasticsearch reachability, the active run and the document count of each index."""
        return health.check()
