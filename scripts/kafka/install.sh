#!/usr/bin/env bash
# Fetches the Apache Kafka broker jars (see pom.xml) from Maven Central into a cache:
#   ${OPSIGHT_KAFKA_HOME:-$HOME/.cache/opsight/kafka-4.1.1}/lib
# Idempotent: a marker written after a complete download (holding the pom's checksum) makes
# later runs return at once; a changed pom fetches again. Safe to run concurrently (flock).
# Prints the Kafka home directory on stdout as its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${OPSIGHT_KAFKA_HOME:-${HOME:-/root}/.cache/opsight/kafka-4.1.1}"
lib="$home/lib"
marker="$home/.complete"

die() {
  echo "scripts/kafka/install.sh: $*" >&2
  exit 1
}

for tool in java mvn sha256sum flock; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found on PATH (Debian: apt-get install openjdk-17-jre-headless maven coreutils util-linux)"
done

want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
complete() { [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && [ -d "$lib" ]; }

if complete; then
  echo "$home"
  exit 0
fi

mkdir -p "$home" || die "cannot create $home (set OPSIGHT_KAFKA_HOME to a writable directory)"
exec 9>"$home/.lock"
flock 9
# Another process may have finished the download while we waited for the lock.
if complete; then
  echo "$home"
  exit 0
fi

echo "fetching Kafka jars from Maven Central into $lib (about 45 MB, once)..." >&2
tmp="$home/lib.partial.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$tmp" -DincludeScope=runtime >&2; then
  die "mvn could not fetch the Kafka jars (is Maven Central reachable? see the Maven output above)"
fi
ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "download finished but no kafka_2.13 jar in $tmp"
ls "$tmp"/slf4j-reload4j-*.jar >/dev/null 2>&1 || die "download finished but no slf4j-reload4j jar in $tmp"

# Swap in the new lib whole, then mark it complete: a crash in between leaves no marker.
rm -rf "$lib" "$marker"
mv "$tmp" "$lib"
echo "$want" >"$marker"
echo "Kafka jars ready: $(ls "$lib" | wc -l) files, $(du -sh "$lib" | cut -f1)" >&2
echo "$home"
