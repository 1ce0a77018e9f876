"""Hugging Face sources in the ILSVRC/imagenet-1k schema: `label` (class index), `image`
({'bytes', 'path'}).

Local parquet files and `save_to_disk` folders are read with pyarrow alone (the arrow files of
save_to_disk are Arrow IPC streams), so they work without the `datasets` package. The Hub needs
`datasets` and internet (the dataset is gated: the user's token is used). Images are written as
the original bytes stored in the dataset, never re-encoded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from tqdm import tqdm

from valsuite.data.manifest import IMAGE_EXTENSIONS
from valsuite.data.synsets import SynsetMapping, builtin_mapping
from valsuite.arrange.plan import Item, Plan, check_image_bytes, check_output_mapping, find_partials, \
    image_format_suffix, sort_items
from valsuite.errors import ValsuiteError

HUB_DEFAULT = "ILSVRC/imagenet-1k"
_BATCH = 256


@dataclass
class HFSource:
    """Where the rows come from; `batches()` yields pyarrow record batches, same order each time."""

    name: str
    batches: Callable[[], Iterator]


def open_source(ref: str, split: str = "validation") -> HFSource:
    path = Path(ref)
    if path.exists():
        return _local_source(path, split)
    if ref.count("/") == 1 and not ref.startswith((".", "/")):
        return _hub_source(ref, split)
    raise ValsuiteError(f"--hf {ref}: no such local path, and not a Hub id like {HUB_DEFAULT}")


def _local_source(path: Path, split: str) -> HFSource:
    if path.is_file() and path.suffix == ".parquet":
        return HFSource(str(path), lambda: _parquet_batches([path]))
    if (path / "dataset_dict.json").is_file():
        if not (path / split).is_dir():
            raise ValsuiteError(f"{path} is a saved DatasetDict without a {split!r} split")
        path = path / split
    if (path / "state.json").is_file():
        return HFSource(str(path), lambda: _arrow_batches(_state_files(path)))
    parquet = sorted(path.rglob("*.parquet"))
    if parquet:
        chosen = [p for p in parquet if split in p.relative_to(path).as_posix()]
        how = f"{len(chosen)} parquet file(s) named after {split!r}" if chosen else \
            f"all {len(parquet)} parquet file(s): none is named after {split!r}"
        chosen = chosen or parquet
        return HFSource(f"{path} ({how})", lambda: _parquet_batches(chosen))
    arrow = sorted(path.rglob("*.arrow"))
    if arrow:
        return HFSource(str(path), lambda: _arrow_batches(arrow))
    raise ValsuiteError(f"{path}: no parquet files and not a save_to_disk folder")


def _state_files(folder: Path) -> list[Path]:
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    return [folder / entry["filename"] for entry in state.get("_data_files", [])]


def _parquet_batches(files: list[Path]) -> Iterator:
    import pyarrow.parquet as pq

    for file in files:
        yield from pq.ParquetFile(file).iter_batches(batch_size=_BATCH, columns=["label", "image"])


def _arrow_batches(files: list[Path]) -> Iterator:
    import pyarrow as pa

    for file in files:
        with pa.memory_map(str(file)) as source:
            try:
                reader = pa.ipc.open_stream(source)
            except pa.ArrowInvalid:
                reader = pa.ipc.open_file(source)
                yield from (reader.get_batch(i) for i in range(reader.num_record_batches))
                continue
            yield from reader


def _hub_source(ref: str, split: str) -> HFSource:
    try:
        import datasets
    except ImportError:
        datasets = None
    if datasets is None or not hasattr(datasets, "load_dataset"):
        shadow = list(getattr(datasets, "__path__", []))
        found = f"; `import datasets` found the folder {shadow[0]} instead" if shadow else ""
        raise ValsuiteError(f"--hf {ref} needs the Hugging Face `datasets` package{found}",
                            hint="pip install datasets; or pass a local parquet/save_to_disk path")
    try:
        dataset = datasets.load_dataset(ref, split=split)
        dataset = dataset.cast_column("image", datasets.Image(decode=False))
    except Exception as exc:  # network, gating and auth errors all end here
        raise ValsuiteError(f"cannot load {ref} split {split} from the Hugging Face Hub: {exc}",
                            hint="needs internet, an accepted licence and `huggingface-cli login`") from exc

    def batches() -> Iterator:
        for table in dataset.with_format("arrow").iter(batch_size=_BATCH):
            yield from table.to_batches()

    return HFSource(ref, batches)


def iter_rows(source: HFSource) -> Iterator[tuple[int, object, dict]]:
    number = 0
    for batch in source.batches():
        names = batch.schema.names
        if "label" not in names or "image" not in names:
            raise ValsuiteError(f"{source.name}: columns {names}, expected 'label' and 'image'")
        for label, image in zip(batch.column("label").to_pylist(), batch.column("image").to_pylist()):
            yield number, label, image if isinstance(image, dict) else {"bytes": image, "path": None}
            number += 1


def _row_item(row: int, label: object, image: dict, mapping: SynsetMapping,
              split: str) -> tuple[Item | None, str | None, bytes | None]:
    origin = f"row {row}"
    data = image.get("bytes")
    if data is None and image.get("path") and Path(image["path"]).is_file():
        data = Path(image["path"]).read_bytes()
    if data is None:
        return None, f"{origin}: no image bytes", None
    if not isinstance(label, int) or not 0 <= label < len(mapping):
        return None, f"{origin}: label {label!r} is not a class index 0..{len(mapping) - 1} (unknown wnid)", None
    reason = check_image_bytes(data)
    if reason:
        return None, f"unreadable image at {origin}: {reason}", None
    name = PurePosixPath(str(image.get("path") or "").replace("\\", "/")).name
    if not name or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
        name = f"hf_{split}_{row:08d}{image_format_suffix(data)}"
    wnid = mapping.wnids[label]
    item = Item(f"{wnid}/{name}", wnid, f"{origin} ({name})", None, len(data), hashlib.sha256(data).hexdigest())
    return item, None, data


def plan_hf(ref: str, output: Path, split: str = "validation") -> Plan:
    """Plan writing every row's image bytes to output/<wnid>/<name>."""
    source = open_source(ref, split)
    mapping = builtin_mapping()
    plan = Plan(output, "write", mapping, kind="hf")
    plan.notes.append(f"source: {source.name} split {split}; classes: {mapping.source}")
    items, names = [], {}
    for row, label, image in tqdm(iter_rows(source), desc="checking", unit="img", leave=False, disable=None):
        item, problem, _ = _row_item(row, label, image, mapping, split)
        if problem:
            plan.problems.append(f"{source.name} {problem}")
            continue
        name = item.target.split("/", 1)[1]
        if name in names:  # one image id under two labels
            plan.problems.append(f"duplicate image id {name}: {names[name]} and {item.origin}")
            continue
        names[name] = item.origin
        items.append(item)
    if not items and not plan.problems:
        plan.problems.append(f"{source.name}: no rows")
    sort_items(plan, items)
    plan.stale_partials = find_partials(output)
    check_output_mapping(plan)

    def stream() -> Iterator[tuple[str, bytes]]:
        for row, label, image in iter_rows(source):
            item, _, data = _row_item(row, label, image, mapping, split)
            if item is not None:
                yield item.target, data

    plan.stream = stream
    return plan
