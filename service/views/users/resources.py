"""GET /users/{id}, POST /users, POST /users/{id}/ratings, GET /users/{id}/recommendations."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from service import recommend, users
from service.schemas import UserIdPath
from service.views.blueprint import Blueprint, NoQuery
from service.views.users.schemas import (
    RatingsBodySchema,
    UserCreateSchema,
    UserRecommendationArgs,
    UserRecommendationsSchema,
    UserSchema,
)

blp = Blueprint("users", __name__, url_prefix="/users", description="Users, their ratings and recommendations.")


@blp.route("")
class Users(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema, headers={"Location": {"description": "The new user's URL", "required": True,
                                                         "schema": {"type": "string", "example": "/users/944"}}})
    @blp.errors(409)
    def post(self, body):
        """Create a user from ratings; the vector is folded in and searchable at once."""
        user = users.create(body)
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
    @blp.errors(404)
    def post(self, body, user_id):
        """Add ratings; the user's vector is folded in again and stored at once."""
        return users.add_ratings(user_id, body)


@blp.route("/<user_id>/recommendations")
class Recommendations(MethodView):
    @blp.arguments(UserIdPath, location="path", as_kwargs=True)
    @blp.arguments(UserRecommendationArgs, location="query")
    @blp.response(200, UserRecommendationsSchema)
    @blp.errors(404)
    def get(self, args, user_id):
        """Top movies for this user (kNN on their vector), never one they rated."""
        return recommend.for_user(user_id, args)
