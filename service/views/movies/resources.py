"""GET /movies, /movies/genres, /movies/{id}, /movies/{id}/similar, /movies/{id}/audience."""

from __future__ import annotations

from flask.views import MethodView

from service import movies, recommend
from service.schemas import MovieDetailSchema, MovieIdPath
from service.views.blueprint import Blueprint, NoQuery
from service.views.movies.schemas import (
    AudienceArgs,
    AudienceSchema,
    GenreListSchema,
    MovieSearchArgs,
    MovieSearchSchema,
    SimilarArgs,
    SimilarSchema,
)

blp = Blueprint("movies", __name__, url_prefix="/movies", description="The catalogue, similar movies, audiences.")


@blp.route("")
class Movies(MethodView):
    @blp.arguments(MovieSearchArgs, location="query")
    @blp.response(200, MovieSearchSchema)
    def get(self, args):
        """Search titles as typed (fuzzy, prefix, year hint) or browse by genre and year."""
        return movies.search(args)


# A fixed path outranks `/<movie_id>` in Werkzeug's routing, whatever the registration order; movie ids
# are integers, so no movie is ever shadowed.
@blp.route("/genres")
class Genres(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, GenreListSchema)
    def get(self):
        """Every genre with its number of movies, most common first."""
        return movies.genres()


@blp.route("/<movie_id>")
class Movie(MethodView):
    @blp.arguments(MovieIdPath, location="path", as_kwargs=True)
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, MovieDetailSchema)
    @blp.errors(404)
    def get(self, movie_id):
        """One movie: metadata and rating statistics."""
        return movies.get(movie_id)


@blp.route("/<movie_id>/similar")
class Similar(MethodView):
    @blp.arguments(MovieIdPath, location="path", as_kwargs=True)
    @blp.arguments(SimilarArgs, location="query")
    @blp.response(200, SimilarSchema)
    @blp.errors(404)
    def get(self, args, movie_id):
        """Movies similar to this one (what people rate alike and what the films are), with filters."""
        return recommend.similar(movie_id, args)


@blp.route("/<movie_id>/audience")
class Audience(MethodView):
    @blp.arguments(MovieIdPath, location="path", as_kwargs=True)
    @blp.arguments(AudienceArgs, location="query")
    @blp.response(200, AudienceSchema)
    @blp.errors(404)
    def get(self, args, movie_id):
        """Users most likely to enjoy this movie (kNN over user vectors)."""
        return recommend.audience(movie_id, args)
