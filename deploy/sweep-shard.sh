#!/bin/sh
# Runs one shard of a seed sweep and writes its JSON lines to $OUT/shard-<index>.jsonl.
# Called once per array task by deploy/slurm/sweep.sbatch and once per pod by
# deploy/kubernetes/sweep-job.yaml, each passing its scheduler's 0-based index and count.
#
#   sweep-shard.sh INDEX COUNT
#
# Settings come from the environment:
#   SCENARIO  the scenario file (default scenarios/food_lossy.ron)
#   SEEDS     the seed range, as consim sweep reads it (default 0..10000)
#   OUT       where the shard files go (default out)
#   CONSIM    the consim binary (default consim, from `cargo install --path .`)
#
# Exit code: 0 when the shard ran to the end, failing seeds or not (consim sweep's 2 becomes
# 0: the shard file is complete, and a scheduler must not retry it as a crash; the merge
# step reports the failures); consim's own code otherwise (1 bad input, 141, 101).
set -eu
index=$1
count=$2
scenario=${SCENARIO:-scenarios/food_lossy.ron}
seeds=${SEEDS:-0..10000}
out=${OUT:-out}
consim=${CONSIM:-consim}
mkdir -p "$out"
# consim numbers shards from 1; schedulers number tasks from 0.
status=0
"$consim" sweep "$scenario" --seeds "$seeds" --shard "$((index + 1))/$count" --format jsonl --quiet \
    > "$out/shard-$index.jsonl" || status=$?
if [ "$status" -eq 2 ]; then
    exit 0
fi
exit "$status"
