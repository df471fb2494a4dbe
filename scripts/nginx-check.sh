#!/usr/bin/env bash
# nginx-check.sh: replay a real nginx's limit_req with keyrate.
#
# Installs Debian's nginx if it is missing (apt-get, as root), starts it on
# a free loopback port with scripts/nginxcheck/nginx.conf.tmpl (limit_req
# zones: nodelay, per-minute, delaying, a slow proxied upstream, two zones
# on one location), drives a bounded deterministic load from
# scripts/nginxcheck (a few thousand requests from 32 keys over
# NGINX_CHECK_DURATION), stops nginx by its pid, and runs the current
# keyrate over the access log with the matching policy
# (scripts/nginxcheck/policy.toml) and --verdict-field limit_req_status,
# four ways:
#
#   raw      the log as nginx wrote it, its log_format as --log-format: keyrate
#            reads the arrival, $msec - $request_time (ms)
#   json     nginx's JSON log of the same requests (escape=json), --format json:
#            the arrival, msec - request_time, again
#   logged   the raw log with --time logged: $msec, when each line was written
#   seconds  the raw log declared with $time_local as its only time: the arrival
#            $time_local - $request_time, to the second
#
# and prints per limit (zone) and key nginx's REJECTED count against
# keyrate's ideal rejections, leaked and false throttles at 1-minute (and
# 1-second) buckets, then what a line-by-line model of nginx's limit_req
# says for the same requests.
#
# Environment:
#   NGINX_CHECK_WORKERS   worker_processes values to run, e.g. "1 2" (default 1)
#   NGINX_CHECK_DURATION  load schedule length (default 25s)
#   NGINX_CHECK_SEED      load seed (default 1)
#   NGINX_CHECK_FORGET=1  add the 62-second phase showing nginx forgetting keys
#   NGINX_CHECK_STRICT    keyrate runs that must agree with nginx at 1-minute buckets
#                         (ideal = REJECTED, no leaked, no false throttles per limit
#                         and key) for every limit but NGINX_CHECK_ALLOW_DIFFER,
#                         within the verdicts a 1-ms clock difference can flip
#                         (default "raw,json")
#   NGINX_CHECK_ALLOW_DIFFER  limits exempt from the strict check (default
#                         "forget_a": keyrate does not forget keys as nginx does
#                         (docs/policy.md); the zones of one location are one plan,
#                         compared by the plan's rejections among their requests)
#   NGINX_CHECK_SLACK_MS  the clock difference tolerated (default 1; 0: exact)
#   NGINX_CHECK_KEEP=DIR  keep logs, configs and reports under DIR
#
# Exits non-zero if nginx cannot be installed or started, if the load
# fails (any transport error, any request not sent), if the access log
# does not hold one line per request, or if a strict run differs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
workers_list=${NGINX_CHECK_WORKERS:-1}
duration=${NGINX_CHECK_DURATION:-25s}
seed=${NGINX_CHECK_SEED:-1}
strict=${NGINX_CHECK_STRICT-raw,json}
allow=${NGINX_CHECK_ALLOW_DIFFER-forget_a}
slack=${NGINX_CHECK_SLACK_MS:-1}
forget=()
[ "${NGINX_CHECK_FORGET:-0}" = 1 ] && forget=(-forget)

tmp=$(mktemp -d)
ngx_pid=
cleanup() {
	if [ -n "$ngx_pid" ] && kill -0 "$ngx_pid" 2>/dev/null; then
		kill -TERM "$ngx_pid" 2>/dev/null || true
		wait "$ngx_pid" 2>/dev/null || true
	fi
	if [ -n "${NGINX_CHECK_KEEP:-}" ]; then
		mkdir -p "$NGINX_CHECK_KEEP" && cp -r "$tmp"/. "$NGINX_CHECK_KEEP"/ || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v nginx >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "nginx-check: nginx is not installed and this is not root (apt-get install -y nginx)" >&2
		exit 1
	fi
	echo "== apt-get install -y nginx"
	DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null; }
