"""Run a script's main() in a forked child of a server that has imported torch once.

Each bad-input case is a real separate process with its own exit code, stdout and stderr (the
same `run_script` wrapper main.py uses), but it does not pay the seconds of `import torch` per
case: multiprocessing's forkserver imports the heavy modules once and forks every case from it.
Set VALSUITE_TEST_SUBPROCESS=1 to run every case as a fresh `python main.py ...` instead.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = {"main.py": "valsuite.cli.main_cli", "onnx_transform.py": "valsuite.cli.onnx_transform_cli",
           "build_trt.py": "valsuite.cli.build_trt_cli"}
PRELOAD = ["torch", "torchvision", "onnx", "onnxruntime", "PIL.Image", "valsuite.cli.main_cli",
           "valsuite.cli.onnx_transform_cli", "valsuite.models.torchvision_models", "valsuite.evaluate.runner"]
_CONTEXT = None


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")   # inherited by the server and every case
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def _child(module_name: str, argv: list[str], out_path: str, err_path: str) -> None:
    """In the forked child: fds 1 and 2 to files, the repo as cwd, then the script's own wrapper."""
    for fd, path in ((1, out_path), (2, err_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    os.chdir(REPO)
    from valsuite.cli.common import run_script

    main = importlib.import_module(module_name).main
    code = 1
    try:
        code = run_script(main, argv)
    except SystemExit as exc:          # argparse errors exit this way
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def run(script: str, args: list[str], workdir: Path, timeout: float = 240) -> Result:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if os.environ.get("VALSUITE_TEST_SUBPROCESS") == "1":
        done = subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=env)
        return Result(done.returncode, done.stdout, done.stderr)
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    proc = _context().Process(target=_child, args=(SCRIPTS[script], args, str(out), str(err)))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return Result(proc.exitcode, out.read_text(errors="replace"), err.read_text(errors="replace"))
