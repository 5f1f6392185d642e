"""The search loop, with a fake objective (no Spark)."""

from __future__ import annotations

import pytest

from pipeline import tuning
from pipeline.als import ALSParams


def test_grid_points_cover_every_combination_in_stable_order() -> None:
    points = tuning.grid_points({"rank": [8, 16], "alpha": [1.0, 2.0, 3.0]})
    assert len(points) == 6
    assert points[0] == {"alpha": 1.0, "rank": 8}
    assert points[-1] == {"alpha": 3.0, "rank": 16}


def test_random_points_are_distinct_and_reproducible() -> None:
    space = {"rank": [8, 16, 32], "reg_param": [0.01, 0.1, 1.0]}
    first = tuning.random_points(space, 4, seed=7)
    assert first == tuning.random_points(space, 4, seed=7)
    assert len({tuple(sorted(p.items())) for p in first}) == 4
    assert len(tuning.random_points(space, 50)) == 9  # capped at the grid


@pytest.mark.parametrize("space", [{}, {"rank": []}, {"rank": "8"}])
def test_bad_spaces_are_refused(space: dict) -> None:
    with pytest.raises(ValueError):
        tuning.grid_points(space)


def _fake(params: ALSParams) -> dict[str, float]:
    # peak at rank 16, reg 0.1
    return {"ndcg_at_10": 1.0 - abs(params.rank - 16) / 100 - abs(params.reg_param - 0.1), "rmse": params.reg_param}


def test_tune_picks_the_best_and_keeps_every_trial() -> None:
    points = tuning.grid_points({"rank": [8, 16, 32], "reg_param": [0.01, 0.1]})
    result = tuning.tune(ALSParams(alpha=5.0), points, _fake, "ndcg_at_10", maximize=True)
    assert result.best_params.rank == 16
    assert result.best_params.reg_param == 0.1
    assert result.best_params.alpha == 5.0  # base params kept
    assert result.best_value == pytest.approx(1.0)
    assert len(result.trials) == 6
    assert all("ndcg_at_10" in t.metrics and t.seconds >= 0 for t in result.trials)
    as_dict = result.to_dict()
    assert as_dict["best_params"]["rank"] == 16
    assert len(as_dict["trials"]) == 6


def test_tune_minimises_and_records_failed_points() -> None:
    points = [{"reg_param": 0.5}, {"rank": 0}, {"reg_param": 0.2}]
    result = tuning.tune(ALSParams(), points, _fake, "rmse", maximize=False)
    assert result.best_params.reg_param == 0.2
    failed = [t for t in result.trials if t.error]
    assert len(failed) == 1 and "rank" in failed[0].error


def test_tune_fails_when_every_point_fails() -> None:
    with pytest.raises(ValueError, match="every tuning point failed"):
        tuning.tune(ALSParams(), [{"rank": -1}], _fake, "rmse", maximize=False)
    with pytest.raises(ValueError):
        tuning.tune(ALSParams(), [], _fake, "rmse")


def test_an_objective_that_is_not_measured_is_an_error() -> None:
    with pytest.raises(ValueError, match="not among the measured metrics"):
        tuning.tune(ALSParams(), [{"rank": 8}], _fake, "ndcg_at_5")
    assert "rmse" in tuning.MINIMISED and "ndcg_at_10" not in tuning.MINIMISED
