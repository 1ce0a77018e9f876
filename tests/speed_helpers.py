"""A tiny, seeded classifier spec for fast CPU tests of the speed pipeline (32x32 crops)."""

from __future__ import annotations

from valsuite.data.preprocess import Preprocess
from valsuite.models.spec import ModelSpec


def _tiny():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 8, 1000))


def tiny_spec(interpolation: str = "bilinear") -> ModelSpec:
    return ModelSpec("tiny", "seed0", Preprocess(resize_size=36, crop_size=32, interpolation=interpolation),
                     _tiny, source="tests: seeded tiny CNN")
