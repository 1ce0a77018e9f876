"""GPU facts through torch (which owns the CUDA context here; valsuite never uses pycuda)."""

from __future__ import annotations

from valsuite.errors import ValsuiteError


def require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        raise ValsuiteError("TensorRT needs an NVIDIA GPU, but torch sees no CUDA device here",
                            hint="run on a machine with a GPU, or use --backend onnxruntime/torch")


def gpu_facts(index: int = 0) -> dict:
    """{'name': 'NVIDIA H100 80GB HBM3', 'compute_capability': '9.0'}: what an engine is tied to."""
    import torch

    require_cuda()
    major, minor = torch.cuda.get_device_capability(index)
    return {"name": torch.cuda.get_device_name(index), "compute_capability": f"{major}.{minor}"}
