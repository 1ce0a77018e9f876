"""--decode gpu: batched nvJPEG decoding, resize and centre crop on the GPU.

Workers only read file bytes (cheap) and sort files: baseline 8-bit three-component JPEGs go to
the GPU; everything else (grayscale, CMYK/YCCK, Adobe-RGB, progressive, 12-bit, PNG...) is decoded
by the CPU path (PIL, exactly as --decode cpu) in the worker and travels as a finished crop. On the
GPU, `torchvision.io.decode_jpeg(list, device="cuda")` decodes the batch (hardware nvJPEG on
A100/H100/H200), then the whole batch, whatever its image sizes, is resized and centre-cropped by
two Triton kernels (gpu_resize.py: Pillow's filters and integer arithmetic, bit-identical to the
CPU path's resize given the same decoded pixels).
If nvJPEG rejects a batch, each of its files is retried alone and a file that still fails is
decoded by PIL with a warning that names it; a file PIL cannot read either is an error naming it.

The pixels differ slightly from the CPU path (nvJPEG's IDCT and chroma upsampling are not
libjpeg-turbo's; the resize itself is exact), so top-1 can differ on a few images:
benchmarks/gpu_speed.py measures it (`decode_agreement`) and docs/speed.md reports it.
Three streams overlap: nvJPEG decodes batch i+1 on torchvision's decoder stream (the hardware
JPEG engines) while the resize kernels of batch i run on the resize stream and the model computes
on the backend's stream; a background thread drives decode and resize.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from valsuite.data.gpu_resize import resize_crop_batch
from valsuite.data.loader import ManifestDataset
from valsuite.data.manifest import Manifest
from valsuite.data.preprocess import Preprocess, load_uint8
from valsuite.errors import ValsuiteError

log = logging.getLogger(__name__)

_SOF_GPU = (0xC0, 0xC1)          # baseline and extended sequential Huffman: what nvJPEG batches in hardware
_SOF_ANY = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def gpu_decodable(data: bytes) -> bool:
    """True for an 8-bit, 3-component, sequential JPEG without an Adobe RGB/CMYK transform."""
    if len(data) < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:                 # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xEE and segment[:5] == b"Adobe" and len(segment) >= 12 and segment[11] == 0:
            return False                   # Adobe transform 0: RGB or CMYK samples, not YCbCr
        if marker in _SOF_ANY:
            return marker in _SOF_GPU and len(segment) >= 6 and segment[0] == 8 and segment[5] == 3
        if marker == 0xDA:                 # scan started before any frame header
            return False
        pos += 2 + length
    return False


def read_file(path) -> np.ndarray:
    """A file's bytes straight into a writable uint8 array (one copy, no bytes object)."""
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        data = np.empty(size, dtype=np.uint8)
        if handle.readinto(memoryview(data)) != size:
            raise OSError("short read")
    return data


class EncodedDataset(ManifestDataset):
    """Item: (bytes as uint8 array | None, CPU crop | None, label, index, error): the file's bytes
    when nvJPEG can decode it, else the CPU-decoded crop."""

    def __getitem__(self, index: int):
        entry = self.manifest.entries[index]
        path = self.manifest.path(entry)
        try:
            data = read_file(path)
        except OSError as exc:
            return None, None, entry.label, index, f"unreadable image {path}: {exc}"
        if gpu_decodable(memoryview(data)):
            return data, None, entry.label, index, None
        try:
            return None, load_uint8(path, self.pp), entry.label, index, None
        except ValsuiteError as exc:
            return None, None, entry.label, index, str(exc)


@dataclass
class EncodedBatch:
    files: list               # uint8 CPU tensors: the bytes of each GPU-decoded file
    gpu_pos: list             # batch positions decoded on the GPU
    crops: "object"           # uint8 tensor (k, 3, H, W): CPU-decoded files
    cpu_pos: list             # batch positions of those crops
    manifest: Manifest        # for the paths in error messages
    labels: "object"
    indices: "object"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def path(self, position: int) -> str:
        return str(self.manifest.path(self.manifest.entries[int(self.indices[position])]))


