#!/usr/bin/env bash
# Runs the whole test suite against the real services, starting them first.
# Extra arguments go to `cargo test` (e.g. `testing/test.sh -p dualsync-writer`); without them
# docker-compose.yml's static checks (`testing/compose-check.sh`), the live two-way demo's check
# (`testing/live.sh --check`: a change crosses each way), the operator scenarios against it with
# both capture paths (`testing/scenarios/run-local.sh`), then
# the short run of the convergence harness (30 s of writes with faults, seed $TORTURE_SEED or 1;
# about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

testing/services.sh up
eval "$(testing/services.sh env)"
echo "test services: $(testing/services.sh status | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
cargo test --workspace "$@"
if [ $# -eq 0 ]; then
  testing/compose-check.sh
  testing/live.sh --check
  testing/scenarios/run-local.sh
  testing/torture.sh --seed "${TORTURE_SEED:-1}" --seconds 30
fi
