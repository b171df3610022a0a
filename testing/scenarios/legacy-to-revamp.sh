#!/usr/bin/env bash
# A marked row inserted and updated on the legacy side reaches the revamp side, within
# SCENARIO_TIMEOUT, and nothing comes back. Settings: README.md beside this file.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cross legacy revamp
pass "$CROSSED"
