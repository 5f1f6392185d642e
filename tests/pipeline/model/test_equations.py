"""The shared normal equations: signal rule, confidences, λ·n^ν, batched solves (hand-computed cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.model import equations


def test_signal_rule_without_threshold_keeps_every_rating() -> None:
    kept, s = equations.SignalRule().signal([1.0, 3.0, 5.0])
    assert kept.tolist() == [True, True, True]
    assert s.tolist() == [1.0, 1.0, 1.0]
    kept, s = equations.SignalRule(implicit_signal="rating").signal([1.0, 5.0])
    assert s.tolist() == [1.0, 5.0]


def test_low_ratings_become_negative_evidence_growing_below_the_threshold() -> None:
    rule = equations.SignalRule(positive_threshold=3.0, negative_weight=0.5)
    kept, s = rule.signal([5.0, 3.0, 2.5, 1.0])
    assert kept.tolist() == [True, True, True, True]
    # s = 1 at or above 3; below: -0.5 * (3 - r)
    assert s.tolist() == [1.0, 1.0, -0.25, -1.0]


def test_zero_negative_weight_drops_low_ratings() -> None:
    kept, s = equations.SignalRule(positive_threshold=4.0, implicit_signal="rating").signal([5.0, 2.0, 4.0])
    assert kept.tolist() == [True, False, True]
    assert s.tolist() == [5.0, 4.0]


@pytest.mark.parametrize(
    "bad",
    [{"implicit_signal": "count"}, {"positive_threshold": "4"}, {"positive_threshold": math.inf}, {"negative_weight": -1.0},
     {"negative_weight": True}],
)
def test_bad_rules_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        equations.SignalRule(**bad)


def test_confidence_terms_as_spark() -> None:
    # c = 1 + alpha |s|, p = [s > 0]: c - 1 and c * p
    c1, cp = equations.confidence_terms(np.array([1.0, -2.0, 0.5]), alpha=2.0)
    assert c1.tolist() == [2.0, 4.0, 1.0]
    assert cp.tolist() == [3.0, 0.0, 2.0]


def test_regularisation_scales_with_count_to_the_exponent() -> None:
    got = equations.regularisation(np.array([0, 1, 4, 9]), reg=2.0, exponent=0.5)
    assert got.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert equations.regularisation(np.array([4]), 2.0, 1.0).tolist() == [8.0]  # ALS-WR


def test_solve_rows_hand_case() -> None:
    # fixed F = [[1, 0], [0, 2]]; row 0 has both entries, row 1 only F_1.
    # row 0: A = diag(w0*1, w1*4) + reg0 I = diag(1*1 + 1, 0.5*4 + 1) = diag(2, 3); b = [t0*1, t1*2] = [2, 6] -> [1, 2]
    # row 1: A = diag(0, 2*4) + gram-free + reg1 I(=2) = diag(2, 10); b = [0, 3*2] = [0, 6] -> [0, 0.6]
    f = np.array([[1.0, 0.0], [0.0, 2.0]])
    got = equations.solve_rows(
        indptr=np.array([0, 2, 3]),
        cols=np.array([0, 1, 1]),
        weight=np.array([1.0, 0.5, 2.0]),
        target=np.array([2.0, 3.0, 3.0]),
        fixed=f,
        reg=np.array([1.0, 2.0]),
    )
    assert got.ravel().tolist() == pytest.approx([1.0, 2.0, 0.0, 0.6])


def test_solve_rows_gram_and_offset() -> None:
    # rank 1: A = gram 5 + w 1 * 1 + reg 1 = 7; b = offset 3 + t 4 * 1 = 7 -> 1
    got = equations.solve_rows(np.array([0, 1]), np.array([0]), np.array([1.0]), np.array([4.0]), np.array([[1.0]]),
                               np.array([1.0]), gram=np.array([[5.0]]), offset=np.array([3.0]))
    assert got.ravel().tolist() == pytest.approx([1.0])


def test_solve_rows_does_not_depend_on_chunking() -> None:
    rng = np.random.default_rng(3)
    f = rng.standard_normal((30, 4))
    lengths = rng.integers(1, 12, size=25)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    cols = rng.integers(0, 30, size=indptr[-1])
    weight, target = rng.random(indptr[-1]), rng.standard_normal(indptr[-1])
    reg = rng.random(25) + 0.1
    whole = equations.solve_rows(indptr, cols, weight, target, f, reg)
    tiny = equations.solve_rows(indptr, cols, weight, target, f, reg, chunk_entries=1)
    assert np.array_equal(whole, tiny)
    # row 7 by its own normal equation
    a, b = indptr[7], indptr[8]
    y = f[cols[a:b]]
    expected = np.linalg.solve(y.T @ (y * weight[a:b, None]) + reg[7] * np.eye(4), y.T @ target[a:b])
    assert whole[7] == pytest.approx(expected)


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="weights must be >= 0"):
        equations.solve_rows(np.array([0, 1]), np.array([0]), np.array([-1.0]), np.array([1.0]), np.ones((1, 1)), np.ones(1))


def test_fold_in_implicit_with_negative_evidence_and_prior() -> None:
    # Y = [[1], [2]], s = [1, -1], alpha 1: c1 = [1, 1], c*p = [2, 0]; n+ = 1 -> lambda 1 * 1^0.5 = 1;
    # prior lambda0 = 2 toward u_bar 3: A = gram 5 + 1 + 4 + 1 + 2 = 13; b = 2*1 + 2*3 = 8
    got = equations.fold_in_implicit(np.array([[1.0], [2.0]]), np.array([1.0, -1.0]), gram=np.array([[5.0]]), alpha=1.0,
                                     reg=1.0, exponent=0.5, offset=np.array([6.0]), extra_reg=2.0)
    assert got.tolist() == pytest.approx([8 / 13])


def test_fold_in_explicit_scales_lambda_by_count_to_the_exponent() -> None:
    # Y = [[1], [1]], t = [1, 2], lambda 2, n = 2, nu = 0.5: A = 2 + 2*sqrt(2); b = 3
    got = equations.fold_in_explicit(np.array([[1.0], [1.0]]), np.array([1.0, 2.0]), reg=2.0, exponent=0.5)
    assert got.tolist() == pytest.approx([3 / (2 + 2 * math.sqrt(2))])