fi
nginx_version=$(nginx -v 2>&1)
echo "== $nginx_version ($(dpkg-query -W -f '${Package} ${Version}' nginx 2>/dev/null || echo 'not a Debian package'))"

(cd "$root" && go build -o "$tmp/keyrate" ./cmd/keyrate && go build -o "$tmp/nginxcheck" ./scripts/nginxcheck)
nc=$tmp/nginxcheck
"$nc" policy >"$tmp/policy.toml"

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

keyrate_run() { # NAME INTERVAL ARGS...: keyrate over this run's log into $dir/out-NAME-INTERVAL
	local name=$1 interval=$2
	shift 2
	"$tmp/keyrate" analyze --quiet --output csv --policy "$tmp/policy.toml" \
		--key header:X-Api-Key,query:api_key --verdict-field limit_req_status \
		--report-interval "$interval" --out "$dir/out-$name-$interval" "$@"
}

for workers in $workers_list; do
	dir=$tmp/workers-$workers
	echo
	echo "== worker_processes $workers: start nginx"
	eval "$("$nc" config -dir "$dir" -workers "$workers")" # sets port, upstream_port, conf
	nginx -t -q -c "$conf" -e "$dir/error.log"
	nginx -c "$conf" -e "$dir/error.log" &
	ngx_pid=$!
	wait_port "$port" || { echo "nginx-check: nginx did not listen on 127.0.0.1:$port" >&2; cat "$dir/error.log" >&2; exit 1; }
	[ "$(cat "$dir/nginx.pid")" = "$ngx_pid" ] || { echo "nginx-check: pid file does not name the master $ngx_pid" >&2; exit 1; }

	echo "== load ($duration, seed $seed${forget:+, with the forgetting phase})"
	"$nc" load -target "127.0.0.1:$port" -upstream "127.0.0.1:$upstream_port" \
		-duration "$duration" -seed "$seed" "${forget[@]}" -summary "$dir/load.json"

	echo "== stop nginx (pid $ngx_pid, SIGQUIT: finish and log every request)"
	kill -QUIT "$(cat "$dir/nginx.pid")"
	wait "$ngx_pid" || true
	ngx_pid=
	log=$dir/access.log
	lines=$(wc -l <"$log")
	responses=$(sed -n 's/.*"responses": \([0-9]*\).*/\1/p' "$dir/load.json")
	[ "$lines" = "$responses" ] || { echo "nginx-check: $lines log lines for $responses responses" >&2; exit 1; }
	echo "$lines requests logged; verdicts: $(awk '{print $(NF-2)}' "$log" | sort | uniq -c | tr -s ' ' | paste -sd,)"

	json_lines=$(wc -l <"$dir/access.json")
	[ "$json_lines" = "$responses" ] || { echo "nginx-check: $json_lines JSON log lines for $responses responses" >&2; exit 1; }
	for interval in 1m 1s; do
		keyrate_run raw "$interval" --log-format "$("$nc" layout)" "$log"
		keyrate_run json "$interval" --format json "$dir/access.json"
		keyrate_run logged "$interval" --log-format "$("$nc" layout)" --time logged "$log"
		keyrate_run seconds "$interval" --log-format "$("$nc" layout -times time_local)" "$log"
	done

	for interval in 1m 1s; do
		echo
		echo "== keyrate vs nginx, worker_processes $workers, $interval buckets (ideal = keyrate's excess; leaked, false summed per bucket)"
		s=
		[ "$interval" = 1m ] && s=$strict
		"$nc" compare -log "$log" -conf "$conf" -keys -strict "$s" -allow-differ "$allow" -slack-ms "$slack" \
			raw="$dir/out-raw-$interval" json="$dir/out-json-$interval" logged="$dir/out-logged-$interval" seconds="$dir/out-seconds-$interval"
	done
	echo
	echo "== nginx's verdicts vs a model of ngx_http_limit_req_module, worker_processes $workers"
	"$nc" model -log "$log" -conf "$conf" -errorlog "$dir/error.log"
done
echo
echo "nginx-check: passed ($nginx_version; strict runs: ${strict:-none}; exempt limits: ${allow:-none})"
