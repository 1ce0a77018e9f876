"""GFLOPs and parameter count of a network at an input size, from PyTorch's own FLOP counter.

torch.utils.flop_counter counts the FLOPs of the aten ops a forward pass runs (a multiply-add is
two FLOPs; convolutions, matmuls, attention; elementwise ops count zero), so it needs no new
dependency. The forward runs on the `meta` device where the model allows it: no memory, no
compute, the same count. One image (batch 1); FLOPs scale linearly with the batch.
"""

from __future__ import annotations

import copy
import logging

log = logging.getLogger(__name__)


def count_flops(module, input_shape: tuple[int, int, int]) -> dict:
    """{"gflops": FLOPs/1e9 of one image, "params": parameter count, "flops_counter": how counted}."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in module.parameters())
    for device in ("meta", "cpu"):
        try:
            model = copy.deepcopy(module).to(device).eval() if device == "meta" else module.eval()
            x = torch.zeros((1, *input_shape), device=device)
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(x)
            return {"gflops": counter.get_total_flops() / 1e9, "params": int(params),
                    "flops_counter": f"torch.utils.flop_counter ({device}, batch 1, multiply-add = 2 FLOPs)"}
        except (RuntimeError, NotImplementedError, TypeError) as exc:  # some ops have no meta kernel
            log.debug("flop count on %s failed: %s", device, exc)
    return {"gflops": None, "params": int(params), "flops_counter": "failed"}


def spec_cost(spec) -> dict:
    """GFLOPs and parameters of a ModelSpec at its input size (builds the torch module once)."""
    return count_flops(spec.build(), tuple(spec.input_shape))
