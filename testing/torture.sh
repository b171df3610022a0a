#!/usr/bin/env bash
# The convergence harness (crates/torture): both captures and both consumers on the pair in
# mappings/torture, writers on both sides, faults, then both sides compared row by row.
# Exits 1 on any mismatch or dead letter; prints its seed.
#
#   testing/torture.sh                       one run of 60 s with faults and a random seed
#   testing/torture.sh --seed 42             replay seed 42's workload and fault plan
#   testing/torture.sh --seconds 600         the soak
#   testing/torture.sh --seeds 10            ten runs in a row, seeds 1..10 (stops at the first failure)
#   testing/torture.sh --help                every option
#
# The broker runs on durable storage here (DUALSYNC_KAFKA_STORAGE=sqlite://tansu.db), so the
# broker restart is one of the faults. TORTURE_PROFILE=release builds optimised binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

export DUALSYNC_KAFKA_STORAGE=${DUALSYNC_KAFKA_STORAGE:-sqlite://tansu.db}
testing/services.sh up
eval "$(testing/services.sh env)"

profile=${TORTURE_PROFILE:-dev}
cargo build -q --profile "$profile" -p dualsync-cli -p dualsync-consumer -p dualsync-torture
dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")

if [ "${1:-}" = --seeds ]; then
  count=$2; shift 2
  for seed in $(seq 1 "$count"); do
    "$dir/torture" --seed "$seed" "$@"
  done
else
  exec "$dir/torture" "$@"
fi
