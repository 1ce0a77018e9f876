"""What a run ran on: library versions and processor names, for records and table footnotes."""

from __future__ import annotations

import importlib.metadata
import platform

_PACKAGES = ("torch", "torchvision", "onnx", "onnxruntime", "numpy", "pillow", "tensorrt", "ultralytics")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_facts() -> dict:
    """GPU name, compute capability and driver, or {} without CUDA (never initialises CUDA needlessly)."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(0)
    facts = {"gpu": props.name, "compute_capability": f"{props.major}.{props.minor}",
             "gpu_memory_gb": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}
    try:
        import subprocess

        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            facts["driver"] = out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return facts


def environment() -> dict:
    import os

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "packages": {p: v for p in _PACKAGES if (v := _version(p))},
    }
    env.update(gpu_facts())
    env["machine"] = env.get("gpu") or env["cpu"]
    return env
