#!/usr/bin/env bash
# Pylon's load benchmark: Pylon against nginx, a bytes-only Go forwarder and no proxy at
# all, on this machine.
#
#   bash bench/run.sh                         # defaults: ~4 minutes
#   DURATION=20s ROUNDS=5 bash bench/run.sh   # longer, steadier
#   STRICT=1 bash bench/run.sh                # exit 1 when a target check FAILs
#   MODE=llm-chat bash bench/run.sh           # the LLM path: POST /v1/chat/completions
#   MODE=llm-stream bash bench/run.sh         # the same, streamed (SSE with usage)
#
# It builds pylon, the fake upstream (bench/upstream) and the floor (bench/floor), starts
# the upstream, nginx as a plain keep-alive reverse proxy, the floor (the cheapest Go
# keep-alive reverse proxy: bytes copied verbatim, one upstream connection per client
# connection; a reference for what Go's runtime costs, not a target) and Pylon on free
# loopback ports, then for each round and each target (direct upstream, nginx, floor,
# pylon; the order rotates every round) runs
#   - wrk with CONNECTIONS connections and THREADS threads for DURATION (after a WARMUP run
#     that is thrown away): throughput, p50, p99; the proxy's CPU time per request (utime +
#     stime from /proc/<pid>/stat, nginx master + workers) over that run;
#   - wrk with 1 connection, 1 thread, for LAT_DURATION: p50, the latency a proxy adds;
#   - with MODE=llm-stream, bench/ttfb for LAT_DURATION: one request at a time on one
#     connection, p50 of the time to the first byte of the streamed body (the first event).
# It reports medians over the rounds, the ratios, and PASS/FAIL against Pylon's targets.
# See bench/README.md for how to read it and its caveats.
#
# Knobs (environment):
#   MODE=proxy    proxy: GET / forwarded to a cluster; llm-chat: an OpenAI chat completion
#                 through an llm route (parsed, routed, usage counted) against a fake OpenAI
#                 upstream; llm-stream: the same call streamed (nine chunks, usage, [DONE])
#   DURATION=10s  LAT_DURATION=5s  WARMUP=2s  ROUNDS=3  CONNECTIONS=50  THREADS=2
#   BODY_SIZE=64 (bytes of the upstream's response body)
#   TARGETS="direct nginx floor pylon" (any subset, in that spelling)
#   PYLON_BIN=path   use this pylon binary instead of building ./cmd/pylon
#   STRICT=1         exit 1 if any check FAILs (default: exit 0 whatever the results)
#   KEEP_TMP=1       keep the temp dir (configs, logs, raw wrk outputs)
#   PIN=1            pin wrk to the last CPU and the servers to the others (taskset); off by
#                    default: see README.md, "Why no taskset"
#
# Everything it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10s}
LAT_DURATION=${LAT_DURATION:-5s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
BODY_SIZE=${BODY_SIZE:-64}
TARGETS=${TARGETS:-"direct nginx floor pylon"}
STRICT=${STRICT:-0}
KEEP_TMP=${KEEP_TMP:-0}
PIN=${PIN:-0}
MODE=${MODE:-proxy}
export MODE # read by the wrk script

# Targets Pylon is held to. The proxy path is compared with nginx; the LLM path (which
# does more than nginx can: parse, route, account) with the direct call.
MIN_THROUGHPUT_VS_NGINX=0.85 # proxy: pylon req/s >= 85% of nginx's
MIN_THROUGHPUT_VS_DIRECT=0.5 # llm: pylon req/s >= 50% of direct
MAX_CPU_US=60                # llm: pylon CPU per request
MAX_ADDED_P50_MS=0.15        # pylon p50 at 1 connection - direct p50 at 1 connection
MAX_PEAK_RSS_MB=64           # pylon VmHWM
UP_ARGS=() PATH_URL=/ READY_WANT='"ok":true'
case $MODE in
proxy) ;;
llm-chat | llm-stream)
	UP_ARGS=(-llm "${MODE#llm-}")
	PATH_URL=/v1/chat/completions
	READY_WANT=chatcmpl-bench
	[[ $MODE == llm-chat ]] && MAX_ADDED_P50_MS=0.2 # issue 3: at most 0.2 ms added at 1c
	;;
*)
	echo "bench: MODE must be proxy, llm-chat or llm-stream, got '$MODE'" >&2
	exit 1
	;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench: $*"
	exit 1
}

