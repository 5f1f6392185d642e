"""GET /users/{id}, POST /users, POST /users/{id}/ratings, GET /users/{id}/recommendations."""

from __future__ import annotations

from flask import jsonify, url_for
from flask.views import MethodView
from werkzeug.wrappers import Response

import es_mappings
from service import recommend, users
from service.schemas import UserIdPath
from service.views.blueprint import Blueprint, NoQuery
from service.views.users.schemas import (
    RatingsBodySchema,
    UserAcceptedSchema,
    UserCreateSchema,
    UserRecommendationArgs,
    UserRecommendationsSchema,
    UserSchema,
)

blp = Blueprint("users", __name__, url_prefix="/users", description="Users, their ratings and recommendations.")
LOCATION = {"description": "The user's URL", "required": True, "schema": {"type": "string", "example": f"/users/{es_mappings.ACCOUNT_ID_MIN}"}}
ACCEPTED = ("Stored durably, not served yet: Elasticsearch did not finish writing the served user within the "
            "request. Keep `user_id` and do not send the request again; the vector follows (GET the `Location`).")


def accepted(result: users.Accepted) -> Response:
    """The 202 answer: what was stored, and where the user will be."""
    resp = jsonify(UserAcceptedSchema().dump(result.body()))
    resp.status_code = 202
    resp.headers["Location"] = url_for("users.User", user_id=result.user_id)
    return resp


@blp.route("")
class Users(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema, headers={"Location": LOCATION})
    @blp.alt_response(202, schema=UserAcceptedSchema, description=ACCEPTED, headers={"Location": LOCATION})
    @blp.errors(409)
    def post(self, body):
        """Create a user from ratings; the vector is folded in and searchable at once (201), or follows (202)."""
        user = users.create(body)
        if isinstance(user, users.Accepted):
            return accepted(user)
        return user, 201, {"Location": url_for("users.User", user_id=user["user_id"])}


@blp.route("/<user_id>")
class User(MethodView):
    @blp.arguments(UserIdPath, location="path", as_kwargs=True)
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, UserSchema)
    @blp.errors(404)
    def get(self, user_id):
        """One user: demographics, rating statistics, top genres."""
        return users.get(user_id)


@blp.route("/<user_id>/ratings")
class Ratings(MethodView):
    @blp.arguments(UserIdPath, location="path", as_kwargs=True)
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.arguments(RatingsBodySchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(202, schema=UserAcceptedSchema, description=ACCEPTED, headers={"Location": LOCATION})
    @blp.errors(404)
    def post(self, body, user_id):
        """Add ratings; the user's vector is folded in again and stored at once (200), or follows (202)."""
        result = users.add_ratings(user_id, body)
        return accepted(result) if isinstance(result, users.Accepted) else result


@blp.route("/<user_id>/recommendations")
class Recommendations(MethodView):
    @blp.arguments(UserIdPath, location="path", as_kwargs=True)
    @blp.arguments(UserRecommendationArgs, location="query")
    @blp.response(200, UserRecommendationsSchema)
    @blp.errors(404)
    def get(self, args, user_id):
        """Top movies for this user (kNN on their vector), never one they rated."""
        return recommend.for_user(user_id, args)
