#!/usr/bin/env bash
# Builds the MinIO server (an S3-compatible object store, used by the S3 billing tests) with Go
# into a cache:
#   ${OPSIGHT_MINIO_HOME:-$HOME/.cache/opsight/minio-<version>}/minio
# The version is a Go module pseudo-version pinned to one commit: MinIO's RELEASE.* tags are not
# semver, so the Go module proxy does not serve them by tag (and MinIO no longer publishes
# binaries). Idempotent: a marker written after a complete build makes later runs return at
# once. Safe to run concurrently (flock). Needs Go >= 1.24 on PATH or in /usr/local/go/bin, and
# the Go module proxy. Prints the binary's path on stdout as its last line.
set -euo pipefail

version="v0.0.0-20260212201848-7aac2a2c5b7c"
home="${OPSIGHT_MINIO_HOME:-${HOME:-/root}/.cache/opsight/minio-$version}"
bin="$home/minio"
marker="$home/.complete"

die() {
  echo "scripts/minio/install.sh: $*" >&2
  exit 1
}

complete() { [ -f "$marker" ] && [ "$(cat "$marker")" = "$version" ] && [ -x "$bin" ]; }

if complete; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
for tool in go flock; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found on PATH (Go: https://go.dev/dl/ into /usr/local/go; flock: apt-get install util-linux)"
done

mkdir -p "$home" || die "cannot create $home (set OPSIGHT_MINIO_HOME to a writable directory)"
exec 9>"$home/.lock"
flock 9
# Another process may have finished the build while we waited for the lock.
if complete; then
  echo "$bin"
  exit 0
fi

echo "building MinIO $version with $(go version | cut -d' ' -f3) into $home (a few minutes, once)..." >&2
tmp="$home/bin.partial.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
# GOTOOLCHAIN=local: build with the installed Go rather than downloading the toolchain go.mod names.
if ! GOTOOLCHAIN=local GOBIN="$tmp" CGO_ENABLED=0 go install "github.com/minio/minio@$version" >&2; then
  die "go install github.com/minio/minio@$version failed (is the Go module proxy reachable? see the output above)"
fi
[ -x "$tmp/minio" ] || die "build finished but no minio binary in $tmp"

# Swap in the new binary, then mark it complete: a crash in between leaves no marker.
rm -f "$bin" "$marker"
mv "$tmp/minio" "$bin"
echo "$version" >"$marker"
echo "MinIO ready: $("$bin" --version | head -1)" >&2
echo "$bin"
