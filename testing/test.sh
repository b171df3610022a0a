#!/usr/bin/env bash
# Runs the whole test suite against the real services, starting them first.
# Extra arguments go to `cargo test` (e.g. `testing/test.sh -p dualsync-writer`).
set -euo pipefail
cd "$(dirname "$0")/.."

testing/services.sh up
eval "$(testing/services.sh env)"
echo "test services: $(testing/services.sh status | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
cargo test --workspace "$@"
