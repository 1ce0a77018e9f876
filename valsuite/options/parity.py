"""Parity group (--compare): tolerances, candidates, inputs, thresholds, localisation."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.errors import ValsuiteError
from valsuite.options.base import OptionGroup, option

# about a minute on 2 CPU cores for the default job's candidates (measured: 600 samples 72 s,
# 200 samples 31 s, efficientnet_lite0, onnxruntime fp32/fp16 + inductor fp32, warm caches)
DEFAULT_SAMPLES = 500


@dataclass
class ParityOptions(OptionGroup):
    TITLE = "parity (--compare)"

    rtol: float = option("--rtol", "-rtol", default=1e-3, type=float,
                         help="relative tolerance of |a-b| <= atol + rtol*|b| (default: %(default)g)")
    atol: float = option("--atol", "-atol", default=1e-8, type=float, help="absolute tolerance (default: %(default)g)")
    candidates: str | None = option("--candidates",
                                    help="comma list of backend:precision, e.g. onnxruntime:fp32,onnxruntime:int8,"
                                         "tensorrt:fp16, and other tools' files: onnxruntime:file=PATH (an ONNX), "
                                         "tensorrt:engine=PATH (an engine; tensorrt:int8:engine=PATH when it has no "
                                         "valsuite sidecar). --compare: default every backend/precision this machine "
                                         "can run; -v: the rows, instead of --backend/--precision")
    inputs: str | None = option("--inputs", choices=("random", "images"),
                                help="seeded random tensors (default) or the validation images of --dataset")
    val_dataset: bool = option("--val_dataset", "--val-dataset", default=False,
                               help="same as --inputs images: Prec@1/Prec@5 and the images whose top-1 changed")
    fail_under: str | None = option("--fail-under", "--fail_under",
                                    help="exit 1 when a metric is below a limit: METRIC=VALUE or "
                                         "BACKEND:PRECISION:METRIC=VALUE, comma separated; metrics: top1_agreement, "
                                         "top5_overlap, isclose (equality), prec1, prec5, delta_prec1, delta_prec5")
    localize: bool = option("--localize", default=False,
                            help="for ONNX candidates, name the first nodes whose outputs leave the tolerance")
    localize_samples: int = option("--localize-samples", default=4, type=int,
                                   help="inputs --localize runs (default: %(default)s)")
    localize_top: int = option("--localize-top", default=5, type=int, help="nodes --localize lists (default: %(default)s)")
    localize_bad_pct: float = option("--localize-bad-pct", default=1.0, type=float,
                                     help="a tensor exceeds the tolerance when more than this %% of its elements are "
                                          "outside it (default: %(default)s)")

    def validate(self) -> "ParityOptions":
        if self.inputs == "random" and self.val_dataset:
            raise ValsuiteError("--inputs random and --val_dataset contradict each other")
        return self

    @property
    def wants_images(self) -> bool:
        return self.val_dataset or self.inputs == "images"
