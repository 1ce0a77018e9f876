"""API conformance: every TensorRT name valsuite uses exists in each manifest that reaches it."""

from __future__ import annotations

import re

import shutil
from pathlib import Path

import pytest

from tools.trt_apicheck import check_files, check_source, load_manifests, tensorrt_modules

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT.parent / "shared" / "trt-api"
TRT_VERSIONS = {"10.8.0.43", "10.13.3.9", "10.16.1.11", "11.4.0.106"}
RTX = "1.7.1.116"  # TensorRT for RTX: module tensorrt_rtx
EXPECTED_VERSIONS = TRT_VERSIONS | {RTX}

pytestmark = pytest.mark.skipif(not MANIFESTS.is_dir(), reason=f"TensorRT API manifests not found at {MANIFESTS}")


@pytest.fixture(scope="module")
def manifests():
    found = load_manifests(MANIFESTS)
    assert {m.version for m in found} >= EXPECTED_VERSIONS
    return found


def test_valsuite_tensorrt_calls_exist_in_every_manifest(manifests):
    report = check_files(tensorrt_modules(ROOT), manifests, ROOT)
    assert report.violations == [], "\n".join(map(str, report.violations))
    checked = report.checked()
    # the tracker must actually see the calls that matter (a checker that sees nothing passes vacuously)
    for name in ("NetworkDefinitionCreationFlag.STRONGLY_TYPED", "Builder.create_network", "OnnxParser.parse_from_file",
                 "IBuilderConfig.clear_flag", "BuilderFlag.TF32", "IBuilderConfig.builder_optimization_level",
                 "IBuilderConfig.profiling_verbosity", "IBuilderConfig.set_timing_cache", "IOptimizationProfile.set_shape",
                 "Builder.build_serialized_network", "Runtime.deserialize_cuda_engine",
                 "ICudaEngine.create_execution_context", "ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name",
                 "ICudaEngine.get_tensor_mode", "TensorIOMode.INPUT", "IExecutionContext.set_input_shape",
                 "IExecutionContext.set_tensor_address", "IExecutionContext.execute_async_v3",
                 "EngineInspector.get_engine_information", "LayerInformationFormat.JSON",
                 "INetworkDefinition.get_layer", "ILayer.get_output_type", "ILayer.type",
                 "IBuilderConfig.set_compute_capability", "ComputeCapability.SM86", "ICudaEngine.create_runtime_config",
                 "IRuntimeConfig.set_runtime_cache", "IRuntimeConfig.cuda_graph_strategy",
                 "CudaGraphStrategy.WHOLE_GRAPH_CAPTURE", "IRuntimeCache.deserialize"):
        assert name in checked, f"the checker did not see {name}"
    # no version branches today: shared code reaches all five; a flavour class reaches its own flavour
    reach = {u.versions for u in report.uses if not u.probe}
    assert reach == {frozenset(EXPECTED_VERSIONS), frozenset(TRT_VERSIONS), frozenset({RTX})}
    rtx_only = {u.text for u in report.uses if u.versions == frozenset({RTX})}
    assert "IBuilderConfig.set_compute_capability" in rtx_only and "IBuilderConfig.set_timing_cache" not in rtx_only
    trt_only = {u.text for u in report.uses if u.versions == frozenset(TRT_VERSIONS)}
    assert "IBuilderConfig.set_timing_cache" in trt_only


def test_no_weak_typing_anywhere(manifests):
    report = check_files(tensorrt_modules(ROOT), manifests, ROOT)
    banned = {"BuilderFlag.FP16", "BuilderFlag.INT8", "BuilderFlag.BF16", "IBuilderConfig.int8_calibrator",
              "Builder.platform_has_fast_fp16", "Builder.platform_has_fast_int8"}
    assert not banned & report.checked()


def test_every_module_that_touches_tensorrt_is_checked():
    checked = {p.resolve() for p in tensorrt_modules(ROOT)}
    for path in (ROOT / "valsuite").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        # `trt.X` as code, not inside a name like "model.trt.cache"
        uses_trt = re.search(r"(?<![\w.])trt\.[A-Za-z_]", text.replace("valsuite.tensorrt", "")) is not None
        if "import tensorrt" in text or "import_tensorrt()" in text or uses_trt:
            assert path.resolve() in checked, f"{path} calls TensorRT but the API check does not read it"


