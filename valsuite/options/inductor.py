"""Inductor group: how the inductor backend compiles."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.options.base import OptionGroup, option


@dataclass
class InductorOptions(OptionGroup):
    TITLE = "inductor"

    inductor_mode: str = option("--inductor-mode", default="jit", choices=("jit", "aot", "peak"),
                                help="inductor backend: jit = torch.compile in the run; aot = torch.export + "
                                     "AOTInductor package weights/<stem>_<precision>_<device>.pt2, reused across "
                                     "runs; peak (CUDA) = max-autotune, cuDNN algorithm search, CUDA graph: the "
                                     "highest throughput, minutes of compile (default: %(default)s)")
    no_freezing: bool = option("--inductor-no-freezing", default=False,
                               help="compile without freezing the weights into the graph: somewhat slower "
                                    "kernels, but the FX graph cache then serves later compiles of the same "
                                    "network and size (a sweep precompiles in parallel, then times)")
