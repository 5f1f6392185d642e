"""GET /vocabulary."""

from __future__ import annotations

from flask.views import MethodView

from service import vocabulary
from service.views.blueprint import Blueprint, NoQuery
from service.views.vocabulary.schemas import VocabularySchema

blp = Blueprint("vocabulary", __name__, url_prefix="/vocabulary", description="The values the filters accept.")


@blp.route("")
class Vocabulary(MethodView):
    @blp.arguments(NoQuery, location="query", as_kwargs=True)
    @blp.response(200, VocabularySchema)
    def get(self):
        """The genres, age bands, genders and occupations of the served run, in name order."""
        return vocabulary.listing()
