"""--inflight: batches submitted ahead are collected in order, every image once, same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.speed_helpers import tiny_spec
from valsuite.backends.base import Backend, BackendInfo
from valsuite.data.loader import ManifestDataset, iterate_batches, make_loader
from valsuite.data.manifest import scan_dataset
from valsuite.errors import ValsuiteError
from valsuite.evaluate.runner import RunConfig, run_one
from valsuite.evaluate.validate import run_validation, top1_array


class LazyBackend(Backend):
    """Computes only when a submitted batch is waited for, like a GPU that is still busy."""

    name = "lazy"

    def _activate(self) -> None:
        self.module = self.spec.build()
        self.waits = []

    def _infer(self, batch):
        return self._submit(batch).wait()

    def _submit(self, batch):
        backend = self

        class Pending:
            def wait(self):
                import torch

                backend.waits.append(int(batch.shape[0]))
                with torch.no_grad():
                    return backend.module(batch), 1.0

        return Pending()

    def info(self) -> BackendInfo:
        return BackendInfo()


@pytest.mark.parametrize("inflight", [1, 2, 5])
def test_inflight_collects_in_order_and_counts_every_image(tiny_dataset, inflight):
    spec = tiny_spec()
    manifest = scan_dataset(tiny_dataset)
    backend = LazyBackend(spec)
    backend.activate()
    loader = make_loader(ManifestDataset(manifest, spec.preprocess), 2, 0)
    result = run_validation(backend, iterate_batches(loader), len(manifest), spec.preprocess, 2,
                            progress=False, inflight=inflight)
    assert result.num_images == 7 and result.indices == list(range(7))
    assert backend.waits[1:] == [2, 2, 2, 1]           # after the prewarm batch, in order, partial last
    assert len(result.latency_all_ms) == 4 - result.warmup_batches
    reference = run_validation(backend, iterate_batches(loader), 7, spec.preprocess, 2, progress=False)
    assert np.array_equal(top1_array(result), top1_array(reference))


def test_inflight_through_run_one_keeps_predictions(tiny_dataset):
    runs = [run_one(RunConfig(network="tiny", dataset=tiny_dataset, batch_size=3, workers=0, progress=False,
                              inflight=n), tiny_spec()) for n in (1, 3)]
    assert np.array_equal(top1_array(runs[0].result), top1_array(runs[1].result))
    assert runs[1].record["inflight"] == 3 and runs[1].record["num_images"] == 7


def test_inflight_below_one_is_a_user_error(tiny_dataset):
    spec = tiny_spec()
    backend = LazyBackend(spec)
    backend.activate()
    with pytest.raises(ValsuiteError, match="--inflight must be at least 1"):
        run_validation(backend, [], 1, spec.preprocess, 1, progress=False, inflight=0)
