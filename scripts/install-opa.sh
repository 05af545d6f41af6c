#!/usr/bin/env bash
# Install the pinned OPA and Regal into .tools/bin (see install-tool.sh for the order tried).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-tool.sh" opa
"$here/install-tool.sh" regal
