#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:N] \
#   [SRUN_ARGS=...] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR \
#   [train.py options]
# One task per GPU (GPUS tasks in all, GPUS_PER_NODE per node); GPUS >
# GPUS_PER_NODE spans several nodes. --gres=gpu:GPUS_PER_NODE is requested
# where the partition's nodes have GPUs (sinfo's GRES column); on a CPU
# partition nothing GPU-related is asked for and the tasks train on CPU
# with gloo. GRES= (empty) never asks for GPUs, GRES=... asks for that.
# Inside an allocation (sbatch) srun takes its tasks from it.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
TOOLS="$(dirname "$0")"
source "${TOOLS}/slurm_gres.sh"

PYTHONPATH="${TOOLS}/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    ${GRES:+--gres="${GRES}"} \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "${TOOLS}/train.py" "${CONFIG}" \
    --work-dir="${WORK_DIR}" --launcher=slurm "${@:5}"
