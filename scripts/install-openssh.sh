#!/usr/bin/env bash
# Debian's openssh-client for the witness tests: litewitness keeps its key in an ssh-agent.
# A no-op when ssh-agent, ssh-add and ssh-keygen are already there.
set -euo pipefail
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-openssh.sh: openssh-client is missing; run as root (apt-get install openssh-client)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-client >/dev/null
