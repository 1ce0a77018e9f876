"""Console-script entry points (pyproject.toml): each returns the exit code, user errors as exit 2."""

from __future__ import annotations

from valsuite.cli.common import run_script


def valsuite(argv: list[str] | None = None) -> int:
    from valsuite.cli.main_cli import main

    return run_script(lambda a: main(a, prog="valsuite"), argv)


def export(argv: list[str] | None = None) -> int:
    from valsuite.cli.onnx_transform_cli import main

    return run_script(main, argv)


def build_trt(argv: list[str] | None = None) -> int:
    from valsuite.cli.build_trt_cli import main

    return run_script(main, argv)


def format_dataset(argv: list[str] | None = None) -> int:
    from valsuite.cli.format_dataset_cli import main

    return run_script(main, argv)
