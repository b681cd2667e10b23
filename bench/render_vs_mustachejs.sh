#!/usr/bin/env bash
# Rendering benchmark: Seintje's Mustache engine (templates/mustache.h, each
# template compiled once, rendered many times) against mustache.js, the
# reference JavaScript implementation (version pinned in
# bench/render/package.json), on Node, rendering the same templates with the
# same data in the same run. The cases are in bench/render/cases.json: the
# real e-mail HTML part (with header and footer partials), text part and SMS
# of a campaign under templates/campaigns/, and a large HTML message with
# nested sections over a 52-item list, each with the context deliver builds.
# Both drivers first render every case once and the outputs must be
# byte-identical (sha256), or nothing is timed. Then each driver, in its own
# process, renders each case for -s seconds after an untimed 0.2 s warm-up;
# rounds alternate which driver goes first. Reports renders/s of each (median
# of the rounds), the ratio, and the peak RSS of each process.
# Escaping: mustache.js escapes & < > " ' / ` =, Seintje (as the spec) only
# & < > "; the URLs in the HTML parts contain / and =, so render_bench.js gives
# mustache.js an escape function for the spec's four characters, written like
# its own (see there), and no escaping for the plain-text parts, as Seintje.
#
# usage: bench/render_vs_mustachejs.sh [-s SECONDS] [-r ROUNDS] [-b]
#   -s  seconds each case is timed, per driver and round (default 1)
#   -r  rounds (default 5); the report gives medians over the rounds
#   -b  also charge mustache.js for turning each result into UTF-8 bytes
#       (Buffer.from), which Seintje's engine produces directly; by default
#       only the render() call is timed (its result is a V8 rope string)
#   Needs node (v20) and the Release build of the C driver
#   (build/release/bench/render_bench, or set SEINTJE_RENDER_BENCH); runs
#   `npm ci` in bench/render/ when mustache.js is not installed there yet.
#   Progress goes to stderr, the results to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_CASE=1 ROUNDS=5 JS_OPTS=()
BENCH=${SEINTJE_RENDER_BENCH:-$here/build/release/bench/render_bench}
NODE=${NODE:-node}
help() { sed -n '2,29s/^# \{0,1\}//p' "$0"; }
usage() { sed -n '20,29s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in -h | --help) help; exit 0 ;; esac
while getopts "s:r:bh" o; do
  case $o in
    s) SECONDS_PER_CASE=$OPTARG ;; r) ROUNDS=$OPTARG ;; b) JS_OPTS=(--bytes) ;;
    h) help; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "-r ROUNDS: a positive integer" >&2; exit 2; }
