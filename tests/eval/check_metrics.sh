#!/bin/sh
# check_metrics.sh: the evaluator's arithmetic on a hand-made data set
# whose figures are known: popularity must score HR@20 = 2/3 and
# MRR@20 = 1/2 on next-item, every method must run on a data set with few
# items, and the JSON must have the documented shape.
set -eu

eval_bin="${MZ_EVAL_BIN:-./tests/eval/maison-eval}"
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/mzeval.XXXXXX")
trap 'rm -rf "$dir"' EXIT

mkdir "$dir/tiny"
# 30 items, so that a never-seen item (i30) ranks 30th, outside the top 20.
i=1
while [ $i -le 30 ]; do
	printf 'i%02d\tt%d,u%d\n' $i $((i % 3)) $((i % 5))
	i=$((i + 1))
done >"$dir/tiny/items.tsv"
# Train popularity: i01 3, i02 2, i03 1.
train="$dir/tiny/train.tsv"
test="$dir/tiny/test.tsv"
printf 'u1\ti01\t1\tview\nu1\ti02\t2\tview\nu1\ti03\t3\tpurchase\n' >"$train"
printf 'u2\ti01\t4\tview\nu2\ti02\t5\tview\nu3\ti01\t6\tview\n' >>"$train"
# Cases: i01 after i05 (rank 1), i02 after i01 (rank 2), i30 (rank 30).
printf 's1\ti05\t10\tview\ns1\ti01\t11\tview\ns2\ti01\t12\tview\n' >"$test"
printf 's2\ti02\t13\tview\ns3\ti01\t14\tview\ns3\ti30\t15\tview\n' >>"$test"

for frozen in "" --frozen; do
	"$eval_bin" --quiet --json --data "$dir/tiny" --protocol next-item \
		$frozen >"$dir/out.json"
	python3 - "$dir/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dataset"] == "tiny" and r["protocol"] == "next-item", r
assert r["cases"] == 3, r["cases"]
by = {m["method"]: m for m in r["results"]}
for name in ("maison", "maison_l0", "maison_slow", "maison_flat",
             "maison_frozen_items", "maison_no_session", "pop", "pop_recent",
             "sr", "iknn"):
    m = by[name]
    for key in ("hr20", "mrr20", "ndcg20", "events_per_s", "bytes_per_client"):
        assert key in m, (name, key)
    assert m["cases"] == 3 and 0 <= m["hr20"] <= 1, m
pop = by["pop"]
assert abs(pop["hr20"] - 2 / 3) < 1e-6, pop
assert abs(pop["mrr20"] - 0.5) < 1e-6, pop
print("next-item%s: pop HR@20 %.4f MRR@20 %.4f, %d methods ran"
      % (" frozen" if r["frozen"] else "", pop["hr20"], pop["mrr20"],
         len(by)))
PY
done

# Last-item: the test item of s-clients is scored with their history masked.
printf 'u1\ti02\t20\tview\nu2\ti03\t21\tview\n' >"$test"
"$eval_bin" --quiet --json --data "$dir/tiny" --protocol last-item \
	--methods pop >"$dir/out.json"
python3 - "$dir/out.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
pop = r["results"][0]
# u1 has i01..i03: i02 is masked, so it cannot be recommended (a miss).
# u2 has i01, i02: i03 is then the best unmasked item (rank 1).
assert r["cases"] == 2, r
assert abs(pop["hr20"] - 0.5) < 1e-6, pop
assert abs(pop["ndcg20"] - 0.5) < 1e-6, pop
print("last-item: pop HR@20 %.4f NDCG@20 %.4f" % (pop["hr20"], pop["ndcg20"]))
PY
