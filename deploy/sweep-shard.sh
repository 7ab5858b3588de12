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
# Exit code: consim sweep's (0 no failing seed, 2 some seed failed: the shard file is
# complete either way; 1 bad input). A scheduler should treat 2 as done, not as a crash.
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
