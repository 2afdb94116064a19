#!/usr/bin/env bash
# Installs what the integration tests need when it is absent. Under CI=true a
# failed install stops the run; elsewhere the tests that need the missing
# server say so and skip.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
for part in "$here"/deps.d/*.sh; do
	[ -e "$part" ] || continue
	if ! bash "$part"; then
		echo "deps: $(basename "$part") failed" >&2
		status=1
	fi
done
if [ "$status" -ne 0 ] && [ "${CI:-}" = "true" ]; then
	exit 1
fi
exit 0