def collate_encoded(items, manifest: Manifest, shape) -> EncodedBatch:
    """Lists, not one concatenated buffer: threads share memory, so no copy is needed."""
    import torch

    for *_, error in items:
        if error is not None:
            raise ValsuiteError(error)
    gpu_pos = [i for i, item in enumerate(items) if item[0] is not None]
    cpu_pos = [i for i, item in enumerate(items) if item[0] is None]
    files = [torch.from_numpy(items[i][0]) for i in gpu_pos]
    crops = torch.from_numpy(np.stack([items[i][1] for i in cpu_pos]) if cpu_pos
                             else np.zeros((0, *shape), np.uint8))
    return EncodedBatch(files, gpu_pos, crops, cpu_pos, manifest,
                        torch.tensor([item[2] for item in items], dtype=torch.int64),
                        torch.tensor([item[3] for item in items], dtype=torch.int64))


def encoded_loader(manifest: Manifest, pp: Preprocess, batch_size: int, workers: int, depth: int = 4):
    """Batches of file bytes in manifest order (partial last batch kept), read by a thread pool.

    Threads, not worker processes: reading bytes releases the GIL, the rare CPU-fallback decode
    (PIL) does too, and nothing large has to cross a process boundary. (Worker processes shipping
    25 MB byte batches through shared memory died with exit code 1 on the H100 machine.)
    """
    from valsuite.data.loader import iterate_batches

    if batch_size < 1:
        raise ValsuiteError(f"batch size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ValsuiteError(f"--workers must be 0 or more, got {workers}")
    return iterate_batches(_threaded_batches(EncodedDataset(manifest, pp), batch_size, max(1, workers), depth))


def _threaded_batches(dataset: EncodedDataset, batch_size: int, threads: int, depth: int):
    """Keep `depth` batches of reads in flight; yield collated batches (or error markers) in order.

    Each batch is split into one contiguous chunk per thread: a few tasks per batch, not one per
    file (a task per file cost more Python time under the GIL than reading the file)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    total = len(dataset)
    starts = iter(range(0, total, batch_size))

    def read(lo: int, hi: int) -> list:
        return [dataset[i] for i in range(lo, hi)]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        def submit(start: int) -> list:
            stop = min(start + batch_size, total)
            step = -(-(stop - start) // threads)
            return [pool.submit(read, lo, min(lo + step, stop)) for lo in range(start, stop, step)]

        # range first: zip stops on it before pulling (and losing) one more start
        pending = deque(submit(start) for _, start in zip(range(depth), starts))
        while pending:
            futures = pending.popleft()
            following = next(starts, None)
            if following is not None:
                pending.append(submit(following))
            items = [item for future in futures for item in future.result()]
            try:
                yield collate_encoded(items, dataset.manifest, dataset.pp.input_shape)
            except ValsuiteError as exc:
                yield exc


class GpuDecoded:
    """A staged batch decoded on the decode stream; ready() waits for it (see evaluate/stages.py)."""

    h2d_ms = None   # file bytes go up inside the decode: no separate host-to-device copy of images

    def __init__(self, batch: EncodedBatch, images, timer, keep=None) -> None:
        self.batch = batch
        self._images = images
        self._timer = timer
        self._keep = keep            # decoded images and kernel buffers, alive until the resize ran
        self.pre_ms = 0.0

    def ready(self) -> None:
        self.pre_ms = self._timer.wait()
        self._keep = None
        if self._images.is_cuda:
            import torch

            self._images.record_stream(torch.cuda.current_stream())

    def device_images(self):
        return self._images


class _CudaTimer:
    """CUDA events on the decode stream: the decode's own device time, and what compute waits on."""

    def __init__(self, stream) -> None:
        import torch

        self.stream = stream
        self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def __enter__(self):
        import torch

        self._ctx = torch.cuda.stream(self.stream)
        self._ctx.__enter__()
        self.start.record()
        return self

    def __exit__(self, *exc) -> None:
        self.end.record()
        self._ctx.__exit__(*exc)

    def wait(self) -> float:
        import torch

        self.end.synchronize()
        torch.cuda.current_stream().wait_event(self.end)
        return self.start.elapsed_time(self.end)


class _HostTimer:
    """The same stage on the CPU (tests): nvJPEG replaced by torchvision's CPU decoder."""

    def __enter__(self):
        import time

        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import time

        self.ms = (time.perf_counter() - self._t0) * 1e3

    def wait(self) -> float:
        return self.ms


class GpuDecodeStage:
    """Decode batch i+1 on a background thread and its own stream while batch i computes.

    device="cpu" runs the same code with torchvision's CPU JPEG decoder, so that the batching,
    fallbacks and accounting are tested on machines without a GPU.
    """

    name = "gpu-decode"

    def __init__(self, pp: Preprocess, device: str = "cuda", depth: int = 2) -> None:
        if pp.interpolation not in ("bilinear", "bicubic"):
            raise ValsuiteError(f"--decode gpu resizes with bilinear or bicubic filters, not {pp.interpolation}",
                                hint="use --decode cpu")
        if pp.crop_hw is not None and pp.crop_hw != (pp.crop_size, pp.crop_size):
            # the batched kernels crop a square of crop_size; an --input_size crop would not fit
            raise ValsuiteError(f"--decode gpu crops the native {pp.crop_size}x{pp.crop_size} only, not "
                                f"{pp.crop_hw[0]}x{pp.crop_hw[1]}", hint="use --decode cpu with --input_size")
        self.pp = pp
        self.device = device
        self.depth = depth
        self.gpu_files = 0
        self.cpu_files = 0
        self.stream = None
        self.name = "gpu-decode" if device == "cuda" else "gpu-decode-on-cpu"

    def __call__(self, batches):
        from valsuite.data.prefetch import background

        if self.device == "cuda":
            import torch

            self.stream = torch.cuda.Stream()
        return background(batches, self.decode, depth=self.depth)

    def decode(self, batch: EncodedBatch) -> GpuDecoded:
        import torch

        timer = _CudaTimer(self.stream) if self.device == "cuda" else _HostTimer()
        with timer:
            out = torch.empty((len(batch), *self.pp.input_shape), dtype=torch.uint8, device=self.device)
            cpu_pos, crops, keep = list(batch.cpu_pos), [batch.crops], None
            if batch.gpu_pos:
                decoded, failed = self._decode_jpegs(batch.files, batch, batch.gpu_pos)
                ok = [p for k, p in enumerate(batch.gpu_pos) if k not in failed]
                if ok:
                    images = [d for d in decoded if d is not None]
                    keep = (images, resize_crop_batch(images, out, ok, self.pp.resize_size, self.pp.crop_size,
                                                      self.pp.interpolation))
                if failed:
                    extra = [load_uint8(batch.path(batch.gpu_pos[k]), self.pp) for k in sorted(failed)]
                    cpu_pos += [batch.gpu_pos[k] for k in sorted(failed)]
                    crops.append(torch.from_numpy(np.stack(extra)))
            if cpu_pos:
                out[cpu_pos] = torch.cat(crops).to(self.device)
        self.gpu_files += len(batch) - len(cpu_pos)
        self.cpu_files += len(cpu_pos)
        return GpuDecoded(batch, out, timer, keep)

    def _decode_jpegs(self, chunks: list, batch: EncodedBatch, positions: list):
        """(decoded list with None for failures, set of failed positions): one bad file never stops the batch."""
        from torchvision.io import ImageReadMode, decode_jpeg

        try:
            return decode_jpeg(chunks, mode=ImageReadMode.RGB, device=self.device), set()
        except RuntimeError as exc:
            log.warning("nvJPEG rejected a batch (%s); retrying its %d files one by one",
                        str(exc).splitlines()[0], len(chunks))
        decoded, failed = [], set()
        for k, (chunk, pos) in enumerate(zip(chunks, positions)):
            try:
                decoded.append(decode_jpeg(chunk, mode=ImageReadMode.RGB, device=self.device))
            except RuntimeError as exc:
                log.warning("nvJPEG cannot decode %s (%s): decoded by PIL", batch.path(pos), str(exc).splitlines()[0])
                decoded.append(None)
                failed.add(k)
        return decoded, failed

    def describe(self) -> dict:
        return {"gpu_decoded_files": self.gpu_files, "cpu_decoded_files": self.cpu_files}
