"""Parity statistics on hand-made outputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from valsuite.parity.statistics import ParityAccumulator, compare_outputs, ranked_classes


def _ramp(n: int, classes: int) -> np.ndarray:
    """Distinct logits per row, class (i + row) % classes ranked highest... in a shuffled order."""
    rng = np.random.default_rng(1)
    return np.stack([rng.permutation(classes).astype(np.float64) for _ in range(n)])


def test_identical_outputs_are_perfect():
    ref = _ramp(7, 20)
    res = compare_outputs(ref, ref.copy(), batch_size=3)
    assert res["num_samples"] == 7 and res["num_elements"] == 140
    assert res["isclose_pct"] == 100.0
    assert res["top1_agreement_pct"] == 100.0 and res["top5_overlap_pct"] == 100.0
    assert res["abs_error"]["max"] == 0.0 and res["abs_error"]["median"] == 0.0
    assert [r["disagreement_pct"] for r in res["ranks"]] == [0.0] * 10
    assert [r["mae"] for r in res["ranks"]] == [0.0] * 10


def test_one_differing_sample_in_a_batch_is_counted():
    """Only sample 5 of a batch of 8 differs: its top-1 and top-2 swap. The seed's method
    (sample 0 of each batch) would report full agreement."""
    ref = _ramp(8, 30)
    cand = ref.copy()
    order = ranked_classes(ref, 3)[5]
    first, second = order[0], order[1]
    cand[5, first], cand[5, second] = ref[5, second], ref[5, first]
    acc = ParityAccumulator(rtol=1e-3)
    changed = acc.update(ref, cand)
    res = acc.result()
    assert changed.tolist() == [i == 5 for i in range(8)]
    assert res["top1_agreement_pct"] == pytest.approx(100 * 7 / 8)
    assert res["top1_changed"] == 1
    ranks = res["ranks"]
    assert ranks[0]["disagreement_pct"] == pytest.approx(12.5)
    assert ranks[1]["disagreement_pct"] == pytest.approx(12.5)
    assert all(r["disagreement_pct"] == 0 for r in ranks[2:])
    gap = abs(ref[5, first] - ref[5, second])  # both swapped logits move by the gap
    assert ranks[0]["mae"] == pytest.approx(gap / 8)
    assert ranks[1]["mae"] == pytest.approx(gap / 8)
    assert ranks[2]["mae"] == 0.0
    assert res["top5_overlap_pct"] == 100.0  # a swap inside the top-5 keeps the set
    # 2 of 240 elements differ, by more than rtol * |ref| (logits are >= 1 apart)
    assert res["isclose_pct"] == pytest.approx(100 * 238 / 240)
    # seed's method: sample 0 only
    seed = compare_outputs(ref[:1], cand[:1])
    assert seed["top1_agreement_pct"] == 100.0


def test_elementwise_known_answers():
    ref = np.ones((2, 5))
    offsets = np.array([[0.0, 0.0005, 0.001, 0.002, 0.01],
                        [0.0, -0.0009, -0.0011, 0.5, 0.0]])
    cand = ref + offsets
    res = compare_outputs(ref, cand, rtol=1e-3, atol=0.0)
    # within 1e-3 * 1: 0, .0005, .001 (boundary, |diff| may round), 0, -.0009, 0 -> 6 of 10 (.001 edge below)
    expected_close = np.count_nonzero(np.abs(cand - ref) <= 1e-3 * np.abs(ref))
    assert res["isclose_pct"] == pytest.approx(10 * expected_close)
    assert expected_close in (5, 6)
    diffs = np.abs(cand - ref).ravel()
    assert res["abs_error"]["mean"] == pytest.approx(diffs.mean())
    assert res["abs_error"]["median"] == pytest.approx(np.median(diffs), rel=1e-6)
    assert res["abs_error"]["p99"] == pytest.approx(np.percentile(diffs, 99), rel=1e-6)
    assert res["abs_error"]["max"] == pytest.approx(0.5)
    assert res["rel_error"]["max"] == pytest.approx(0.5)  # ref is 1 everywhere
    assert res["abs_error"]["quantiles"] == "exact"


def test_isclose_matches_numpy_and_atol_counts():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((50, 40))
    cand = ref + rng.standard_normal((50, 40)) * 1e-3
    for rtol, atol in ((1e-3, 1e-8), (1e-2, 0.0), (0.0, 1e-3)):
        res = compare_outputs(ref, cand, rtol=rtol, atol=atol, batch_size=7)
        expected = 100 * np.isclose(cand, ref, rtol=rtol, atol=atol).mean()
        assert res["isclose_pct"] == pytest.approx(expected)


def test_relative_error_leaves_out_zero_reference():
    ref = np.array([[0.0, 2.0, 4.0]])
    cand = np.array([[1.0, 3.0, 4.0]])
    res = compare_outputs(ref, cand)
    assert res["rel_error"]["excluded_zero_reference"] == 1
    assert res["rel_error"]["count"] == 2
    assert res["rel_error"]["mean"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert res["abs_error"]["mean"] == pytest.approx(2 / 3)


def test_top5_overlap_and_rank_mae():
    ref = np.tile(np.arange(10, 0, -1, dtype=np.float64), (2, 1))  # classes 0..9 ranked 0 first
    cand = ref.copy()
    # sample 1: classes 8 and 9 jump to the top -> top-5 of cand = {8, 9, 0, 1, 2}: 3 shared
    cand[1, 8], cand[1, 9] = 20.0, 19.0
    res = compare_outputs(ref, cand)
    assert res["top5_overlap_pct"] == pytest.approx(100 * (5 + 3) / 10)
    assert res["top1_agreement_pct"] == 50.0
    # every rank of sample 1 shifts by two -> all 10 ranks disagree for it
    assert [r["disagreement_pct"] for r in res["ranks"]] == [50.0] * 10
    # MAE at rank k uses the reference's k-th class: ranks 9 and 10 (classes 8, 9) moved
    maes = [r["mae"] for r in res["ranks"]]
    assert maes[:8] == [0.0] * 8
    assert maes[8] == pytest.approx((20.0 - 2.0) / 2)
    assert maes[9] == pytest.approx((19.0 - 1.0) / 2)


@pytest.mark.parametrize("batch", [1, 3, 16, 100])
def test_streaming_equals_whole(batch):
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((100, 50)).astype(np.float32)
    cand = ref + rng.standard_normal((100, 50)).astype(np.float32) * 0.05
    whole = compare_outputs(ref, cand)
    split = compare_outputs(ref, cand, batch_size=batch)
    assert split["top1_agreement_pct"] == whole["top1_agreement_pct"]
    assert split["isclose_pct"] == whole["isclose_pct"]
    assert split["abs_error"]["median"] == pytest.approx(whole["abs_error"]["median"])
    assert split["abs_error"]["mean"] == pytest.approx(whole["abs_error"]["mean"])
    for got, want in zip(split["ranks"], whole["ranks"]):
        assert got["disagreement_pct"] == want["disagreement_pct"]
        assert got["mae"] == pytest.approx(want["mae"])
    assert 0 < whole["top1_agreement_pct"] < 100


def test_histogram_quantiles_when_exact_limit_is_passed():
    rng = np.random.default_rng(7)
    ref = rng.standard_normal((400, 100))
    cand = ref + rng.standard_normal((400, 100)) * 1e-2
    exact = ParityAccumulator()
    approx = ParityAccumulator(exact_limit=1000)
    for start in range(0, 400, 64):
        exact.update(ref[start:start + 64], cand[start:start + 64])
        approx.update(ref[start:start + 64], cand[start:start + 64])
    e, a = exact.result()["abs_error"], approx.result()["abs_error"]
    assert e["quantiles"] == "exact" and a["quantiles"].startswith("histogram")
    assert a["median"] == pytest.approx(e["median"], rel=5e-3)
    assert a["p99"] == pytest.approx(e["p99"], rel=5e-3)
    assert a["mean"] == pytest.approx(e["mean"]) and a["max"] == e["max"]


def test_nonfinite_candidate_is_reported_not_hidden():
    ref = np.ones((1, 4))
    cand = np.array([[1.0, np.nan, np.inf, 1.0]])
    res = compare_outputs(ref, cand)
    assert res["abs_error"]["nonfinite"] == 2
    assert res["isclose_pct"] == 50.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        ParityAccumulator().update(np.zeros((2, 3)), np.zeros((3, 3)))