# Normalise "10", "10s", "2m" for wrk (which takes 10s / 2m) and to seconds for estimates.
norm_duration() {
	case $1 in
	*[0-9]) echo "${1}s" ;;
	*[0-9]s | *[0-9]m | *[0-9]h) echo "$1" ;;
	*) die "bad duration '$1' (want e.g. 10 or 10s)" ;;
	esac
}
seconds_of() {
	local d=$1
	case $d in
	*s) echo "${d%s}" ;;
	*m) echo $((${d%m} * 60)) ;;
	*h) echo $((${d%h} * 3600)) ;;
	esac
}
DURATION=$(norm_duration "$DURATION")
LAT_DURATION=$(norm_duration "$LAT_DURATION")
WARMUP=$(norm_duration "$WARMUP")
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
((THREADS <= CONNECTIONS)) || THREADS=$CONNECTIONS
for t in $TARGETS; do
	case $t in direct | nginx | floor | pylon) ;; *) die "unknown target '$t' in TARGETS" ;; esac
done
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if has_target nginx && [[ -z $NGINX ]]; then missing+=(nginx); fi
if ((${#missing[@]})); then
	log "bench: installing ${missing[*]} (apt-get)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	NGINX=$(command -v nginx || true)
	[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
fi
command -v wrk >/dev/null 2>&1 || die "wrk is not installed"
if has_target nginx; then [[ -n $NGINX ]] || die "nginx is not installed"; fi
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

# ---------------------------------------------------------------- processes and cleanup
TMP=$(mktemp -d /tmp/pylon-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers may run as nobody
PIDS=()          # every process this script started, stopped on exit
NGINX_WORKERS=()

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in $(seq 1 50); do
		local alive=0
		for pid in "${PIDS[@]}" "${NGINX_WORKERS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${PIDS[@]}" "${NGINX_WORKERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ $KEEP_TMP == 1 ]]; then
		log "bench: kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pick_port sets PORT to a loopback TCP port nothing listens on, below the ephemeral range
# (so that wrk's and the proxies' own outgoing connections cannot take it).
USED_PORTS=" "
pick_port() {
	local p _
	for _ in $(seq 1 500); do
		p=$((20000 + RANDOM % 12000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
		if command -v ss >/dev/null 2>&1 && [[ -n $(ss -Htln "sport = :$p" 2>/dev/null) ]]; then continue; fi
		USED_PORTS+="$p "
		PORT=$p
		return 0
	done
	die "no free port found"
}

# http_get PORT PATH: the raw response of one GET (Connection: close), empty on failure.
http_get() {
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" "$2" >&3
		cat <&3' _ "$1" "$2" 2>/dev/null || true
}

# wait_ready NAME PID PORT PATH [BODY_SUBSTRING]: until PORT answers PATH with 200.
wait_ready() {
	local name=$1 pid=$2 port=$3 path=$4 want=${5:-} resp i
	for i in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "bench: $name exited during startup; its log:"
			cat "$TMP/$name.log" >&2 2>/dev/null || true
			exit 1
		fi
		resp=$(http_get "$port" "$path" | tr -d '\r')
		if [[ $resp == "HTTP/1."?" 200"* && (-z $want || $resp == *"$want"*) ]]; then
			return 0
		fi
		sleep 0.2
	done
	log "bench: $name did not answer 200 on 127.0.0.1:$port$path within 30s; last response:"
	log "${resp:-<none>}"
	log "its log:"
	cat "$TMP/$name.log" >&2 2>/dev/null || true
	exit 1
}

# children PID: the pids whose parent is PID.
children() {
	local f stat rest
	local -a fields
	for f in /proc/[0-9]*/stat; do
		{ stat=$(<"$f"); } 2>/dev/null || continue
		rest=${stat##*) }
		read -r -a fields <<<"$rest"
		[[ ${fields[1]} == "$1" ]] && echo "${f//[^0-9]/}"
	done
	return 0
}

# cpu_ticks PID...: utime + stime, summed, in clock ticks (all threads of each process).
cpu_ticks() {
	local sum=0 pid stat rest
	local -a fields
	for pid in "$@"; do
		{ stat=$(<"/proc/$pid/stat"); } 2>/dev/null || continue
		rest=${stat##*) } # fields from 3 (state) on: utime is field 14, stime field 15
		read -r -a fields <<<"$rest"
		sum=$((sum + fields[11] + fields[12]))
	done
	echo "$sum"
}

# hwm_kb PID...: VmHWM (peak resident set) summed, in kB.
hwm_kb() {
	local sum=0 pid v
	for pid in "$@"; do
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

SRV_PIN=() WRK_PIN=()
if [[ $PIN == 1 ]]; then
	((NCPU >= 2)) || die "PIN=1 needs at least 2 CPUs"
	command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (util-linux)"
	WRK_PIN=(taskset -c "$((NCPU - 1))")
	SRV_PIN=(taskset -c "0-$((NCPU - 2))")
fi

# ---------------------------------------------------------------- build
log "bench: building into $TMP"
if has_target pylon; then
	if [[ -n ${PYLON_BIN:-} ]]; then
		cp "$PYLON_BIN" "$TMP/pylon"
	else
		(cd "$ROOT" && go build -o "$TMP/pylon" ./cmd/pylon) || die "building pylon failed"
	fi
fi
(cd "$ROOT" && go build -o "$TMP/upstream" ./bench/upstream) || die "building bench/upstream failed"
if has_target floor; then
	(cd "$ROOT" && go build -o "$TMP/floor" ./bench/floor) || die "building bench/floor failed"
fi
if [[ $MODE == llm-stream ]]; then
	(cd "$ROOT" && go build -o "$TMP/ttfb" ./bench/ttfb) || die "building bench/ttfb failed"
fi
STREAM_BODY='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"temperature":0.7,"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}'

# ---------------------------------------------------------------- start
pick_port
UP_PORT=$PORT
"${SRV_PIN[@]}" "$TMP/upstream" -addr "127.0.0.1:$UP_PORT" -size "$BODY_SIZE" "${UP_ARGS[@]}" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
wait_ready upstream "$UP_PID" "$UP_PORT" / "$READY_WANT"
declare -A PORT_OF=([direct]=$UP_PORT)

if has_target nginx; then
	pick_port
	NGINX_PORT=$PORT
	mkdir -p "$TMP/nginx/tmp"
	cat >"$TMP/nginx/nginx.conf" <<EOF
# Plain keep-alive reverse proxy: the baseline Pylon is compared with.
worker_processes auto;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path       $TMP/nginx/tmp/proxy;
    fastcgi_temp_path     $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path       $TMP/nginx/tmp/uwsgi;
    scgi_temp_path        $TMP/nginx/tmp/scgi;
    # Keep wrk's connections open for the whole run (the default closes one every 1000 requests).
    keepalive_requests 1000000;
    keepalive_timeout 65s;

    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }

    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
	"${SRV_PIN[@]}" "$NGINX" -e "$TMP/nginx.log" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" >>"$TMP/nginx.log" 2>&1 &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	wait_ready nginx "$NGINX_PID" "$NGINX_PORT" / "$READY_WANT"
	mapfile -t NGINX_WORKERS < <(children "$NGINX_PID")
	((${#NGINX_WORKERS[@]})) || die "found no nginx worker process under $NGINX_PID"
	PORT_OF[nginx]=$NGINX_PORT
fi

if has_target floor; then
	# The calibration floor: bytes-only forwarding, no header touched (bench/floor/main.go).
	pick_port
	FLOOR_PORT=$PORT
	"${SRV_PIN[@]}" "$TMP/floor" -addr "127.0.0.1:$FLOOR_PORT" -upstream "127.0.0.1:$UP_PORT" >"$TMP/floor.log" 2>&1 &
	FLOOR_PID=$!
	PIDS+=("$FLOOR_PID")
	# Like nginx, it forwards any method and path; the fake upstream answers a GET of / with
	# its usual body in every mode, which is what READY_WANT looks for.
	wait_ready floor "$FLOOR_PID" "$FLOOR_PORT" / "$READY_WANT"
	PORT_OF[floor]=$FLOOR_PORT
fi

if has_target pylon; then
	pick_port
	PYLON_PORT=$PORT
	pick_port
	ADMIN_PORT=$PORT
	if [[ $MODE == llm-* ]]; then
		cat >"$TMP/pylon.yaml" <<EOF
admin: {address: 127.0.0.1:$ADMIN_PORT}
drain_timeout: 1s
listeners:
  - name: bench
    address: 127.0.0.1:$PYLON_PORT
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /v1/}
            llm: {}
providers:
  - {name: up, type: openai, base_url: "http://127.0.0.1:$UP_PORT/v1", api_keys: [{value: sk-bench}], models: [gpt-4o-mini]}
EOF
	else
		cat >"$TMP/pylon.yaml" <<EOF
admin: {address: 127.0.0.1:$ADMIN_PORT}
drain_timeout: 1s
listeners:
  - name: bench
    address: 127.0.0.1:$PYLON_PORT
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: upstream
clusters:
  - name: upstream
    endpoints: ["127.0.0.1:$UP_PORT"]
EOF
	fi
	"${SRV_PIN[@]}" "$TMP/pylon" serve -c "$TMP/pylon.yaml" --log-level warn --watch=false >"$TMP/pylon.log" 2>&1 &
	PYLON_PID=$!
	PIDS+=("$PYLON_PID")
	wait_ready pylon "$PYLON_PID" "$ADMIN_PORT" /ready
	if [[ $MODE == llm-* ]]; then
		wait_ready pylon "$PYLON_PID" "$PYLON_PORT" /v1/models gpt-4o-mini
	else
		wait_ready pylon "$PYLON_PID" "$PYLON_PORT" / '"ok":true'
	fi
	PORT_OF[pylon]=$PYLON_PORT
fi

# proc_pids TARGET: the processes whose CPU and memory are the target's own cost.
proc_pids() {
	case $1 in
	direct) echo "$UP_PID" ;;
	nginx) echo "$NGINX_PID ${NGINX_WORKERS[*]}" ;;
	floor) echo "$FLOOR_PID" ;;
	pylon) echo "$PYLON_PID" ;;
	esac
}
# mem_pids TARGET: the processes whose peak RSS is reported (nginx: its workers).
mem_pids() {
	case $1 in
	nginx) echo "${NGINX_WORKERS[*]}" ;;
	*) proc_pids "$1" ;;
	esac
}

# ---------------------------------------------------------------- wrk
# A done() hook prints exact numbers (latencies in µs) on one line; the human-readable
# output is parsed as a fallback.
# bench/request.lua sets the request by MODE; the done() hook is appended to it.
cp "$ROOT/bench/request.lua" "$TMP/report.lua"
cat >>"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%.2f p99_us=%.2f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# parse_wrk FILE: prints "rps p50_us p99_us requests errors" from one wrk output.
parse_wrk() {
	awk '
	function us(v,   n, u) { # "477.00us" "1.20ms" "2.00s" "1.00m" -> microseconds
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") return n
		if (u == "ms") return n * 1000
		if (u == "s")  return n * 1000000
		if (u == "m")  return n * 60000000
		if (u == "h")  return n * 3600000000
		return -1
	}
	function secs(v) { return us(v) / 1000000 }
	/^BENCH / {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); b[kv[1]] = kv[2] }
		have = 1
	}
	$1 == "50%" { t50 = us($2) }
	$1 == "99%" { t99 = us($2) }
	/ requests in / { treq = $1; tdur = secs(substr($4, 1, length($4) - 1)) }
	/^Requests\/sec:/ { trps = $2 }
	/Non-2xx or 3xx responses:/ { terr += $NF }
	/Socket errors:/ { gsub(/,/, ""); terr += $4 + $6 + $8 + $10 }
	END {
		if (have && b["duration_us"] > 0) {
			err = b["connect"] + b["read"] + b["write"] + b["status"] + b["timeout"]
			printf "%.2f %.2f %.2f %d %d\n", b["requests"] / (b["duration_us"] / 1000000), b["p50_us"], b["p99_us"], b["requests"], err
		} else if (trps != "" && t50 != "") {
			printf "%.2f %.2f %.2f %d %d\n", trps, t50, t99, treq, terr
		} else {
			print "0 -1 -1 0 -1"
		}
	}' "$1"
}

# run_wrk OUT CONNS THREADS DURATION URL
run_wrk() {
	local out=$1 conns=$2 threads=$3 dur=$4 url=$5
	"${WRK_PIN[@]}" wrk -t"$threads" -c"$conns" -d"$dur" --timeout 5s --latency -s "$TMP/report.lua" "$url" >"$out" 2>&1 || true
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }'; }

# ---------------------------------------------------------------- run
read -ra TLIST <<<"$TARGETS"
NT=${#TLIST[@]}
est=$((ROUNDS * NT * ($(seconds_of "$WARMUP") + $(seconds_of "$DURATION") + $(seconds_of "$LAT_DURATION"))))
log "bench: upstream :$UP_PORT${NGINX_PORT:+  nginx :$NGINX_PORT}${FLOOR_PORT:+  floor :$FLOOR_PORT}${PYLON_PORT:+  pylon :$PYLON_PORT (admin :$ADMIN_PORT)}"
log "bench: $ROUNDS rounds x ${TLIST[*]}: ${CONNECTIONS}c/${THREADS}t for $DURATION (after $WARMUP warmup), 1c/1t for $LAT_DURATION; about ${est}s"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A RPS P50 P99 L50 CPU UPCPU ERRS TTFB
for r in $(seq 1 "$ROUNDS"); do
	for k in $(seq 0 $((NT - 1))); do
		t=${TLIST[$(((k + r - 1) % NT))]} # rotate the order every round
		url="http://127.0.0.1:${PORT_OF[$t]}$PATH_URL"
		read -ra pids <<<"$(proc_pids "$t")"

		run_wrk "$TMP/wrk-$t-$r-warmup.txt" "$CONNECTIONS" "$THREADS" "$WARMUP" "$url"

		c0=$(cpu_ticks "${pids[@]}")
		u0=$(cpu_ticks "$UP_PID")
		run_wrk "$TMP/wrk-$t-$r-c$CONNECTIONS.txt" "$CONNECTIONS" "$THREADS" "$DURATION" "$url"
		c1=$(cpu_ticks "${pids[@]}")
		u1=$(cpu_ticks "$UP_PID")
		read -r rps p50 p99 nreq err < <(parse_wrk "$TMP/wrk-$t-$r-c$CONNECTIONS.txt")
		if ((nreq > 0)); then
			cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$nreq" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
			upcpu=$(awk -v d=$((u1 - u0)) -v hz="$CLK_TCK" -v n="$nreq" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
		else
			cpu=nan upcpu=nan
			log "bench: wrk against $t gave no result; its output:"
			cat "$TMP/wrk-$t-$r-c$CONNECTIONS.txt" >&2
		fi

		run_wrk "$TMP/wrk-$t-$r-c1.txt" 1 1 "$LAT_DURATION" "$url"
		read -r _ l50 _ nreq1 err1 < <(parse_wrk "$TMP/wrk-$t-$r-c1.txt")
		((nreq1 > 0)) || l50=nan
		ttfb=nan
		if [[ $MODE == llm-stream ]]; then
			if "$TMP/ttfb" -url "$url" -body "$STREAM_BODY" -d "$LAT_DURATION" >"$TMP/ttfb-$t-$r.txt" 2>&1; then
				ttfb=$(sed -n 's/.*ttfb_p50_us=\([0-9.]*\).*/\1/p' "$TMP/ttfb-$t-$r.txt")
			else
				log "bench: ttfb against $t failed:"
				cat "$TMP/ttfb-$t-$r.txt" >&2
			fi
		fi
		TTFB[$t]+="${ttfb:-nan} "

		RPS[$t]+="$rps " P50[$t]+="$p50 " P99[$t]+="$p99 " L50[$t]+="$l50 "
		CPU[$t]+="$cpu " UPCPU[$t]+="$upcpu "
		ERRS[$t]=$((${ERRS[$t]:-0} + err + err1))
		printf 'round %d/%d  %-6s  %dc: %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.1f us/req   1c: p50 %6.3f ms%s\n' \
			"$r" "$ROUNDS" "$t" "$CONNECTIONS" "$rps" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" \
			"$(awk -v v="$p99" 'BEGIN{print v/1000}')" "$cpu" "$(awk -v v="$l50" 'BEGIN{print v/1000}')" \
			"$( ((err + err1)) && echo "  ERRORS: $((err + err1))" || true)"
		[[ $MODE == llm-stream ]] && printf '               first streamed byte at 1c: p50 %s ms\n' "$(awk -v v="$ttfb" 'BEGIN{if (v=="nan") print v; else printf "%.3f", v/1000}')"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
declare -A M_RPS M_P50 M_P99 M_L50 M_CPU M_UPCPU M_RSS SPREAD M_TTFB
for t in "${TLIST[@]}"; do
	# shellcheck disable=SC2086 # word splitting of the space-separated samples is intended
	{
		M_RPS[$t]=$(median ${RPS[$t]})
		M_P50[$t]=$(median ${P50[$t]})
		M_P99[$t]=$(median ${P99[$t]})
		M_L50[$t]=$(median ${L50[$t]})
		M_CPU[$t]=$(median ${CPU[$t]})
		M_UPCPU[$t]=$(median ${UPCPU[$t]})
		M_TTFB[$t]=$(median ${TTFB[$t]})
		read -r lo hi <<<"$(minmax ${RPS[$t]})"
	}
	SPREAD[$t]=$(awk -v lo="$lo" -v hi="$hi" -v m="${M_RPS[$t]}" 'BEGIN { if (m > 0) printf "%.0f", (hi - lo) / m * 100; else print "nan" }')
	read -ra mp <<<"$(mem_pids "$t")"
	M_RSS[$t]=$(awk -v kb="$(hwm_kb "${mp[@]}")" 'BEGIN { printf "%.1f", kb / 1024 }')
done

ms() { awk -v v="$1" 'BEGIN { if (v == "nan" || v < 0) print "nan"; else printf "%.3f", v / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b <= 0) print "nan"; else printf "%.3f", a / b }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a < 0 || b < 0) print "nan"; else printf "%.3f", (a - b) / 1000 }'; }

echo
echo "Pylon load benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $NCPU CPUs, load avg before: $LOAD_BEFORE, after: $LOAD_AFTER"
echo "mode $MODE: wrk ${CONNECTIONS}c/${THREADS}t ${DURATION} + 1c/1t ${LAT_DURATION}, ${ROUNDS} rounds (medians; spread = (max-min)/median of req/s), body ${BODY_SIZE} B, pin=$PIN"
echo "$(go version 2>/dev/null | cut -d' ' -f3-) | $("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true) | $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo
printf '%-8s %11s %7s %10s %10s %11s %11s %12s %12s %7s\n' \
	target "req/s" spread "p50 ms" "p99 ms" "p50@1c ms" "CPU us/req" "peak RSS MB" "upstr us/req" errors
for t in "${TLIST[@]}"; do
	printf '%-8s %11.0f %6s%% %10s %10s %11s %11.1f %12s %12.1f %7s\n' \
		"$t" "${M_RPS[$t]}" "${SPREAD[$t]}" "$(ms "${M_P50[$t]}")" "$(ms "${M_P99[$t]}")" "$(ms "${M_L50[$t]}")" \
		"${M_CPU[$t]}" "${M_RSS[$t]}" "${M_UPCPU[$t]}" "${ERRS[$t]}"
done
echo "(direct: CPU and RSS are the fake upstream's own; nginx: CPU = master + workers, RSS = sum of workers' VmHWM;"
echo " floor: the bytes-only Go forwarder, a reference, not a target;"
echo " upstr us/req = the fake upstream's CPU per request during that target's run)"

echo
get() { # get ARRAY TARGET -> value or nan
	local -n arr=$1
	if has_target "$2"; then echo "${arr[$2]:-nan}"; else echo nan; fi
}
P_RPS=$(get M_RPS pylon) N_RPS=$(get M_RPS nginx) D_RPS=$(get M_RPS direct) F_RPS=$(get M_RPS floor)
P_L50=$(get M_L50 pylon) N_L50=$(get M_L50 nginx) D_L50=$(get M_L50 direct) F_L50=$(get M_L50 floor)
PN=$(ratio "$P_RPS" "$N_RPS")
ADD_P=$(diffms "$P_L50" "$D_L50")
echo "ratios (throughput at ${CONNECTIONS}c):"
echo "  pylon/direct  $(ratio "$P_RPS" "$D_RPS")"
echo "  nginx/direct  $(ratio "$N_RPS" "$D_RPS")"
echo "  pylon/nginx   $PN"
echo "  floor/direct  $(ratio "$F_RPS" "$D_RPS")"
echo "  floor/nginx   $(ratio "$F_RPS" "$N_RPS")  (what Go's runtime costs against nginx)"
echo "  pylon/floor   $(ratio "$P_RPS" "$F_RPS")  (what Pylon's own code costs)"
echo "  CPU per request pylon/nginx  $(ratio "$(get M_CPU pylon)" "$(get M_CPU nginx)")"
echo "  CPU per request pylon/floor  $(ratio "$(get M_CPU pylon)" "$(get M_CPU floor)")"
echo "added latency at 1 connection (p50 - direct p50):"
echo "  pylon  $ADD_P ms"
echo "  nginx  $(diffms "$N_L50" "$D_L50") ms"
echo "  floor  $(diffms "$F_L50" "$D_L50") ms"
if [[ $MODE == llm-stream ]]; then
	P_TTFB=$(get M_TTFB pylon) D_TTFB=$(get M_TTFB direct)
	ADD_T=$(diffms "$P_TTFB" "$D_TTFB")
	echo "time to the first streamed byte at 1 connection (bench/ttfb, p50):"
	for t in "${TLIST[@]}"; do
		echo "  $t  $(ms "${M_TTFB[$t]}") ms"
	done
	echo "  pylon added  $ADD_T ms"
fi

echo
FAILS=0 SKIPS=0
check() { # check NAME VALUE-TEXT CONDITION(1 pass, 0 fail, skip)
	local verdict
	case $3 in
	1) verdict=PASS ;;
	skip) verdict=SKIP SKIPS=$((SKIPS + 1)) ;;
	*) verdict=FAIL FAILS=$((FAILS + 1)) ;;
	esac
	printf '  %-4s  %-52s %s\n' "$verdict" "$1" "$2"
}
# needs TARGET...: "skip" unless every TARGET was measured.
needs() {
	local t
	for t; do has_target "$t" || { echo skip; return; }; done
}
echo "checks:"
if [[ $MODE == proxy ]]; then
	check "pylon throughput >= ${MIN_THROUGHPUT_VS_NGINX} x nginx" "pylon/nginx = $PN" \
		"$(needs pylon nginx)$(has_target pylon && has_target nginx && awk -v r="$PN" -v m="$MIN_THROUGHPUT_VS_NGINX" 'BEGIN { print (r != "nan" && r >= m) ? 1 : 0 }')"
else
	PD=$(ratio "$P_RPS" "$D_RPS") P_CPU=$(get M_CPU pylon)
	check "pylon throughput >= ${MIN_THROUGHPUT_VS_DIRECT} x direct" "pylon/direct = $PD" \
		"$(needs pylon direct)$(has_target pylon && has_target direct && awk -v r="$PD" -v m="$MIN_THROUGHPUT_VS_DIRECT" 'BEGIN { print (r != "nan" && r >= m) ? 1 : 0 }')"
	check "pylon CPU per request <= ${MAX_CPU_US} us" "cpu = $P_CPU us/req" \
		"$(needs pylon)$(has_target pylon && awk -v a="$P_CPU" -v m="$MAX_CPU_US" 'BEGIN { print (a != "nan" && a <= m) ? 1 : 0 }')"
fi
if [[ $MODE == llm-stream ]]; then
	# Issue 3: the first streamed byte at most 0.15 ms later than direct.
	check "pylon added time to first streamed byte <= ${MAX_ADDED_P50_MS} ms" "added = $ADD_T ms" \
		"$(needs pylon direct)$(has_target pylon && has_target direct && awk -v a="$ADD_T" -v m="$MAX_ADDED_P50_MS" 'BEGIN { print (a != "nan" && a <= m) ? 1 : 0 }')"
else
	check "pylon added p50 latency at 1c <= ${MAX_ADDED_P50_MS} ms" "added = $ADD_P ms" \
		"$(needs pylon direct)$(has_target pylon && has_target direct && awk -v a="$ADD_P" -v m="$MAX_ADDED_P50_MS" 'BEGIN { print (a != "nan" && a <= m) ? 1 : 0 }')"
fi
P_RSS=$(get M_RSS pylon)
check "pylon peak RSS < ${MAX_PEAK_RSS_MB} MB" "VmHWM = $P_RSS MB" \
	"$(needs pylon)$(has_target pylon && awk -v a="$P_RSS" -v m="$MAX_PEAK_RSS_MB" 'BEGIN { print (a != "nan" && a < m) ? 1 : 0 }')"
P_ERR=$(get ERRS pylon)
check "pylon answered every request 2xx, no socket errors" "errors = $P_ERR" \
	"$(needs pylon)$(has_target pylon && { [[ $P_ERR == 0 ]] && echo 1 || echo 0; })"
if ((FAILS)); then
	echo "$FAILS check(s) FAILED"
elif ((SKIPS)); then
	echo "no check failed ($SKIPS skipped: target not measured)"
else
	echo "all checks PASS"
fi

if [[ $STRICT == 1 ]] && ((FAILS)); then exit 1; fi
exit 0
