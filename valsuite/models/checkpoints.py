"""Loading weights from local files, and from torchvision's hub cache without surprises."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from pathlib import Path

from valsuite.errors import ValsuiteError

log = logging.getLogger(__name__)


def check_weights_arg(network: str, weights: str, choices: str) -> Path:
    """For networks without torchvision weights enums: `--weights` must be an existing file.
    An enum-like name (IMAGENET1K_V2) gets a message saying what this network takes instead of
    'file not found'; a missing file is found here, before any export or run starts."""
    path = Path(weights)
    if not path.exists() and re.fullmatch(r"[A-Za-z0-9_]+", weights) and path.suffix == "":
        raise ValsuiteError(f"{network} has no weights named {weights!r} (torchvision weights enums "
                            f"are for the resnets and mobilenet_v2)", hint=choices)
    if not path.is_file():
        raise ValsuiteError(f"weights file not found: {path}", hint=choices)
    return path


def load_checkpoint_into(module, path: str | Path):
    """Load a `.pth`/`.pt` file: a state dict (possibly wrapped) into `module`, or a full model.

    Returns the module to use (the loaded one for a full-model file).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ValsuiteError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise ValsuiteError(f"cannot load weights file {path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(obj, torch.nn.Module):
        return obj.float().eval()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                obj = obj[key]
                break
        if isinstance(obj, torch.nn.Module):
            return obj.float().eval()
        state = {k.removeprefix("module."): v for k, v in obj.items()}
        try:
            result = module.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
            raise ValsuiteError(f"weights file {path} does not fit this network: {first}") from exc
        if result.missing_keys or result.unexpected_keys:
            raise ValsuiteError(
                f"weights file {path} does not fit this network: "
                f"{len(result.missing_keys)} missing keys (first: {result.missing_keys[:1]}), "
                f"{len(result.unexpected_keys)} unexpected (first: {result.unexpected_keys[:1]})"
            )
        return module
    raise ValsuiteError(f"weights file {path} holds a {type(obj).__name__}, not a state dict or model")


def hub_cached_file(url: str) -> Path:
    """Where torch.hub keeps the checkpoint of `url` (the file name is the URL's last part)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def torchvision_state_dict(weights) -> dict:
    """The state dict of a torchvision weights enum: from the hub cache, else downloaded.

    Offline machines get a message that says how to pass the file instead.
    """
    import torch

    cached = hub_cached_file(weights.url)
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValsuiteError(f"cached weights {cached} are unreadable ({exc}); delete it or pass --weights PATH") from exc
    try:
        # torch.hub prints "Downloading: ..." (stdout or stderr, by version) before it knows whether
        # the machine is online; keep that line back so an offline run shows only the error below
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            state = weights.get_state_dict(progress=False, check_hash=True)
        log.info("downloaded %s to %s", weights.url, cached)
        return state
    except Exception as exc:
        raise ValsuiteError(
            f"weights {weights} are not in the torch hub cache ({cached}) and could not be downloaded "
            f"({type(exc).__name__})",
            hint=f"download {weights.url} on a machine with internet and pass --weights /path/to/"
            f"{cached.name}, or copy it to {cached.parent}/, or use --random-weights",
        ) from exc
