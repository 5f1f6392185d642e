"""GET /runs/current."""

from __future__ import annotations

from flask.views import MethodView

from service import store
from service.errors import IndexMissing
from service.views.blueprint import Blueprint, NoQuery
from service.views.runs.schemas import RunSchema

blp = Blueprint("runs", __name__, url_prefix="/runs", description="Training runs: parameters, metrics, timings.")


@blp.route("/current")
class CurrentRun(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, RunSchema)
    def get(self):
        """The run whose model is served now (the one the movies alias points at); 503 while none is."""
        run_id = store.active_run_id()
        if run_id is None:
            raise IndexMissing(store.index_of("movies"), "No run is served yet; `movierec run` trains and publishes one.")
        run = store.get("runs", run_id)
        if run is None:
            raise IndexMissing(store.index_of("runs"), f"The record of the served run {run_id} is missing.")
        return run
