#!/bin/bash
# A valsuite sweep spread over a SLURM job array: task K of N runs the K-th deterministic slice
# (--shard K/N, K from 0). Every task writes its records to the same shared folder; afterwards
# one `--report` renders all of them (records are grouped by machine).
#
#   sbatch docs/cluster/slurm_sweep.sh            # then, when all tasks are done:
#   python main.py --report --results /shared/valsuite/records --csv rows.csv
#
#SBATCH --job-name=valsuite-sweep
#SBATCH --array=0-3
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=16
#SBATCH --time=02:00:00
#SBATCH --output=valsuite-sweep-%A_%a.log

set -euo pipefail
RESULTS=${RESULTS:-/shared/valsuite/records}
DATASET=${DATASET:-/shared/imagenet/val}
cd "${VALSUITE_DIR:-$HOME/valsuite}"

python main.py --sweep \
    --networks resnet18,resnet50 --backends torch,inductor,onnxruntime \
    --precisions fp32,fp16 --batch_sizes 1,32,256 \
    --dataset "$DATASET" --results-dir "$RESULTS" \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"
