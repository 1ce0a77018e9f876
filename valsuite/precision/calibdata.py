"""Which images calibrate, how they are prepared, and which evaluated images they exclude.

Order of choice: --calib-dataset DIR (every image under DIR, any layout); else the evaluation
dataset's calibration_list.txt; else a seeded sample of the evaluation dataset itself, capped at
half of it so that something is left to evaluate. Images are prepared with exactly the weights'
evaluation preprocessing (load_uint8 + normalize), never a calibration-specific one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from valsuite.data.manifest import IMAGE_EXTENSIONS, read_calibration_list
from valsuite.data.preprocess import Preprocess, load_uint8, normalize
from valsuite.errors import ValsuiteError
from valsuite.fileio import sha256_file, sha256_json
from valsuite.options.precision import PrecisionOptions

log = logging.getLogger(__name__)


@dataclass
class CalibrationSet:
    """The chosen calibration images (absolute paths, sorted) and how they were chosen."""

    paths: list[Path]
    source: str                    # "calib-dataset", "calibration-list", "eval-sample"
    root: Path
    requested: int
    available: int
    notes: list[str] = field(default_factory=list)
    synthetic: int = 0             # > 0: that many seeded synthetic images instead of files
    seed: int = 0                  # seed of the synthetic images

    def relpaths(self) -> list[str]:
        return [_rel(p, self.root) for p in self.paths]

    def files_key(self) -> str:
        """Hash of the file list and each file's content: part of the calibration cache key."""
        if self.synthetic:
            return sha256_json(["synthetic", self.synthetic, self.seed])
        return sha256_json([[rel, sha256_file(p)] for rel, p in zip(self.relpaths(), self.paths)])

    def facts(self) -> dict:
        return {"source": self.source, "root": str(self.root), "num_images": len(self.paths) or self.synthetic,
                "requested": self.requested, "available": self.available, "notes": list(self.notes)}


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def list_images(root: Path) -> list[Path]:
    """Every image file under root (sorted, any depth); a missing or empty folder is a user error."""
    if not root.is_dir():
        raise ValsuiteError(f"calibration folder not found: {root}")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not paths:
        raise ValsuiteError(f"no images in calibration folder {root}",
                            hint="pass --calib-dataset DIR with images in it")
    return paths


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Calibration is selected once per row and again by the int8 step: say each note once."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("%s", message)


def _sample(paths: list[Path], size: int, seed: int) -> list[Path]:
    if size >= len(paths):
        return list(paths)
    chosen = np.random.default_rng(seed).choice(len(paths), size=size, replace=False)
    return [paths[i] for i in sorted(chosen)]


# FP16 conversion only needs activation magnitudes to keep overflowing nodes in FP32; with no
# images at all (e.g. a parity check on random input) it measures them on seeded synthetic
# images instead of refusing, and says so. INT8 scales need real images.
FP16_SYNTHETIC_IMAGES = 32


def _synthetic_fp16_set(options: PrecisionOptions) -> CalibrationSet:
    note = (f"fp16 ranges measured on {FP16_SYNTHETIC_IMAGES} seeded synthetic images (no dataset "
            f"given); pass --dataset or --calib-dataset to measure them on real images")
    _warn_once(f"calibration: {note}")
    return CalibrationSet([], "synthetic", Path("."), FP16_SYNTHETIC_IMAGES, 0, [note],
                          synthetic=FP16_SYNTHETIC_IMAGES, seed=options.calib_seed)


def select_calibration(options: PrecisionOptions, kind: str = "int8") -> CalibrationSet:
    """The calibration images for these options (deterministic: same options, same list)."""
    if kind == "fp16" and options.calib_dataset is None and options.eval_dataset is None:
        return _synthetic_fp16_set(options)
    size = options.calib_size
    if options.calib_dataset is not None:
        root = Path(options.calib_dataset)
        pool = list_images(root)
        chosen, source, notes = _sample(pool, size, options.calib_seed), "calib-dataset", []
    elif options.eval_dataset is not None:
        root = Path(options.eval_dataset)
        listed = read_calibration_list(root) if root.is_dir() else None
        if listed is not None:
            pool, source, notes = sorted(listed), "calibration-list", []
            chosen = _sample(pool, size, options.calib_seed)
        else:
            pool = list_images(root)
            cap = len(pool) // 2
            source = "eval-sample"
            notes = []
            if size > cap:
                notes.append(f"calibration takes at most half of the evaluation folder ({cap} of "
                             f"{len(pool)} images) so that the rest can be evaluated")
            chosen = _sample(pool, min(size, cap), options.calib_seed)
            if not chosen:
                raise ValsuiteError(f"{root} has {len(pool)} image(s): too few to calibrate and evaluate",
                                    hint="pass --calib-dataset DIR")
    else:
        raise ValsuiteError("int8 calibration needs images", hint="pass --calib-dataset DIR or --dataset DIR")
    if len(pool) < size and source != "eval-sample":
        notes.append(f"asked for {size} calibration images, {root} has {len(pool)}: using all {len(pool)}")
    for note in notes:
        _warn_once(f"calibration: {note}")
    return CalibrationSet(chosen, source, root, size, len(pool), notes)


def calibration_batches(calib: CalibrationSet, pp: Preprocess, batch_size: int):
    """float32 NCHW numpy batches, prepared exactly as evaluation prepares them."""
    import torch

    if calib.synthetic:
        yield from _synthetic_batches(calib, pp, batch_size)
        return
    for start in range(0, len(calib.paths), batch_size):
        chunk = calib.paths[start:start + batch_size]
        raw = torch.from_numpy(np.stack([load_uint8(p, pp) for p in chunk]))
        yield normalize(raw, pp).numpy()


def _synthetic_batches(calib: CalibrationSet, pp: Preprocess, batch_size: int):
    import torch

    rng = np.random.default_rng(calib.seed)
    for start in range(0, calib.synthetic, batch_size):
        n = min(batch_size, calib.synthetic - start)
        raw = torch.from_numpy(rng.integers(0, 256, size=(n, *pp.input_shape), dtype=np.uint8))
        yield normalize(raw, pp).numpy()


def calibration_exclusions(options: PrecisionOptions, manifest) -> tuple[set[str], dict]:
    """Relpaths (of `manifest`) that calibrate and so must not be evaluated, and facts for the record."""
    calib = select_calibration(options)
    wanted = {p.resolve() for p in calib.paths}
    root = Path(manifest.root)
    excluded = {e.relpath for e in manifest.entries if (root / e.relpath).resolve() in wanted}
    facts = {"calibration_source": calib.source, "calibration_images": len(calib.paths),
             "excluded_images": len(excluded),
             "excluded_reason": f"{len(excluded)} calibration image(s) of this folder are not evaluated"
             if excluded else None}
    return excluded, facts

