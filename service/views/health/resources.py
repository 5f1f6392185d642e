"""GET /health."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from service import health
from service.views.health.schemas import HealthSchema

blp = Blueprint("health", __name__, url_prefix="/health", description="Can the service answer?")


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Degraded: Elasticsearch unreachable or no model served")
    def get(self):
        """Elasticsearch reachability, the active run and the document count of each index."""
        return health.check()
