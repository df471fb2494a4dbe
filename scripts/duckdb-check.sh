#!/usr/bin/env bash
# duckdb-check.sh: CI check that an independent engine, DuckDB, reads
# keyrate's day-partitioned Parquet dataset with Hive partitioning and
# the documented types and counts (docs/schema.md). Needs only Go, node
# and npm; installs @duckdb/node-api into a temporary directory and
# leaves nothing behind. Exits non-zero on any mismatch.
set -euo pipefail

DUCKDB_NODE_API_VERSION=1.5.6-r.1
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$root" && go build -o "$tmp/keyrate" ./cmd/keyrate)
cp "$root/scripts/duckdb-check.mjs" "$tmp/"
(cd "$tmp" && npm init -y >/dev/null &&
	npm install --no-audit --no-fund --loglevel=error "@duckdb/node-api@$DUCKDB_NODE_API_VERSION" >/dev/null)

node "$tmp/duckdb-check.mjs" gen "$tmp/logs"
run() {
	"$tmp/keyrate" analyze --limit 30/min --limit 1000/h --all-windows --partition day --out "$tmp/out" "$tmp/logs"/access-*.log
}
run 2>/dev/null
cp "$tmp/out/manifest.json" "$tmp/manifest1.json"
# A second run of the same night reads nothing and leaves the dataset
# identical.
sums() { (cd "$tmp/out" && find . -name 'part-*' -type f | sort | xargs sha256sum); }
sums >"$tmp/sums1"
run 2>"$tmp/stderr"
grep -q 'already in the dataset' "$tmp/stderr" || { echo "FAIL the second run did not say it skipped the inputs" >&2; exit 1; }
sums >"$tmp/sums2"
cmp -s "$tmp/sums1" "$tmp/sums2" || { echo "FAIL re-running the night changed the dataset" >&2; exit 1; }
echo "ok   re-run reads nothing and is byte-identical"
node "$tmp/duckdb-check.mjs" check "$tmp/out" "$tmp/logs" "$tmp/manifest1.json"
