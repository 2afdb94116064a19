#!/usr/bin/env bash
# versitygw: the S3-compatible server (posix backend, SigV4 checked) that the
# s3 provider's integration tests start on 127.0.0.1. Installed with
# `go install` into GOPATH/bin when it is not already in PATH or there;
# internal/testenv looks in the same two places.
set -euo pipefail
version=v1.8.0
gobin="$(go env GOPATH)/bin"
if command -v versitygw >/dev/null 2>&1 || [ -x "$gobin/versitygw" ]; then
	exit 0
fi
echo "deps: installing versitygw $version into $gobin (about 1.5 minutes)" >&2
GOBIN="$gobin" go install "github.com/versity/versitygw/cmd/versitygw@$version"
