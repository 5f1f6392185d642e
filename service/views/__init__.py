"""The API's resources: one blueprint per resource, registered from one tuple."""

from __future__ import annotations

from service.views.health.resources import blp as health
from service.views.movies.resources import blp as movies
from service.views.recommendations.resources import blp as recommendations
from service.views.runs.resources import blp as runs
from service.views.users.resources import blp as users
from service.views.vocabulary.resources import blp as vocabulary

BLUEPRINTS = (health, runs, vocabulary, movies, users, recommendations)