def _plant(tmp_path: Path, anchor: str, planted: str) -> Path:
    """A copy of build.py with `planted` inserted before the line containing `anchor`."""
    source = (ROOT / "valsuite" / "tensorrt" / "build.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    index = next(i for i, line in enumerate(lines) if anchor in line)
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index:index] = [indent + line for line in planted.splitlines()]
    target = tmp_path / "build.py"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _bad(report) -> set[tuple[str, str]]:
    return {(v.use.text, v.version) for v in report.violations}


def test_planted_fp16_flag_is_reported_on_11x(manifests, tmp_path):
    path = _plant(tmp_path, "config.builder_optimization_level =", "config.set_flag(trt.BuilderFlag.FP16)")
    bad = _bad(check_files([path], manifests))
    assert ("BuilderFlag.FP16", "11.4.0.106") in bad
    assert not any(v.startswith("10.") for _, v in bad)  # 10.x still has it


def test_planted_int8_calibrator_is_reported_on_11x(manifests, tmp_path):
    path = _plant(tmp_path, "config.builder_optimization_level =", "config.int8_calibrator = None")
    assert ("IBuilderConfig.int8_calibrator", "11.4.0.106") in _bad(check_files([path], manifests))


def test_planted_removed_api_on_a_self_attribute_and_a_return_value(manifests, tmp_path):
    path = _plant(tmp_path, "return config", "config.get_timing_cache().reset()\n"
                                             "size = builder.platform_has_fast_fp16")
    bad = _bad(check_files([path], manifests))
    assert ("Builder.platform_has_fast_fp16", "11.4.0.106") in bad
    assert not any(text == "ITimingCache.reset" for text, _ in bad)  # exists everywhere


def test_removed_api_behind_a_version_branch_is_accepted(manifests, tmp_path):
    planted = ("if trt_major() < 11:\n"
               "    config.set_flag(trt.BuilderFlag.FP16)\n"
               "else:\n"
               "    config.set_flag(trt.BuilderFlag.TF32)")
    path = _plant(tmp_path, "config.builder_optimization_level =", planted)
    report = check_files([path], manifests)
    # TensorRT-RTX 1.7 also satisfies `trt_major() < 11` (as at run time) and has no weak typing:
    # flavour differences belong in the flavour classes, not in version branches
    assert _bad(report) == {("BuilderFlag.FP16", RTX)}
    assert "TensorRT-RTX 1.7.1.116" in str(report.violations[0])
    fp16 = [u for u in report.uses if u.text == "BuilderFlag.FP16"]
    assert fp16 and all(u.versions == frozenset({"10.8.0.43", "10.13.3.9", "10.16.1.11", RTX}) for u in fp16)


def test_flavour_classes_are_checked_against_their_own_manifests(manifests):
    source = ("class RTXThing:\n"
              "    module_name = 'tensorrt_rtx'\n"
              "    def configure(self, trt, config):\n"
              "        config.set_compute_capability(trt.ComputeCapability.SM86, 0)\n"
              "class TensorRTThing:\n"
              "    module_name = 'tensorrt'\n"
              "    def configure(self, trt, config):\n"
              "        config.set_compute_capability(trt.ComputeCapability.SM86, 0)\n"
              "        config.set_flag(trt.BuilderFlag.INT8)\n")
    report = check_source(source, "x.py", manifests)
    bad = _bad(report)
    assert not any(v == RTX for _, v in bad)  # the RTX class is only checked against TensorRT-RTX
    assert ("IBuilderConfig.set_compute_capability", "10.8.0.43") in bad  # TensorRT has no CC targets
    assert ("BuilderFlag.INT8", "11.4.0.106") in bad and ("BuilderFlag.INT8", "10.8.0.43") not in bad


def test_wrong_version_branch_is_still_reported(manifests, tmp_path):
    planted = ("if trt_major() >= 11:\n"
               "    config.set_flag(trt.BuilderFlag.FP16)")
    path = _plant(tmp_path, "config.builder_optimization_level =", planted)
    assert _bad(check_files([path], manifests)) == {("BuilderFlag.FP16", "11.4.0.106")}


