#!/usr/bin/env bash
# `seintje rule`: results on stdout as one line of compact JSON, RULE and DATA
# inline or from @FILE / @-, and the documented exit codes and error lines
# (JSON errors with line:column, rule errors with the JSON path).
# usage: test_rule_cli.sh SEINTJE_BIN
set -euo pipefail
BIN=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/rule-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT

expect_out() { # expected-stdout args...
    local want=$1
    shift
    local got args="$*"
    got=$("$BIN" rule "$@")
    [ "$got" = "$want" ] || { echo "rule ${args:0:200}: got '$got', expected '$want'"; exit 1; }
}
expect_err() { # exit-code expected-stderr args...
    local code=$1 want=$2 rc=0
    shift 2
    local args="$*"
    "$BIN" rule "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
    [ "$rc" -eq "$code" ] || { echo "rule ${args:0:200}: exit $rc, expected $code"; exit 1; }
    [ "$(cat "$work/err")" = "$want" ] || { echo "rule ${args:0:200}: stderr '$(cat "$work/err")'"; exit 1; }
    [ ! -s "$work/out" ] || { echo "rule ${args:0:200}: wrote to stdout on error"; exit 1; }
}

rule='{"and":[{">=":[{"age_on":[{"var":"resident.birth_date"},{"var":"now"}]},65]},{"==":[{"var":"resident.nis"},"44021"]}]}'
expect_out true "$rule" '{"resident":{"birth_date":"1960-03-01","nis":"44021"},"now":"2026-03-01T09:00:00Z"}'
expect_out false "$rule" '{"resident":{"birth_date":"1961-03-02","nis":"44021"},"now":"2026-03-01T09:00:00Z"}'
expect_out 0.30000000000000004 '{"+":[0.1,0.2]}'
expect_out '{"a":[1,"x"]}' '{"var":""}' '{"a":[1,"x"]}'
expect_out '"2026-04-30"' '{"date_add":["2026-03-01",60]}'
expect_out '[1,2,3]' '{"merge":[1,[2,3]]}'
printf '%s\n' "$rule" >"$work/rule.json"
echo '{"resident":{"birth_date":"1950-01-01","nis":"44021"},"now":"2026-03-01"}' |
    "$BIN" rule @"$work/rule.json" @- >"$work/out"
[ "$(cat "$work/out")" = true ] || { echo "@file/@-: got $(cat "$work/out")"; exit 1; }
expect_out 3 -- '{"-":[5,2]}'

expect_err 2 'seintje rule: $.and[1]: unknown operator "equals"' \
    '{"and":[true,{"equals":[{"var":"a"},1]}]}'
printf '{"if":[{"==":[1,2,3]},1,2]}' >"$work/bad.json"
expect_err 2 "seintje rule: $work/bad.json: \$.if[0]: \"==\" takes 2 arguments, got 3" \
    @"$work/bad.json"
expect_err 2 "seintje rule: RULE:1:13: end of file expected near 'x'" '{"var":"a"} x'
printf '{\n  "a": 1,\n  "a": 2\n}\n' >"$work/dup.json"
expect_err 2 "seintje rule: $work/dup.json:3:5: duplicate object key near '\"a\"'" '{"var":"a"}' \
    @"$work/dup.json"
expect_err 2 "seintje rule: cannot open $work/none.json: No such file or directory" \
    @"$work/none.json"
expect_err 2 'seintje rule: only one of RULE and DATA can be read from stdin' @- @-
expect_err 2 'seintje rule: expected RULE [DATA], got 0 arguments (seintje rule --help)'
expect_err 2 'seintje rule: expected RULE [DATA], got 3 arguments (seintje rule --help)' 1 2 3
expect_err 2 'seintje rule: unknown option "--bogus" (seintje rule --help)' --bogus 1
{ printf '{"a":['; seq -s, 1 600000 | tr -d '\n'; printf ']}'; } >"$work/big.json"
expect_err 2 'seintje rule: $.reduce[1]: step budget of 1000000 exceeded (the rule does too much work for this data)' \
    '{"reduce":[{"var":"a"},{"+":[{"var":"accumulator"},1]},0]}' @"$work/big.json"
"$BIN" rule --help >"$work/help"
grep -q '^usage: seintje rule RULE \[DATA\]' "$work/help"
echo "rule: ok"
