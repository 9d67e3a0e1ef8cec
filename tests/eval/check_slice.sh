#!/bin/sh
# check_slice.sh: the evaluator on a slice of each real data set, asserting
# that our model beats popularity on HR@20 there. Skips (77) when the data
# (../shared/data next to the source tree) or python3 is absent.
set -eu

data="${MZ_EVAL_DATA:-${srcdir:-.}/../shared/data}"
eval_bin="${MZ_EVAL_BIN:-./tests/eval/maison-eval}"

[ -f "$data/diginetica/train.tsv" ] && [ -f "$data/beauty/train.tsv" ] || {
	echo "no data in $data: skipped"
	exit 77
}
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

# run DIR PROTOCOL CASES: maison must beat pop on HR@20 over CASES cases.
run() {
	out=$("$eval_bin" --quiet --json --data "$data/$1" --protocol "$2" \
		--methods maison,pop --limit-cases "$3")
	printf '%s\n' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
hr = {m["method"]: m["hr20"] for m in r["results"]}
print("%s %s: %d cases, maison HR@20 %.4f, pop HR@20 %.4f"
      % (r["dataset"], r["protocol"], r["cases"], hr["maison"], hr["pop"]))
assert r["cases"] == int(sys.argv[1]), "case count"
assert hr["maison"] > hr["pop"], "maison does not beat pop"
' "$3"
}

run diginetica next-item 5000
run beauty last-item 5000
