"""timm models by name (`timm:NAME`), an optional extra: a local checkpoint or --random-weights.

The preprocessing comes from timm's pretrained config of that model (input size, crop_pct,
interpolation, mean/std), exactly as timm's own validate.py evaluates it: resize the shorter side
to floor(size / crop_pct), centre-crop `size`. The config is written into the record. timm
downloads weights from the Hugging Face Hub; valsuite never does at run time, so pretrained
weights come as a local file (`--weights PATH`, .pth/.pt/.bin/.safetensors).
"""

from __future__ import annotations

import math
from pathlib import Path

from valsuite.data.preprocess import Preprocess
from valsuite.errors import ValsuiteError
from valsuite.models.spec import ModelSpec

PREFIX = "timm:"
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".pth.tar")


def _timm():
    try:
        import timm
    except ImportError as exc:
        raise ValsuiteError("timm networks need the timm package", hint="pip install timm") from exc
    return timm


def pretrained_config(name: str) -> dict:
    """timm's pretrained config of `name` as plain facts (what the record carries)."""
    timm = _timm()
    if not timm.is_model(name):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=1, cutoff=0.6)
        raise ValsuiteError(f"timm has no model {name!r}", hint=f"did you mean timm:{close[0]}?" if close else
                            "see timm.list_models()")
    cfg = timm.get_pretrained_cfg(name)
    if cfg is None:
        raise ValsuiteError(f"timm model {name!r} has no pretrained config (preprocessing unknown)")
    return {"input_size": list(cfg.input_size), "crop_pct": float(cfg.crop_pct),
            "crop_mode": cfg.crop_mode, "interpolation": cfg.interpolation,
            "mean": [float(m) for m in cfg.mean], "std": [float(s) for s in cfg.std],
            "num_classes": int(cfg.num_classes), "timm": timm.__version__}


def preprocess_from_config(name: str, cfg: dict) -> Preprocess:
    """timm's eval transform (transforms_factory, crop_mode 'center') as a Preprocess."""
    _, height, width = cfg["input_size"]
    if height != width or cfg["crop_mode"] != "center":
        raise ValsuiteError(f"timm model {name}: only square centre crops are supported "
                            f"(config: {cfg['input_size']}, crop_mode {cfg['crop_mode']})")
    interpolation = cfg["interpolation"] if cfg["interpolation"] in ("bilinear", "bicubic", "nearest") else "bicubic"
    return Preprocess(resize_size=int(math.floor(height / cfg["crop_pct"])), crop_size=int(height),
                      interpolation=interpolation, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                      name=f"timm:{name}")


def _load(model, path: Path):
    from timm.models import load_checkpoint

    if not path.is_file():
        raise ValsuiteError(f"weights file not found: {path}")
    try:
        load_checkpoint(model, str(path), strict=True, weights_only=True)
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()
        raise ValsuiteError(f"weights file {path} does not fit timm:{model.default_cfg.get('architecture')}: "
                            f"{first[1] if len(first) > 1 else first[0] if first else type(exc).__name__}") from exc
    return model


def resolve(name: str, weights: str | None, random_weights: bool) -> ModelSpec:
    timm = _timm()
    cfg = pretrained_config(name)
    pp = preprocess_from_config(name, cfg)
    network = PREFIX + name
    if random_weights:
        def build_random():
            import torch

            torch.manual_seed(0)  # the same random model on every build and machine
            return timm.create_model(name, pretrained=False)

        return ModelSpec(network, "random", pp, build_random, num_classes=cfg["num_classes"],
                         source="random init (seed 0); preprocessing from timm's pretrained config",
                         model_config={"timm_pretrained_cfg": cfg})
    if not weights or not str(weights).endswith(_CHECKPOINT_SUFFIXES):
        raise ValsuiteError(f"timm:{name} needs a local checkpoint (--weights PATH) or --random-weights",
                            hint="valsuite never downloads weights at run time; fetch the file with timm "
                            "on a machine with internet (timm.create_model(name, pretrained=True))")
    path = Path(weights)
    return ModelSpec(network, f"file:{path.name}", pp,
                     lambda: _load(timm.create_model(name, pretrained=False), path),
                     num_classes=cfg["num_classes"], weights_path=str(path),
                     source="local file; preprocessing from timm's pretrained config",
                     model_config={"timm_pretrained_cfg": cfg})
