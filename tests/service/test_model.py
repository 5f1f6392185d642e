"""The active model read from a run record (pipeline.als meta) and its fold-in dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from service.model import ActiveModel


def _run(**meta):
    base = {"kind": "implicit", "rank": 1, "vector_size": 1, "reg_param": 1.0, "alpha": 1.0,
            "implicit_signal": "binary", "positive_threshold": None, "global_mean": None, "item_gramian": [[5.0]]}
    base.update(meta)
    return {"run_id": "20260101-000000-abcdef", "model_kind": base["kind"], "params": {}, "model": base}


def test_implicit_binary_signal_ignores_rating_values():
    model = ActiveModel.from_run(_run())
    assert model.kind == "implicit" and model.gramian.tolist() == [[5.0]]
    got = model.fold_in(np.array([[1.0]]), np.array([4.5]))
    assert got.vector == pytest.approx([2 / 7])  # same as a rating of 1: see test_foldin.test_implicit_rank_one


def test_implicit_threshold_drops_low_ratings_and_rating_signal():
    model = ActiveModel.from_run(_run(positive_threshold=3.0, implicit_signal="rating"))
    # only the 4.0 rating counts: c1 = 4, A = 5 + 4 + 1 = 10, b = 5 * 1 -> 0.5
    got = model.fold_in(np.array([[1.0], [7.0]]), np.array([4.0, 2.0]))
    assert got.vector == pytest.approx([0.5])
    with pytest.raises(ValueError, match="positive threshold"):
        model.fold_in(np.array([[1.0]]), np.array([2.0]))


def test_explicit_baseline_and_liked():
    model = ActiveModel.from_run(_run(kind="explicit", vector_size=2, global_mean=3.0, bias_reg=2.0,
                                      reg_param=0.5, alpha=None, item_gramian=None))
    items = np.array([[1.0, 0.5], [1.0, -0.5]])
    rated = model.fold_in(items, np.array([4.0, 3.0]))
    assert rated.latent == pytest.approx([1 / 6]) and rated.bias == pytest.approx(0.25)
    liked = model.fold_in(items, np.array([5.0, 5.0]), liked=True)
    # residuals [1.5, 2.5], no user bias: 3u = 4 -> u = 4/3
    assert liked.vector == pytest.approx([4 / 3, 1.0]) and liked.bias == 0.0


def test_record_without_kind_is_refused():
    with pytest.raises(ValueError):
        ActiveModel.from_run({"run_id": "x", "model": {"rank": 2}})
