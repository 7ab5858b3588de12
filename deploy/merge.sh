#!/bin/sh
# Merges the shard files of a sweep into one summary: the failing seeds with their replay
# commands. Run it once every shard has finished.
#
#   merge.sh [OUT]
#
# Exit code: consim merge's (0 no failing seed, 2 some seed failed, 1 a shard is missing or
# belongs to another sweep).
set -eu
out=${1:-${OUT:-out}}
consim=${CONSIM:-consim}
exec "$consim" merge "$out"/shard-*.jsonl
