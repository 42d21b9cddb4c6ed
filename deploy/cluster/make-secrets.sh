#!/usr/bin/env bash
# Creates, once, the keys both hub replicas share: the development token key
# and the checkpoint signing key (files mounted into each replica's data
# directory) and the master key that wraps case keys (an environment variable).
# In production these come from your secret store; see docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
go run ../../cmd/liaison keys --data secrets >/dev/null
if [ ! -f secrets/hub.env ]; then
  printf 'LIAISON_MASTER_KEY=%s\n' "$(tr -d '\n' < secrets/master.key)" > secrets/hub.env
  chmod 600 secrets/hub.env
fi
chmod 644 secrets/checkpoint.pub
# The containers run as an unprivileged user: let it read the mounted keys.
chmod 644 secrets/dev-token-key.pem secrets/checkpoint.key
echo "secrets ready in $(pwd)/secrets (keep them out of version control)"
