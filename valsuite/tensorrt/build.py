"""Build a serialized TensorRT engine from an ONNX, strongly typed, on 10.x and 11.x alike.

Precision lives in the ONNX (FP16 casts, INT8 Q/DQ nodes), so there is one code path and no
weak-typing flags: the network is created with NetworkDefinitionCreationFlag.STRONGLY_TYPED and
the builder config only carries TF32, the optimization level, the workspace limit, the timing
cache, detailed profiling verbosity and the optimization profile. Every function takes the
TensorRT module as `trt`, so tests run this logic against fakes built from the API manifests.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_bytes, sha256_file, write_sidecar
from valsuite.tensorrt.inspector import inspect_engine
from valsuite.tensorrt.profile import ProfileShapes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    precision: str
    shapes: ProfileShapes
    opt_level: int = 3                  # builder_optimization_level, 0..5
    workspace_mb: int | None = None     # None: TensorRT's default (the GPU's memory)
    tf32: bool = False                  # off: FP32 engines stay comparable with the FP32 reference
    timing_cache: Path | None = None

    def to_dict(self) -> dict:
        """The options an engine depends on (the cache's path does not change the engine)."""
        return {"opt_level": self.opt_level, "workspace_mb": self.workspace_mb, "tf32": self.tf32}

    def check(self) -> None:
        if not 0 <= self.opt_level <= 5:
            raise ValsuiteError(f"--build_op_lvl must be 0..5, got {self.opt_level}")
        if self.workspace_mb is not None and self.workspace_mb < 1:
            raise ValsuiteError(f"--workspace must be at least 1 MB, got {self.workspace_mb}")


def make_logger(trt, verbose: bool = False):
    return trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)


def parse_onnx(trt, builder, logger, onnx_path: Path):
    """A strongly typed network parsed from the ONNX; parser errors become one ValsuiteError."""
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        first = errors[0].splitlines()[0] if errors else "no error reported"
        raise ValsuiteError(f"TensorRT cannot parse {onnx_path}: {first}"
                            + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
    return network, parser


def network_input(network, shapes: ProfileShapes):
    """The single image input; its C, H, W must match the profile, its batch may be dynamic."""
    if network.num_inputs != 1:
        raise ValsuiteError(f"expected an ONNX with one input, this one has {network.num_inputs}")
    tensor = network.get_input(0)
    dims = tuple(tensor.shape)
    if len(dims) != 4 or tuple(dims[1:]) != tuple(shapes.sample_shape):
        raise ValsuiteError(f"ONNX input {tensor.name} has shape {dims}, the profile needs "
                            f"(N, {', '.join(map(str, shapes.sample_shape))})")
    if dims[0] != -1 and (shapes.min[0] != dims[0] or shapes.max[0] != dims[0]):
        raise ValsuiteError(f"ONNX input {tensor.name} has a fixed batch of {dims[0]}; "
                            f"build from the dynamic-batch ONNX for the profile {shapes.tag()}")
    return tensor


def configure_builder(trt, builder, network, options: BuildOptions, timing_cache_bytes: bytes = b""):
    """BuildOptions -> IBuilderConfig (with the optimization profile and the timing cache)."""
    options.check()
    config = builder.create_builder_config()
    if options.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    if options.tf32:
        config.set_flag(trt.BuilderFlag.TF32)
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    config.builder_optimization_level = options.opt_level
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    timing_cache = config.create_timing_cache(timing_cache_bytes)
    config.set_timing_cache(timing_cache, False)
    tensor = network_input(network, options.shapes)
    if -1 in tuple(tensor.shape):
        profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, options.shapes.min, options.shapes.opt, options.shapes.max)
        config.add_optimization_profile(profile)
    return config


def _read_timing_cache(path: Path | None) -> bytes:
    if path is None or not Path(path).is_file():
        return b""
    return Path(path).read_bytes()


def _save_timing_cache(config, path: Path | None) -> None:
    if path is None:
        return
    timing_cache = config.get_timing_cache()
    atomic_write_bytes(path, bytes(timing_cache.serialize()))


def build_plan(trt, onnx_path: Path, options: BuildOptions, verbose: bool = False) -> tuple[bytes, str]:
    """(serialized engine bytes, input tensor name); the timing cache file is read and updated."""
    logger = make_logger(trt, verbose)
    builder = trt.Builder(logger)
    network, _parser = parse_onnx(trt, builder, logger, onnx_path)
    input_name = network_input(network, options.shapes).name
    config = configure_builder(trt, builder, network, options, _read_timing_cache(options.timing_cache))
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ValsuiteError(f"TensorRT could not build an engine from {onnx_path} "
                            f"(its log above says why; --workspace or --build_op_lvl may help)")
    _save_timing_cache(config, options.timing_cache)
    return bytes(plan), input_name


def describe_plan(trt, plan: bytes, input_name: str, shapes: ProfileShapes) -> dict:
    """Deserialize once to read the layer count and the inspector's per-layer precisions."""
    runtime = trt.Runtime(make_logger(trt))
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise ValsuiteError("TensorRT built an engine it cannot deserialize (see its log)")
    context = engine.create_execution_context()
    context.set_input_shape(input_name, shapes.opt)  # lets the inspector resolve dynamic formats
    summary = inspect_engine(trt, engine, context)
    return {"num_layers": engine.num_layers, "num_io_tensors": engine.num_io_tensors, "layers": summary}


def build_engine(trt, onnx_path: Path, engine_path: Path, options: BuildOptions, facts: dict,
                 verbose: bool = False) -> dict:
    """Build, write the engine atomically, then its sidecar (facts + what the build measured)."""
    start = time.perf_counter()
    plan, input_name = build_plan(trt, Path(onnx_path), options, verbose)
    build_s = time.perf_counter() - start
    described = describe_plan(trt, plan, input_name, options.shapes)
    atomic_write_bytes(engine_path, plan)
    sidecar = dict(facts) | {
        "engine_sha256": sha256_file(engine_path),
        "engine_size_bytes": len(plan),
        "build_time_s": round(build_s, 3),
        "input_name": input_name,
        "num_layers": described["num_layers"],
        "layer_precisions": described["layers"]["by_precision"],
        "layer_types": described["layers"]["by_type"],
        "inspector_detailed": described["layers"]["detailed"],
        "layers": described["layers"]["layers"],
    }
    write_sidecar(engine_path, sidecar)
    log.info("built %s in %.1f s (%d layers, %s)", engine_path, build_s, sidecar["num_layers"],
             sidecar["layer_precisions"])
    return sidecar
