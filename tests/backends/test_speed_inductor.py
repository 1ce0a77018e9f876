"""The inductor backend on the CPU: torch.compile matches eager; the AOT package reloads without compiling.

CPU compiles take ~1 minute each on a 2-core machine (gcc), hence `slow`; the option checks are fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.speed_helpers import tiny_spec
from valsuite.backends import BackendOptions, backend_names, create_backend
from valsuite.backends.inductor_backend import _package_stale
from valsuite.errors import ValsuiteError
from valsuite.fileio import sha256_file
from valsuite.options.inductor import InductorOptions


def _x(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, 3, 32, 32), generator=g)


def _eager(x):
    with create_backend("torch", tiny_spec()) as backend:
        return backend.infer(x)[0]


def test_inductor_is_registered():
    assert "inductor" in backend_names()


@pytest.mark.parametrize("precision, options, message", [
    ("fp16", {}, "inductor fp16 runs on CUDA only"),
    ("fp32", {"cuda_graph": True}, "--cuda-graph needs --device cuda"),
    ("fp32", {"inductor": InductorOptions(inductor_mode="fast")}, "--inductor-mode must be one of"),
    ("fp32", {"inductor": InductorOptions(inductor_mode="peak")}, "--inductor-mode peak is for CUDA"),
])
def test_inductor_rejects_what_it_cannot_do(precision, options, message):
    with pytest.raises(ValsuiteError, match=message):
        create_backend("inductor", tiny_spec(), precision, "cpu", BackendOptions(**options))


def test_peak_options_are_inductor_config_names():
    """A misspelt option would only fail at compile time on the GPU machine: check the names here."""
    import torch._inductor.config as config

    from valsuite.backends.inductor_backend import PEAK_OPTIONS

    for name in PEAK_OPTIONS:
        node = config
        for part in name.split("."):
            assert hasattr(node, part), name
            node = getattr(node, part)
    assert PEAK_OPTIONS["max_autotune"] and not PEAK_OPTIONS["triton.cudagraphs"]


def test_stale_package_detection(tmp_path):
    package = tmp_path / "m.pt2"
    key = {"torch": "2.x", "params_sha256": "aa", "precision": "fp32"}
    assert _package_stale(package, None, key) == "missing"
    package.write_bytes(b"package")
    assert _package_stale(package, None, key) == "no readable sidecar"
    facts = {"key": key, "sha256": sha256_file(package)}
    assert _package_stale(package, facts, key) is None
    assert _package_stale(package, facts, key | {"params_sha256": "bb"}) == "params_sha256 changed"
    assert _package_stale(package, facts, key | {"torch": "9"}) == "torch changed"
    package.write_bytes(b"tampered")
    assert "sha256" in _package_stale(package, facts, key)


@pytest.mark.slow
def test_jit_matches_eager_with_a_padded_partial_batch(tmp_path):
    opts = BackendOptions(weights_dir=tmp_path, batch_size=4, inductor=InductorOptions(inductor_mode="jit"))
    with create_backend("inductor", tiny_spec(), "fp32", "cpu", opts) as backend:
        for n in (4, 3):                     # 3: padded to the compiled 4, no second compile
            x = _x(n, seed=n)
            out, ms = backend.infer(x)
            assert out.shape == (n, 1000) and ms > 0
            torch.testing.assert_close(out, _eager(x), rtol=1e-4, atol=1e-4)
        details = backend.info().details
    assert details["mode"] == "jit" and details["dynamic"] is False and details["compile_s"] > 0


@pytest.mark.slow
def test_aot_package_reloads_without_recompiling(tmp_path, monkeypatch):
    opts = BackendOptions(weights_dir=tmp_path, batch_size=4, inductor=InductorOptions(inductor_mode="aot"))
    x = _x(5)
    with create_backend("inductor", tiny_spec(), "fp32", "cpu", opts) as first:
        out_first = first.infer(x)[0]
        info = first.info()
    package = Path(info.artifact)
    assert package == tmp_path / "tiny_seed0_fp32_cpu.pt2" and package.is_file()
    assert info.details["package_reused"] is False and info.details["compile_s"] > 0
    assert info.model_size_mb == pytest.approx(package.stat().st_size / 2**20)

    def no_compile(*a, **kw):
        raise AssertionError("recompiled a package whose sidecar matches")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", no_compile)
    monkeypatch.setattr(torch.export, "export", no_compile)
    with create_backend("inductor", tiny_spec(), "fp32", "cpu", opts) as second:
        for n in (5, 1, 8):                  # dynamic batch: any size up to the package's maximum
            xs = _x(n, seed=n)
            torch.testing.assert_close(second.infer(xs)[0], _eager(xs), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(second.infer(x)[0], out_first)
        details = second.info().details
    assert details["package_reused"] is True and details["compile_s"] == 0.0 and details["load_s"] < 30
