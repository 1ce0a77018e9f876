"""Build a serialized TensorRT engine from an ONNX, strongly typed, on every flavour and version.

Precision lives in the ONNX (FP16 casts, INT8 Q/DQ nodes), so there is one code path and no
weak-typing flags: the network is created with NetworkDefinitionCreationFlag.STRONGLY_TYPED and
the builder config only carries TF32, the optimization level, the workspace limit, detailed
profiling verbosity and the optimization profile; what differs between TensorRT and TensorRT-RTX
(timing cache or compute-capability targets) comes from the flavour (valsuite.tensorrt.flavour).
Every function takes the module as `trt` (real tensorrt, real tensorrt_rtx, or a fake built from
an API manifest). The sidecar's layer facts are read from the parsed network definition; facts
that need the built engine deserialized (which needs a GPU the flavour runs on) say so instead.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from valsuite.errors import ValsuiteError
from valsuite.fileio import atomic_write_bytes, sha256_file, write_sidecar
from valsuite.tensorrt.flavour import Flavour, flavour_of, local_gpu
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
    timing_cache: Path | None = None    # TensorRT proper only (TensorRT-RTX has none)
    targets: tuple[str, ...] = ()       # resolved compute capabilities (TensorRT-RTX); () = its default

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


def configure_builder(trt, builder, network, options: BuildOptions):
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
    flavour_of(trt).configure(trt, config, options.targets, options.timing_cache)
    tensor = network_input(network, options.shapes)
    if -1 in tuple(tensor.shape):
        profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, options.shapes.min, options.shapes.opt, options.shapes.max)
        config.add_optimization_profile(profile)
    return config


_DTYPES = {"FLOAT": "fp32", "HALF": "fp16", "BF16": "bf16", "INT8": "int8", "UINT8": "uint8", "INT32": "int32",
           "INT64": "int64", "BOOL": "bool", "FP8": "fp8", "FP4": "fp4", "INT4": "int4", "E8M0": "e8m0"}


def network_facts(trt, network) -> dict:
    """Layer count, types, per-layer precision (output type) and Q/DQ layers of the parsed network.

    This is the network definition TensorRT parsed from the ONNX, before the builder fuses layers:
    what every flavour can report without a GPU. In strongly typed mode a layer's output type is
    the precision the ONNX asked for."""
    layers = []
    for index in range(network.num_layers):
        layer: trt.ILayer = network.get_layer(index)
        dtype = layer.get_output_type(0).name if layer.num_outputs else None
        layers.append({"name": layer.name, "type": layer.type.name, "precision": _DTYPES.get(dtype, str(dtype).lower())})
    types = Counter(row["type"] for row in layers)
    return {
        "num_layers": network.num_layers,
        "layer_types": dict(sorted(types.items())),
        "layer_precisions": dict(sorted(Counter(row["precision"] for row in layers).items())),
        "qdq_layers": {"quantize": types.get("QUANTIZE", 0), "dequantize": types.get("DEQUANTIZE", 0)},
        "layers": layers,
    }


def build_plan(trt, onnx_path: Path, options: BuildOptions, verbose: bool = False) -> tuple[bytes, str, dict]:
    """(serialized engine bytes, input tensor name, network facts); the flavour's caches are updated."""
    flavour = flavour_of(trt)
    logger = make_logger(trt, verbose)
    builder = trt.Builder(logger)
    network, _parser = parse_onnx(trt, builder, logger, onnx_path)
    input_name = network_input(network, options.shapes).name
    facts = network_facts(trt, network)
    config = configure_builder(trt, builder, network, options)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ValsuiteError(f"{flavour.display} could not build an engine from {onnx_path} "
                            f"(its log above says why; --workspace or --build_op_lvl may help)")
    flavour.after_build(trt, config, options.timing_cache)
    return bytes(plan), input_name, facts


def describe_plan(trt, plan: bytes, input_name: str, shapes: ProfileShapes) -> dict:
    """Deserialize once to read the engine's layer count and the inspector's per-layer precisions."""
    runtime = trt.Runtime(make_logger(trt))
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise ValsuiteError("TensorRT built an engine it cannot deserialize (see its log)")
    context = engine.create_execution_context()
    context.set_input_shape(input_name, shapes.opt)  # lets the inspector resolve dynamic formats
    summary = inspect_engine(trt, engine, context)
    return {"num_layers": engine.num_layers, "num_io_tensors": engine.num_io_tensors, "layers": summary}


def inspect_built(trt, flavour: Flavour, plan: bytes, input_name: str, options: BuildOptions) -> dict:
    """The engine inspector's facts when this machine can deserialize the engine, else why not."""
    support = flavour.runtime_support(local_gpu(), {"compute_capability_targets": list(options.targets) or "default"})
    if not support.ok:
        return {"done": False, "reason": f"engine inspection needs a GPU the flavour runs engines on: {support.line}"}
    described = describe_plan(trt, plan, input_name, options.shapes)
    layers = described["layers"]
    return {"done": True, "num_layers": described["num_layers"], "layer_precisions": layers["by_precision"],
            "layer_types": layers["by_type"], "detailed": layers["detailed"], "layers": layers["layers"]}


def build_engine(trt, onnx_path: Path, engine_path: Path, options: BuildOptions, facts: dict,
                 verbose: bool = False) -> dict:
    """Build, write the engine atomically, then its sidecar (facts + what the build measured)."""
    flavour = flavour_of(trt)
    start = time.perf_counter()
    plan, input_name, network = build_plan(trt, Path(onnx_path), options, verbose)
    build_s = time.perf_counter() - start
    inspection = inspect_built(trt, flavour, plan, input_name, options)
    atomic_write_bytes(engine_path, plan)
    sidecar = dict(facts) | {
        "engine_sha256": sha256_file(engine_path),
        "engine_size_bytes": len(plan),
        "build_time_s": round(build_s, 3),
        "input_name": input_name,
        "network_definition": network,
        "engine_inspection": inspection,
        # the built engine's layers (after fusion) when it could be inspected here
        "num_layers": inspection.get("num_layers"),
        "layer_precisions": inspection.get("layer_precisions"),
        "layer_types": inspection.get("layer_types"),
    }
    write_sidecar(engine_path, sidecar)
    log.info("built %s with %s in %.1f s (%d network layers, %d Q/DQ; %s)", engine_path, flavour.display, build_s,
             network["num_layers"], sum(network["qdq_layers"].values()),
             "engine inspected" if inspection["done"] else "engine not inspected: no GPU it runs on")
    return sidecar
