"""The rating scale of each MovieLens edition, as the service checks ratings against it."""

from __future__ import annotations

import pytest

from service import scale
from service.scale import Scale


@pytest.mark.parametrize("edition", ["ml-100k", "ml-1m"])
def test_whole_star_editions(edition):
    s = scale.of(edition)
    assert s == Scale(1.0, 5.0, (1.0, 2.0, 3.0, 4.0, 5.0), edition)
    assert s.allows(4.0) and not s.allows(4.5) and not s.allows(4.3) and not s.allows(0.5)
    assert s.describe() == f"{edition} rates 1, 2, 3, 4, 5"


@pytest.mark.parametrize("edition", ["ml-latest-small", "ml-20m", "ml-25m", "ml-32m"])
def test_half_star_editions(edition):
    s = scale.of(edition)
    assert (s.low, s.high, len(s.values)) == (0.5, 5.0, 10)
    assert s.allows(0.5) and s.allows(4.5) and not s.allows(4.3) and not s.allows(0.0)
    assert s.describe() == f"{edition} rates 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5"


def test_an_edition_the_registry_lacks_takes_the_configured_range():
    from service import create_app

    with create_app({"TESTING": True, "RATING_MIN": 1.0, "RATING_MAX": 10.0}).app_context():
        s = scale.of("my-ratings")
    assert s == Scale(1.0, 10.0, (), "my-ratings")
    assert s.allows(7.3) and not s.allows(10.5)
    assert s.describe() == "ratings run from 1 to 10"
