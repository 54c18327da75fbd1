#!/bin/sh
# test_train_cli.sh MAMA: `mama train` from the command line on real data sources: a
# generated phantom folder and mini-MIAS (../shared, skipped when absent). Checks the run
# folder (config.conf reads back, split.csv patient-disjoint), --set overrides, --check
# writing nothing, errors naming the key or file:line, and that a failure leaves no run.
set -u
MAMA=$1
T=$(mktemp -d /tmp/mama-train-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$MAMA" phantom --out "$T/ph" --count 12 --seed 5 --size 64x64 --quiet >/dev/null || { echo "phantom failed"; exit 1; }
cat > "$T/train.conf" <<CONF
[model]
image_init = random
image_config = micro
text_init = random
[data]
source = phantom
root = $T/ph
split_seed = 3
[train]
mode = heads
batch = 4
out_dir = $T/runs
name = first
steps = 10
warmup_steps = 2
late_step = 5
CONF

# --check: validates, writes nothing
out=$("$MAMA" train -c "$T/train.conf" --check 2>&1)
if echo "$out" | grep -q "configuration ok" && [ ! -e "$T/runs" ]; then ok "--check"; else bad "--check: $out"; fi

# a run (heads mode): a complete run folder
"$MAMA" train -c "$T/train.conf" --set train.batch=3 >"$T/out" 2>&1
rc=$?
R=$T/runs/first
if [ $rc -eq 0 ] && [ -f "$R/config.conf" ] && [ -f "$R/split.csv" ] && [ -f "$R/checkpoint.safetensors" ]; then
  ok "run folder"; else bad "run folder rc=$rc: $(cat "$T/out")"; fi
grep -q '^train.batch = 3$' "$R/config.conf" && ok "--set recorded" || bad "--set not in config.conf"
grep -q '^train.steps = 10$' "$R/config.conf" && ok "file value recorded" || bad "train.steps not in config.conf"
# config.conf is a valid -c file for another run (same split)
"$MAMA" train -c "$R/config.conf" --set train.name=second >/dev/null 2>&1
cmp -s "$R/split.csv" "$T/runs/second/split.csv" && ok "config.conf reads back (same split)" || bad "config.conf round trip"
# split.csv: 4 images per study, header + 48 rows, each patient in exactly one split
n=$(tail -n +2 "$R/split.csv" | wc -l)
[ "$n" -eq 48 ] && ok "48 images" || bad "split.csv has $n rows"
multi=$(tail -n +2 "$R/split.csv" | awk -F, '{print $1","$8}' | sort -u | cut -d, -f1 | sort | uniq -d | wc -l)
[ "$multi" -eq 0 ] && ok "patient-disjoint split" || bad "$multi patients in two splits"
for s in train val test; do
  grep -q ",$s\$" "$R/split.csv" || bad "no $s rows"
done
# the same name again is refused, nothing overwritten
before=$(cksum < "$R/split.csv")
"$MAMA" train -c "$T/train.conf" --set data.split_seed=9 >"$T/out" 2>&1
if [ $? -eq 1 ] && grep -q "train.name: the run .* exists" "$T/out" && [ "$(cksum < "$R/split.csv")" = "$before" ]; then
  ok "existing run kept"; else bad "existing run: $(cat "$T/out")"; fi

# errors name the key / file:line, leave nothing
expect_err() { # what pattern args...
  what=$1; pat=$2; shift 2
  "$MAMA" train "$@" >"$T/out" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q -e "$pat" "$T/out"; then ok "$what"; else bad "$what (rc=$rc): $(cat "$T/out")"; fi
}
expect_err "override bound" "train.batch: 0 is outside 1..4096" -c "$T/train.conf" --set train.batch=0
expect_err "override key" "unknown setting 'train.bach'" -c "$T/train.conf" --set train.bach=3
expect_err "missing root" "data.root: $T/nothere: No such file" -c "$T/train.conf" --set data.root=$T/nothere
expect_err "late_step" "train.late_step: 50 is after train.steps" -c "$T/train.conf" --set train.late_step=50 --set train.mode=mama --set model.text_init=random
# train.mode = mama: not in this build yet; says so and writes nothing
"$MAMA" train -c "$T/train.conf" --set train.mode=mama --set model.text_init=random --set train.name=m >"$T/out" 2>&1
[ $? -eq 3 ] && grep -q "issue 9" "$T/out" && [ ! -e "$T/runs/m" ] && ok "mode mama refused, nothing written" || bad "mode mama: $(cat "$T/out")"
printf '[train]\nsteps = ten\n' > "$T/bad.conf"
expect_err "file:line" "bad.conf:2: train.steps: 'ten' is not an integer" -c "$T/bad.conf"
expect_err "no -c" "-c train.conf is required"
# a broken manifest row: lenient mode counts and logs it, strict mode stops at file:line
cp -r "$T/ph" "$T/ph2"
awk -F, 'NR==3{OFS=","; $1=""; print; next}{print}' "$T/ph/manifest.csv" > "$T/ph2/manifest.csv"
"$MAMA" train -c "$T/train.conf" --set data.root=$T/ph2 --check >"$T/out" 2>&1
if [ $? -eq 0 ] && grep -q "row left out: .*manifest.csv:3" "$T/out" && grep -q "(1 rows left out)" "$T/out"; then
  ok "bad row counted"; else bad "bad row lenient: $(cat "$T/out")"; fi
expect_err "strict bad row" "manifest.csv:3" -c "$T/train.conf" --set data.root=$T/ph2 --set data.strict=true --set train.name=strict
[ ! -e "$T/runs/strict" ] && [ -z "$(ls -A "$T/runs" | grep partial)" ] && ok "nothing half-written" || bad "a run was left behind"
# an empty split: one patient only
"$MAMA" phantom --out "$T/one" --count 1 --seed 2 --size 64x64 --quiet >/dev/null
expect_err "empty split" "split is empty" -c "$T/train.conf" --set data.root=$T/one --set train.name=one
[ ! -e "$T/runs/one" ] && ok "no run for an empty split" || bad "run for an empty split"

# deploy/demo-train.conf (run.sh's default model) is a valid configuration
ROOT=${MAMA_SOURCE_ROOT:-$(dirname "$0")/../..}
"$MAMA" train -c "$ROOT/deploy/demo-train.conf" --set model.image_init=random --set model.image_config=micro \
  --set data.root="$T/ph" --set train.out_dir="$T/demo" --check >"$T/out" 2>&1
[ $? -eq 0 ] && grep -q "configuration ok" "$T/out" && [ ! -e "$T/demo" ] && ok "deploy/demo-train.conf" \
  || bad "deploy/demo-train.conf: $(cat "$T/out")"

# mini-MIAS through ../shared
M=${MAMA_SHARED_DIR:-}/data/mias
if [ -f "$M/Info.txt" ]; then
  "$MAMA" train -c "$T/train.conf" --set data.source=mias --set data.root=$M --check >"$T/out" 2>&1
  if grep -q "data: 322 images (0 rows left out)" "$T/out"; then ok "mias 322 films"; else bad "mias: $(cat "$T/out")"; fi
else
  echo "skip: no mini-MIAS at $M"
fi
exit $fail
