#!/usr/bin/env bash
# A marked row inserted and updated on the revamp side reaches the legacy side, within
# SCENARIO_TIMEOUT, and nothing comes back. Settings: README.md beside this file.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cross revamp legacy
pass "$CROSSED"
