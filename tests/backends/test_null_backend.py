"""The null backend: registered like the others, computes nothing, the harness still counts everything."""

from __future__ import annotations

from tests.speed_helpers import tiny_spec
from valsuite.backends import HARNESS_ONLY, backend_available, backend_class, backend_names, create_backend
from valsuite.evaluate.runner import RunConfig, run_one


def test_null_is_registered_but_not_in_every_backend_lists():
    assert backend_class("null").name == "null"
    assert backend_available("null") == (True, "")
    assert "null" in HARNESS_ONLY and "null" not in backend_names()
    assert "null" in backend_names(include_harness=True)

def test_null_returns_zeros_and_takes_no_model_time():
    import torch

    with create_backend("null", tiny_spec(), "fp16", "cpu") as backend:
        out, model_ms = backend.infer(torch.ones((5, 3, 32, 32)))
        assert out.shape == (5, 1000) and float(out.abs().sum()) == 0.0
        assert model_ms < 5.0
        assert backend.info().num_params == 0

def test_null_run_counts_every_image_from_jpegs_and_from_the_cache(tiny_dataset, tmp_path):
    for cache in (None, tmp_path / "cache"):
        cfg = RunConfig(network="tiny", backend="null", dataset=tiny_dataset, batch_size=3, workers=0,
                        progress=False, cache=cache)
        outcome = run_one(cfg, tiny_spec())
        assert outcome.record["num_images"] == 7 and outcome.record["backend"] == "null"
        assert len(set(outcome.result.top1)) == 1                     # all-zero outputs: one constant answer
        assert outcome.record["e2e_throughput_img_s"] > 0
        # tied zeros rank nothing: no Prec@1/Prec@5, a note instead
        assert outcome.record["prec1"] is None and outcome.record["prec5"] is None
        assert "null backend" in outcome.record["accuracy_note"]
