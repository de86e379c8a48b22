# Sourced by tools/slurm_{train,test}.sh: the --gres request, in GRES.
# Unset: gpu:GPUS_PER_NODE where the partition's nodes list GPUs in sinfo's
# GRES column, nothing on a CPU partition. Set (even empty): as given.
if [ -z "${GRES+set}" ]; then
    if sinfo -h -p "${PARTITION}" -o %G 2>/dev/null | grep -q 'gpu'; then
        GRES="gpu:${GPUS_PER_NODE}"
    else
        GRES=""
    fi
fi
