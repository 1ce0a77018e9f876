"""--shard K/N slices and --gpus pinning (library side), and the cluster examples in docs/cluster."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from valsuite.errors import ValsuiteError
from valsuite.sharding import Shard, parse_gpus, parse_shard, pinned_env, run_on_gpus, shard_items

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cluster"
CONFIGS = [f"{net}:{backend}:b{batch}" for net in ("resnet18", "resnet50")
           for backend in ("torch", "inductor", "onnxruntime") for batch in (1, 32, 256)]


@pytest.mark.parametrize("count", [1, 2, 4, 7, 25])
def test_shards_are_disjoint_cover_everything_and_balanced(count):
    slices = [shard_items(CONFIGS, Shard(k, count)) for k in range(count)]
    flat = [c for s in slices for c in s]
    assert sorted(flat) == sorted(CONFIGS) and len(flat) == len(CONFIGS)
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1
    for s in slices:                                   # each slice keeps the plan's order
        assert s == [c for c in CONFIGS if c in s]


def test_shards_do_not_depend_on_the_order_the_list_was_built():
    shuffled = list(reversed(CONFIGS))
    for k in range(3):
        assert sorted(shard_items(CONFIGS, Shard(k, 3))) == sorted(shard_items(shuffled, Shard(k, 3)))
    assert shard_items(CONFIGS, Shard(1, 3)) == shard_items(list(CONFIGS), Shard(1, 3))   # repeatable


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1", "a/b", "0/0", "1/2/3"])
def test_bad_shards_are_user_errors(text):
    with pytest.raises(ValsuiteError, match="--shard"):
        parse_shard(text)


def test_duplicate_keys_cannot_be_sharded():
    with pytest.raises(ValsuiteError, match="same key"):
        shard_items(["a", "a"], Shard(0, 2))


def test_gpus_map_indexes_to_physical_ids():
    assert parse_gpus("all", ["0", "1"]) == ["0", "1"]
    assert parse_gpus("all", ["4", "6"]) == ["4", "6"]           # parent already pinned to 4,6
    assert parse_gpus("1", ["4", "6"]) == ["6"]
    assert parse_gpus("0,1", ["0", "1", "2"]) == ["0", "1"]
    for bad in ("2", "0,0", "x", ""):
        with pytest.raises(ValsuiteError, match="--gpus"):
            parse_gpus(bad, ["0", "1"])
    with pytest.raises(ValsuiteError, match="no CUDA GPU"):
        parse_gpus("all", [])
    assert pinned_env("3", {"PATH": "/bin"}) == {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "3"}


def test_each_child_sees_only_its_gpu_and_the_gpus_share_the_work():
    """Fake device list: children report CUDA_VISIBLE_DEVICES; results come back in job order."""
    probe = "import os, sys, time; time.sleep(0.2); print(os.environ['CUDA_VISIBLE_DEVICES'], sys.argv[1])"

    def run(job, env, gpu):
        out = subprocess.run([sys.executable, "-c", probe, str(job)], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0], int(out[1]), gpu

    results = run_on_gpus(list(range(6)), ["4", "6"], run)
    assert [job for _, job, _ in results] == list(range(6))
    assert all(seen == gpu for seen, _, gpu in results)            # pinned to exactly its GPU
    assert {gpu for _, _, gpu in results} == {"4", "6"}            # both GPUs got work


def test_a_job_error_is_raised_after_the_others_finished():
    done = []

    def run(job, env, gpu):
        if job == 1:
            raise RuntimeError("job 1 broke")
        done.append(job)

    with pytest.raises(RuntimeError, match="job 1"):
        run_on_gpus([0, 1, 2, 3], ["0", "1"], run)
    assert sorted(done) == [0, 2, 3]


def _shard_arg(command: str) -> str:
    command = "\n".join(line for line in command.splitlines() if not line.lstrip().startswith("#"))
    match = re.search(r'--shard\s+"?([^"\s]+)"?', command)
    assert match, command
    return match.group(1)


def test_slurm_array_script_runs_every_shard_once():
    text = (DOCS / "slurm_sweep.sh").read_text()
    assert subprocess.run(["bash", "-n", str(DOCS / "slurm_sweep.sh")]).returncode == 0
    first, last = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M).groups())
    assert _shard_arg(text) == "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"
    count = last - first + 1
    shards = [parse_shard(f"{task}/{count}") for task in range(first, last + 1)]
    assert first == 0 and [s.index for s in shards] == list(range(count))
    assert "--sweep" in text and "--results-dir" in text


def test_kubernetes_indexed_job_runs_every_shard_once():
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the manifest")
    job = yaml.safe_load((DOCS / "k8s_sweep_job.yaml").read_text())
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    container = spec["template"]["spec"]["containers"][0]
    command = " ".join(container["command"] + container["args"])
    index, count = _shard_arg(command).split("/")
    assert index == "${JOB_COMPLETION_INDEX}" and int(count) == spec["completions"]
    for k in range(spec["completions"]):
        assert parse_shard(f"{k}/{count}") == Shard(k, spec["completions"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "--results-dir /results" in command and "/results" in mounts


def _example_argv(text: str, values: dict) -> list[str]:
    """The example's `python main.py ...` arguments, shell variables replaced by sample values."""
    import shlex

    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = " ".join(line.rstrip("\\").strip() for line in lines)
    command = joined[joined.index("python main.py") + len("python main.py"):]
    for name, value in values.items():
        command = command.replace("${" + name + "}", value).replace("$" + name, value)
    return shlex.split(command.split(";")[0])


def test_the_examples_are_valid_sweep_command_lines():
    """The real parser accepts both examples' arguments, and each task gets a different shard."""
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the manifest")
    from valsuite.cli.main_cli import build_parser
    from valsuite.options.job import JobOptions

    slurm = (DOCS / "slurm_sweep.sh").read_text()
    job = yaml.safe_load((DOCS / "k8s_sweep_job.yaml").read_text())
    k8s = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    for text, env in ((slurm, {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4", "RESULTS": "/r",
                               "DATASET": "/d"}), (k8s, {"JOB_COMPLETION_INDEX": "2"})):
        parsed = JobOptions.from_args(build_parser().parse_args(_example_argv(text, env)))
        assert parsed.sweep.shard_spec() == Shard(2, 4) and parsed.sweep.networks