[[ $SECONDS_PER_CASE =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "-s SECONDS: a number" >&2; exit 2; }
[ -x "$BENCH" ] || {
  echo "no render_bench at $BENCH; build it first:" >&2
  echo "  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release" >&2
  echo "  cmake --build build/release --target render_bench" >&2
  exit 2
}
command -v "$NODE" >/dev/null || { echo "no node on PATH (set NODE)" >&2; exit 2; }
manifest=$here/bench/render/cases.json
want=$(sed -n 's/.*"mustache": *"\([^"]*\)".*/\1/p' "$here/bench/render/package.json")
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$here/bench/render/node_modules/mustache/package.json" 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "installing mustache.js $want into bench/render/node_modules (npm ci) ..." >&2
  (cd "$here/bench/render" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
drive() { # drive c|js ARGS... : one driver process, its lines on stdout
  if [ "$1" = c ]; then "$BENCH" --root "$here" "${@:2}" "$manifest"
  else "$NODE" "$here/bench/render/render_bench.js" --root "$here" ${JS_OPTS[@]+"${JS_OPTS[@]}"} \
    "${@:2}" "$manifest"; fi
}

# 1. Same output, byte for byte, or the timings compare different work.
mkdir -p "$work/out.c" "$work/out.js"
drive c --write "$work/out.c" > "$work/engine.c"
drive js --write "$work/out.js" > "$work/engine.js"
grep -q $'^engine\tseintje\toptimized' "$work/engine.c" ||
  { echo "$BENCH was built without optimisation; use the Release build" >&2; exit 2; }
bad=0
for f in "$work"/out.c/*.out; do
  name=$(basename "$f" .out) g=$work/out.js/$(basename "$f")
  hc=$(sha256sum < "$f" | cut -c1-16) hj=$(sha256sum < "$g" 2>/dev/null | cut -c1-16 || true)
  if [ "$hc" = "$hj" ]; then
    echo "check $name: identical output, $(wc -c < "$f") bytes, sha256 $hc..." >&2
  else
    echo "check $name: OUTPUTS DIFFER (seintje sha256 $hc..., mustache.js ${hj:-none}...)" >&2
    diff "$f" "$g" 2>&1 | head -n 20 >&2 || true
    bad=1
  fi
done
[ "$bad" = 0 ] || { echo "outputs differ: nothing timed" >&2; exit 1; }

# 2. Timed rounds, alternating which driver starts.
for r in $(seq 1 "$ROUNDS"); do
  order="c js"; [ $((r % 2)) = 0 ] && order="js c"
  for d in $order; do drive "$d" --seconds "$SECONDS_PER_CASE" > "$work/round$r.$d"; done
  awk -F'\t' -v r="$r" 'FNR == NR && $1 == "case" { c[$2] = $3 / $4 }
    FNR != NR && $1 == "case" { printf "round %d: %-14s seintje %10.0f/s  mustache.js %9.0f/s  ratio %5.2f\n",
      r, $2, c[$2], $3 / $4, c[$2] / ($3 / $4) }' "$work/round$r.c" "$work/round$r.js" >&2
done
node_base=$("$NODE" -e 'process.stdout.write(String(process.resourceUsage().maxRSS))')

# 3. Medians over the rounds.
python3 - "$work" "$ROUNDS" "$SECONDS_PER_CASE" "$node_base" <<'PY'
import math, statistics, sys
work, rounds, secs, node_base = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def read(path):
    cases, rss, engine = {}, None, ""
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] == "case": cases[f[1]] = (int(f[2]) / float(f[3]), int(f[4]))
        elif f[0] == "maxrss_kb": rss = int(f[1])
        elif f[0] == "engine": engine = " ".join(f[1:])
    return cases, rss, engine
runs = {d: [read(f"{work}/round{r}.{d}") for r in range(1, rounds + 1)] for d in ("c", "js")}
names = list(runs["c"][0][0])
print(f"render benchmark: {len(names)} cases, {secs} s per case and driver, median of {rounds} round{'s' if rounds > 1 else ''}")
print(f"  seintje: {runs['c'][0][2]}; reference: {runs['js'][0][2]}")
print(f"  {'case':<14} {'bytes':>6} {'seintje/s':>11} {'mustache.js/s':>14} {'ratio':>6}   per-round ratios")
ratios = []
for n in names:
    c = [run[0][n][0] for run in runs["c"]]
    j = [run[0][n][0] for run in runs["js"]]
    per = sorted(a / b for a, b in zip(c, j))
    mc, mj = statistics.median(c), statistics.median(j)
    ratios.append(mc / mj)
    print(f"  {n:<14} {runs['c'][0][0][n][1]:>6} {mc:>11,.0f} {mj:>14,.0f} {mc / mj:>6.2f}   "
          f"{per[0]:.2f} to {per[-1]:.2f}")
geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
print(f"  overall: seintje renders {geo:.2f}x as many per second (geometric mean of the case ratios)")
rc = statistics.median(run[1] for run in runs["c"])
rj = statistics.median(run[1] for run in runs["js"])
print(f"  peak RSS (median): seintje {rc / 1024:.1f} MiB, mustache.js {rj / 1024:.1f} MiB "
      f"(node with an empty script: {node_base / 1024:.1f} MiB)")
PY
