#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the audit store tests (README "The webhook").
# A no-op when they are already there. The tests start their own throwaway server on
# loopback on a free port; the cluster that the Debian package creates is left alone.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres.sh: PostgreSQL is missing; run as root (apt-get install postgresql)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
