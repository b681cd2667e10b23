#!/usr/bin/env bash
# shellcheck disable=SC2317 # step functions are called through run_step
# The test command of the project; CI runs exactly this (.ci/run). Steps:
#   1 deps    scripts/install-deps.sh (quiet when everything is there)
#   2 build   build/ci: Ninja, RelWithDebInfo, warnings are errors
#   3 ctest   every test in build/ci (unit, conformance, integration against a
#             real Kafka broker and redis-server, e2e, fuzz-corpus replays)
#   4 asan    build/asan with ASan+UBSan, then the tests labelled "unit"
#             (which include the fuzz-corpus replays)
#   5 format  clang-format --dry-run -Werror over every tracked *.c and *.h
# A failing step does not stop the later ones (except that tests need their
# build); the summary at the end lists each step's result and time, and the
# exit status is 1 when any step failed.
#
# usage: scripts/test.sh [options]
#   --quick          skip step 4 (the sanitizer build)
#   -L, --label RE   only tests with a label matching RE in step 3 (repeatable)
#   -R, --regex RE   only tests whose name matches RE in step 3
#   -j, --jobs N     parallel tests and build jobs (default: number of CPUs)
#   --out DIR        put the build trees in DIR/ci and DIR/asan (default: build)
#   --no-deps        skip step 1
#   --no-format      skip step 5
#   -h, --help       this text
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

quick=0 deps=1 format=1 out=build jobs=$(nproc 2>/dev/null || echo 2)
ctest_filter=()
usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
need_arg() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then echo "test.sh: $1 needs a value" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    -L | --label) need_arg "$@"; ctest_filter+=(-L "$2"); shift ;;
    -R | --regex) need_arg "$@"; ctest_filter+=(-R "$2"); shift ;;
    -j | --jobs) need_arg "$@"; jobs=$2; shift ;;
    --out) need_arg "$@"; out=$2; shift ;;
    --no-deps) deps=0 ;;
    --no-format) format=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: --jobs needs a positive number" >&2; exit 2; }

ci=$out/ci
asan=$out/asan
names=() results=() times=() notes=()
t_start=$SECONDS

# Services left behind by an interrupted run would keep running: stop them
# on every exit (the ctest fixture stops them on normal runs already).
cleanup() {
    if [ -d "$ci/services" ]; then
        scripts/services.sh stop "$ci/services" > /dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'echo; echo "test.sh: interrupted" >&2; exit 130' INT TERM

banner() { printf '\n==== %s ====\n' "$*"; }

record() { # NAME RESULT SECONDS NOTE
    names+=("$1") results+=("$2") times+=("$3") notes+=("${4:-}")
}

# run_step NAME FUNCTION: run FUNCTION, time it, record ok/FAILED. FUNCTION
# may set step_note to a one-line remark for the summary.
run_step() {
    local name=$1 t0=$SECONDS rc=0
    step_note=
    banner "$name"
    "$2" || rc=$?
    if [ "$rc" -eq 0 ]; then
        record "$name" ok $((SECONDS - t0)) "$step_note"
    else
        record "$name" FAILED $((SECONDS - t0)) "$step_note"
    fi
    echo "---- $name: $([ "$rc" -eq 0 ] && echo ok || echo FAILED) in $((SECONDS - t0))s"
    return "$rc"
}

skip() { # NAME WHY
    banner "$1"
    echo "skipped: $2"
    record "$1" skipped 0 "$2"
}

# ctest_counts LOG: "N run, P passed, F failed" from ctest's own summary line.
ctest_counts() {
    local line total failed
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "no test summary (see $1)"
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<< "$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<< "$line")
    echo "$total run, $((total - failed)) passed, $failed failed"
}

configure_and_build() { # DIR CMAKE-ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEINTJE_WERROR=ON \
        "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
    cmake --build "$dir" --parallel "$jobs"
}

# run_ctest DIR LOG ARGS...: ctest with a summary line; fails when no test ran.
run_ctest() {
    local dir=$1 log=$2 rc=0
    shift 2
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" \
        --output-junit "$(basename "$log" .log).junit.xml" "$@" 2>&1 | tee "$log" || rc=$?
    step_note=$(ctest_counts "$log")
    echo "tests: $step_note"
    return "$rc"
}

step_deps() { scripts/install-deps.sh; }
step_build() { mkdir -p "$out" && configure_and_build "$ci"; }
step_ctest() { run_ctest "$ci" "$ci/ctest.log" "${ctest_filter[@]}"; }
step_asan_build() { mkdir -p "$out" && configure_and_build "$asan" -DSEINTJE_SANITIZE=ON; }
step_asan_test() {
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run_ctest "$asan" "$asan/ctest.log" -L unit
}
step_format() {
    local -a files
    command -v clang-format > /dev/null || { step_note="no clang-format"; return 1; }
    if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
        mapfile -t files < <(git ls-files -- '*.c' '*.h')
    else
        mapfile -t files < <(find . -path ./build -prune -o -path './build-*' -prune -o \
            \( -name '*.c' -o -name '*.h' \) -print)
    fi
    step_note="${#files[@]} files, $(clang-format --version | grep -oE '[0-9]+\.[0-9.]+' | head -n 1)"
    [ "${#files[@]}" -gt 0 ] || return 0
    if ! clang-format --dry-run -Werror "${files[@]}"; then
        step_note="$step_note; reformat with: clang-format -i <file>"
        return 1
    fi
    echo "formatting ok: $step_note"
}

if [ "$deps" = 1 ]; then run_step deps step_deps || true; else skip deps "--no-deps"; fi
if run_step build step_build; then
    run_step ctest step_ctest || true
else
    skip ctest "the build failed"
fi
if [ "$quick" = 1 ]; then
    skip asan-build "--quick"
    skip asan-unit "--quick"
elif run_step asan-build step_asan_build; then
    run_step asan-unit step_asan_test || true
else
    skip asan-unit "the sanitizer build failed"
fi
if [ "$format" = 1 ]; then run_step format step_format || true; else skip format "--no-format"; fi

banner summary
failed=0
for i in "${!names[@]}"; do
    printf '  %-11s %-8s %5ss  %s\n' "${names[i]}" "${results[i]}" "${times[i]}" "${notes[i]}"
    [ "${results[i]}" != FAILED ] || failed=1
done
printf '  %-11s %-8s %5ss\n' total "$([ "$failed" = 0 ] && echo ok || echo FAILED)" $((SECONDS - t_start))
exit "$failed"
