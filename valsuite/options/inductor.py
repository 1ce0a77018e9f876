"""Inductor group: how the inductor backend compiles."""

from __future__ import annotations

from dataclasses import dataclass

from valsuite.options.base import OptionGroup, option


@dataclass
class InductorOptions(OptionGroup):
    TITLE = "inductor"

    inductor_mode: str = option("--inductor-mode", default="jit", choices=("jit", "aot"),
                                help="inductor backend: jit = torch.compile in the run; aot = torch.export + "
                                     "AOTInductor package weights/<stem>_<precision>_<device>.pt2, reused across "
                                     "runs (default: %(default)s)")