@pytest.mark.parametrize("condition, reaching", [
    ("trt_version() >= (10, 13)", {"10.13.3.9", "10.16.1.11", "11.4.0.106"}),
    ("(10, 16) > trt_version()", {"10.8.0.43", "10.13.3.9", RTX}),
    ("not trt_major() >= 11", {"10.8.0.43", "10.13.3.9", "10.16.1.11", RTX}),
    ("trt_major() == 10 and trt_version() < (10, 16)", {"10.8.0.43", "10.13.3.9"}),
])
def test_version_conditions(manifests, condition, reaching):
    source = f"def f(parser):\n    if {condition}:\n        parser.load_model_proto(b'')\n"
    report = check_source(source, "x.py", manifests)
    (use,) = [u for u in report.uses if u.text == "OnnxParser.load_model_proto"]
    assert set(use.versions) == reaching
    bad_versions = {v.version for v in report.violations}
    assert bad_versions == reaching & {"10.8.0.43"}  # load_model_proto arrived after 10.8


def test_unknown_conditions_do_not_hide_anything(manifests):
    source = "def f(config, flag):\n    if flag:\n        config.int8_calibrator = None\n"
    assert {v.version for v in check_source(source, "x.py", manifests).violations} == {"11.4.0.106", RTX}


def test_tracks_aliases_imports_and_chained_calls(manifests):
    source = ("import tensorrt as nv\n"
              "def f(path):\n"
              "    b = nv.Builder(nv.Logger(nv.Logger.WARNING))\n"
              "    cfg = b.create_builder_config()\n"
              "    cfg.int8_calibrator = None\n"
              "    nv.Runtime(None).deserialize_cuda_engine(b'').device_memory_size\n"
              "    getattr(cfg, 'set_calibration_profile')\n"
              "    getattr(b, 'platform_has_fast_fp16', None)\n")
    bad = _bad(check_source(source, "x.py", manifests))
    assert ("IBuilderConfig.int8_calibrator", "11.4.0.106") in bad
    assert ("ICudaEngine.device_memory_size", "11.4.0.106") in bad
    assert ("IBuilderConfig.set_calibration_profile", "11.4.0.106") in bad
    assert not any(text == "Builder.platform_has_fast_fp16" for text, _ in bad)  # a probe with a default


def test_unknown_module_name_is_reported(manifests):
    source = "def f(trt):\n    return trt.IInt8EntropyCalibrator2\n"
    assert _bad(check_source(source, "x.py", manifests)) == {("trt.IInt8EntropyCalibrator2", "11.4.0.106"),
                                                             ("trt.IInt8EntropyCalibrator2", RTX)}


def test_cli_passes_on_the_repository(capsys):
    from tools.trt_apicheck import main

    assert main(["--manifests", str(MANIFESTS)]) == 0
    out = capsys.readouterr().out
    assert "TensorRT 11.4.0.106" in out and "TensorRT-RTX 1.7.1.116" in out and "0 missing" in out
    assert all(line.endswith(", 0 missing") for line in out.strip().splitlines())


def test_cli_fails_on_a_planted_copy(tmp_path, capsys):
    from tools.trt_apicheck import main

    planted = tmp_path / "planted.py"
    shutil.copy(ROOT / "valsuite" / "tensorrt" / "build.py", planted)
    planted.write_text(planted.read_text().replace("config.clear_flag(trt.BuilderFlag.TF32)",
                                                   "config.clear_flag(trt.BuilderFlag.INT8)"))
    assert main(["--manifests", str(MANIFESTS), str(planted)]) == 1
    assert "BuilderFlag.INT8 does not exist in TensorRT 11.4.0.106" in capsys.readouterr().out


def test_naming_convention_and_its_exceptions(manifests):
    source = ("import argparse\n"
              "def build_parser() -> argparse.ArgumentParser:\n"
              "    return argparse.ArgumentParser()\n"
              "def f(parser: argparse.ArgumentParser, profile):\n"
              "    parser.add_argument('-x')\n"
              "    p2 = build_parser()\n"
              "    p2.parse_args()\n"
              "    profile.min\n")  # unannotated: still an IOptimizationProfile, which has no .min
    bad = _bad(check_source(source, "x.py", manifests))
    assert {text for text, _ in bad} == {"IOptimizationProfile.min"}
