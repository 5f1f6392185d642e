"""GET /runs/current."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from service import store
from service.views.runs.schemas import RunSchema

blp = Blueprint("runs", __name__, url_prefix="/runs", description="Training runs: parameters, metrics, timings.")


@blp.route("/current")
class CurrentRun(MethodView):
    @blp.response(200, RunSchema)
    def get(self):
        """The run whose model is served now (the one the movies alias points at)."""
        run_id = store.active_run_id()
        run = store.get("runs", run_id) if run_id else None
        if run is None:
            abort(404, message="No run is served yet; `movierec run` trains and publishes one.")
        return run
