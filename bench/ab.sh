#!/usr/bin/env bash
# A/B of two ways to run Pylon, in alternating runs against the same fake upstream:
#
#   A_ARGS="--gc-min-heap-mb 0" B_ARGS="" MODE=llm-stream bash bench/ab.sh
#   B_BIN=/tmp/pylon-new bash bench/ab.sh          # two binaries (A: ./cmd/pylon built here)
#
# On a shared machine whose speed drifts by tens of percent within minutes, a change worth a
# few percent shows only when its two sides run in turns, many times. For each of RUNS rounds
# it runs A then B (each: start pylon, WARMUP of wrk thrown away, DURATION measured, stop) and
# reports, per side, the median CPU per request (utime + stime of the pylon process from
# /proc/PID/stat over the measured run, divided by its requests), the median req/s and every
# sample. Knobs: MODE=proxy|llm-chat|llm-stream (as bench/run.sh), RUNS=6, DURATION=5s,
# WARMUP=1s, CONNECTIONS=50, THREADS=2, A_BIN/B_BIN (default: ./cmd/pylon built into a temp
# dir), A_ARGS/B_ARGS (extra `pylon serve` flags), A_ENV/B_ENV (e.g. "GOGC=200").
set -euo pipefail

MODE=${MODE:-proxy} RUNS=${RUNS:-6} DURATION=${DURATION:-5s} WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-50} THREADS=${THREADS:-2}
A_ARGS=${A_ARGS:-} B_ARGS=${B_ARGS:-} A_ENV=${A_ENV:-} B_ENV=${B_ENV:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() {
	echo "ab: $*" >&2
	exit 1
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (apt-get install wrk)"
case $MODE in
proxy) UP_ARGS=() URL_PATH=/ ;;
llm-chat | llm-stream) UP_ARGS=(-llm "${MODE#llm-}") URL_PATH=/v1/chat/completions ;;
*) die "MODE must be proxy, llm-chat or llm-stream, got '$MODE'" ;;
esac

TMP=$(mktemp -d /tmp/pylon-ab.XXXXXX)
PIDS=()
cleanup() {
	local rc=$? pid
	if [[ -f $TMP/pylon.pid ]]; then kill "$(cat "$TMP/pylon.pid")" 2>/dev/null || true; fi
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

A_BIN=${A_BIN:-$TMP/pylon}
B_BIN=${B_BIN:-$TMP/pylon}
if [[ $A_BIN == "$TMP/pylon" || $B_BIN == "$TMP/pylon" ]]; then
	(cd "$ROOT" && go build -o "$TMP/pylon" ./cmd/pylon) || die "building pylon failed"
fi
(cd "$ROOT" && go build -o "$TMP/upstream" ./bench/upstream) || die "building bench/upstream failed"

# free_port prints a loopback port nothing listens on, below the ephemeral range.
USED=" "
free_port() {
	local p _
	for _ in $(seq 1 500); do
		p=$((20000 + RANDOM % 12000))
		[[ $USED == *" $p "* ]] && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		echo "$p"
		return 0
	done
	die "no free port found"
}
UP=$(free_port)
USED+="$UP "
PUB=$(free_port)
USED+="$PUB "
ADM=$(free_port)
"$TMP/upstream" -addr "127.0.0.1:$UP" "${UP_ARGS[@]}" >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
if [[ $MODE == proxy ]]; then
	ROUTE="          - match: {prefix: /}
            cluster: upstream
clusters:
  - name: upstream
    endpoints: [\"127.0.0.1:$UP\"]"
else
	ROUTE="          - match: {prefix: /v1/}
            llm: {}
providers:
  - {name: up, type: openai, base_url: \"http://127.0.0.1:$UP/v1\", api_keys: [{value: sk-bench}], models: [gpt-4o-mini]}"
fi
cat >"$TMP/pylon.yaml" <<EOF
admin: {address: 127.0.0.1:$ADM}
drain_timeout: 1s
listeners:
  - name: bench
    address: 127.0.0.1:$PUB
    virtual_hosts:
      - domains: ["*"]
        routes:
$ROUTE
EOF
export MODE
URL="http://127.0.0.1:$PUB$URL_PATH"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one BIN ENV ARGS: prints "cpu_us_per_req req_per_s" of one measured run.
one() {
	local bin=$1 envs=$2 args=$3 pid i t0 t1 n rps
	# shellcheck disable=SC2086 # ENV and ARGS are word lists on purpose
	env $envs "$bin" serve -c "$TMP/pylon.yaml" --log-level warn --watch=false $args >>"$TMP/pylon.log" 2>&1 &
	pid=$!
	echo "$pid" >"$TMP/pylon.pid"
	for i in $(seq 1 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$ADM/ready" && break
		kill -0 "$pid" 2>/dev/null || die "pylon exited; its log: $(cat "$TMP/pylon.log")"
		sleep 0.1
	done
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$ROOT/bench/request.lua" "$URL" >/dev/null
	t0=$(ticks "$pid")
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$ROOT/bench/request.lua" "$URL" >"$TMP/wrk.out"
	t1=$(ticks "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	grep -q "Non-2xx" "$TMP/wrk.out" && die "pylon answered non-2xx: $(cat "$TMP/wrk.out")"
	n=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
	rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.out")
	awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" -v r="$rps" 'BEGIN { printf "%.1f %.0f\n", d / hz * 1e6 / n, r }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -a AC AR BC BR
echo "ab: MODE=$MODE, $RUNS rounds of A then B, wrk ${CONNECTIONS}c/${THREADS}t ${DURATION} after ${WARMUP}" >&2
for r in $(seq 1 "$RUNS"); do
	read -r c q < <(one "$A_BIN" "$A_ENV" "$A_ARGS") || true
	[[ -n ${q:-} ]] || die "side A gave no measurement"
	AC+=("$c") AR+=("$q")
	c="" q=""
	read -r c q < <(one "$B_BIN" "$B_ENV" "$B_ARGS") || true
	[[ -n ${q:-} ]] || die "side B gave no measurement"
	BC+=("$c") BR+=("$q")
	c="" q=""
	echo "ab: round $r/$RUNS  A ${AC[-1]} us/req ${AR[-1]} req/s   B ${BC[-1]} us/req ${BR[-1]} req/s" >&2
done
ma=$(median "${AC[@]}") mb=$(median "${BC[@]}")
printf 'A  %-40s CPU/req median %7.1f us   req/s median %7.0f   samples: %s\n' "[$A_ENV $A_BIN $A_ARGS]" "$ma" "$(median "${AR[@]}")" "${AC[*]}"
printf 'B  %-40s CPU/req median %7.1f us   req/s median %7.0f   samples: %s\n' "[$B_ENV $B_BIN $B_ARGS]" "$mb" "$(median "${BR[@]}")" "${BC[*]}"
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "B/A CPU per request: %.3f\n", b / a }'
