"""Get an engine for a run: reuse a fresh one, rebuild a stale one, or refuse a stale one given by path."""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

from valsuite import __version__, artifacts
from valsuite.errors import ValsuiteError
from valsuite.fileio import read_sidecar, sha256_file
from valsuite.tensorrt.build import BuildOptions, build_engine
from valsuite.tensorrt.cache import engine_path_for, mismatch_reasons, stale_reason
from valsuite.tensorrt.flavour import flavour_of
from valsuite.tensorrt.versions import import_tensorrt

log = logging.getLogger(__name__)


def expected_facts(trt, onnx_path: Path, options: BuildOptions) -> dict:
    """What an engine for this ONNX, flavour, version, targets (or GPU) and options must record."""
    return flavour_of(trt).engine_identity(trt, options.targets) | {
        "onnx_sha256": sha256_file(onnx_path),
        "profile": options.shapes.to_dict(),
        "precision": options.precision,
        "build_options": options.to_dict(),
    }


def ensure_engine(spec, options: BuildOptions, weights_dir: str | Path = "weights",
                  engine_path: str | Path | None = None, precision_options=None, force: bool = False,
                  onnx_path: str | Path | None = None, verbose: bool = False, trt=None) -> tuple[Path, dict]:
    """The engine for spec/precision/profile: reused when its sidecar matches, else (re)built."""
    trt = trt if trt is not None else import_tensorrt()
    if onnx_path is None:
        onnx_path = artifacts.onnx_for(spec, options.precision, weights_dir, options=precision_options)
    onnx_path = Path(onnx_path)
    path = Path(engine_path) if engine_path else engine_path_for(spec.artifact_stem, weights_dir,
                                                                 options.precision, options.shapes)
    facts = expected_facts(trt, onnx_path, options)
    reason = "forced" if force else stale_reason(path, facts)
    if reason is None:
        log.info("reusing TensorRT engine %s", path)
        return path, read_sidecar(path)
    log.info("building %s engine %s (%s)", flavour_of(trt).display, path, reason)
    facts |= {"onnx_path": str(onnx_path), "network": spec.network, "weights": spec.weights_id,
              "valsuite": __version__, "timing_cache": str(options.timing_cache) if options.timing_cache else None,
              "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return path, build_engine(trt, onnx_path, path, options, facts, verbose)


def check_engine_file(engine_path: str | Path, precision: str, trt) -> dict:
    """Sidecar of a user-given engine, or a one-line refusal saying why it cannot be used here.

    An engine of another flavour or version is refused, never loaded: the runtime would reject it
    at best, and valsuite could not say what it contains."""
    path = Path(engine_path)
    if not path.is_file():
        raise ValsuiteError(f"TensorRT engine not found: {path}")
    sidecar = read_sidecar(path)
    if sidecar is None:
        raise ValsuiteError(f"engine {path} has no readable sidecar {path}.json",
                            hint="build it with build_trt.py so that valsuite knows what it contains")
    if sidecar.get("precision") != precision:
        raise ValsuiteError(f"engine {path} was built for {sidecar.get('precision')}, "
                            f"but this run asks for {precision}",
                            hint=f"pass --precision {sidecar.get('precision')} or another engine")
    identity = flavour_of(trt).engine_identity(trt, ())
    # flavour, version and (TensorRT proper) the GPU; RTX targets are checked by runtime_support
    reasons = mismatch_reasons(sidecar, {k: identity[k] for k in ("flavour", "tensorrt_version", "gpu") if k in identity})
    onnx = sidecar.get("onnx_path")
    if onnx and Path(onnx).is_file() and sha256_file(onnx) != sidecar.get("onnx_sha256"):
        reasons.append(f"its ONNX {onnx} changed since the build")
    if sidecar.get("engine_sha256") != sha256_file(path):
        reasons.append("the engine file changed since its sidecar was written")
    if reasons:
        raise ValsuiteError(f"engine {path} is stale: {'; '.join(reasons)}",
                            hint="rebuild it with build_trt.py, or leave out --engine so main.py builds one")
    return sidecar
