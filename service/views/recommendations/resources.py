"""GET /recommendations/by-title, POST /recommendations/from-liked, GET /recommendations/cold-start."""

from __future__ import annotations

from flask.views import MethodView

from service import recommend
from service.views.blueprint import Blueprint, NoQuery
from service.views.recommendations.schemas import (
    ByTitleArgs,
    ByTitleSchema,
    ColdStartArgs,
    ColdStartSchema,
    FromLikedAnswerSchema,
    FromLikedSchema,
)

blp = Blueprint(
    "recommendations", __name__, url_prefix="/recommendations", description="Recommendations without a user id."
)


@blp.route("/by-title")
class ByTitle(MethodView):
    @blp.arguments(ByTitleArgs, location="query")
    @blp.response(200, ByTitleSchema)
    @blp.errors(404)
    def get(self, args):
        """Movies like the one a free-text title resolves to; says which movie matched."""
        return recommend.by_title(args)


@blp.route("/from-liked")
class FromLiked(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.arguments(FromLikedSchema)
    @blp.response(200, FromLikedAnswerSchema)
    @blp.errors(404)
    def post(self, body):
        """Recommendations from a few liked movies (ids or titles), folded in on the fly, no account."""
        return recommend.from_liked(body)


@blp.route("/cold-start")
class ColdStart(MethodView):
    @blp.arguments(ColdStartArgs, location="query")
    @blp.response(200, ColdStartSchema)
    def get(self, args):
        """Recommendations without any history: well rated, popular, optionally by genre and profile."""
        return recommend.cold_start(args)
