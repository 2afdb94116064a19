#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1:5432 for the replica tests: start the installed
# cluster when it is not running, install it when it is absent.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then
	exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
	ver=$(ls /etc/postgresql | head -n1)
	# Trust local connections, as the tests connect without a password.
	sed -i 's/^\(host\s\+all\s\+all\s\+127.0.0.1\/32\s\+\).*/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
	sed -i 's/^\(local\s\+all\s\+postgres\s\+\).*/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
fi
ver=$(ls /etc/postgresql | head -n1)
pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
for _ in $(seq 1 50); do
	ready && exit 0
	sleep 0.2
done
echo "postgres: not ready on 127.0.0.1:5432" >&2
exit 1
