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

# EMBED, RSNA and a DICOM folder + labels CSV: labels mapped into split.csv (the images do
# not exist: the run folder is prepared, then every image is skipped with its path and the
# run fails cleanly)
mkdir -p "$T/embed"
cat > "$T/embed/meta.csv" <<CSV
empi_anon,acc_anon,anon_dicom_path,ImageLateralityFinal,ViewPosition,StudyDescription,FinalImageType
P1,E1,p1/e1/l.dcm,L,CC,MG Screening Bilateral,2D
P1,E1,p1/e1/r.dcm,R,CC,MG Screening Bilateral,2D
P2,E2,p2/e2/l.dcm,L,MLO,MG Diagnostic Left,2D
P3,E3,p3/e3/r.dcm,R,CC,MG Screening Bilateral,2D
P4,E4,p4/e4/l.dcm,L,CC,MG Screening Bilateral,2D
P5,E5,p5/e5/l.dcm,L,CC,MG Screening Bilateral,2D
CSV
cat > "$T/embed/clin.csv" <<CSV
empi_anon,acc_anon,desc,asses,side,tissueden,path_severity
P1,E1,screen,N,B,2,
P2,E2,diag,S,L,4,0
P3,E3,screen,B,R,1,4
P4,E4,screen,A,L,3,
P5,E5,screen,N,L,5,
CSV
for k in 6 7 8 9 10 11; do   # more patients: validation needs round(0.8 n) > round(0.7 n)
  echo "Q$k,F$k,q$k/l.dcm,L,CC,MG Screening Bilateral,2D" >> "$T/embed/meta.csv"
  echo "Q$k,F$k,screen,N,L,2," >> "$T/embed/clin.csv"
done
"$MAMA" train -c "$T/train.conf" --set data.source=embed --set data.root="$T/embed" --set data.csv="$T/embed/meta.csv" \
  --set data.clinical_csv="$T/embed/clin.csv" --set train.name=embed >"$T/out" 2>&1
rc=$?
S=$T/runs/embed/split.csv
# P1: density B (tissueden 2), BI-RADS 1 (N); P2: D, 4 (S), cancer (path_severity 0); P3: A, 2, not cancer (4);
# P4: C, 0 (A); P5: male (5) -> density unknown
want="P1,E1,$T/embed/p1/e1/l.dcm,L,1,1,-1
P2,E2,$T/embed/p2/e2/l.dcm,L,3,4,1
P3,E3,$T/embed/p3/e3/r.dcm,R,0,2,0
P4,E4,$T/embed/p4/e4/l.dcm,L,2,0,-1
P5,E5,$T/embed/p5/e5/l.dcm,L,-1,1,-1"
got=$(cut -d, -f1-7 "$S" 2>/dev/null | grep "^P" | grep -v "^P1,E1,.*r.dcm" | sort)
if [ $rc -eq 1 ] && [ "$got" = "$want" ] && grep -q "skipped $T/embed/p1/e1/l.dcm" "$T/out" && grep -q "no readable training image" "$T/out"; then
  ok "embed labels, missing images skipped by path, clean failure"; else bad "embed rc=$rc: $got / $(cat "$T/out")"; fi
"$MAMA" train -c "$T/train.conf" --set data.source=dicom --set data.root="$T/embed" --set data.csv="$T/embed/meta.csv" \
  --set train.name=dicom >"$T/out" 2>&1
got=$(tail -n +2 "$T/runs/dicom/split.csv" | cut -d, -f5-7 | sort -u)
[ "$got" = "-1,-1,-1" ] && ok "dicom folder without a clinical CSV: labels unknown" || bad "dicom labels: $got"
cat > "$T/rsna.csv" <<CSV
site_id,patient_id,image_id,laterality,view,age,cancer,biopsy,invasive,BIRADS,implant,density,machine_id,difficult_negative_case
1,10,100,L,CC,61,0,0,0,1,0,B,49,False
1,10,101,L,MLO,61,0,0,0,1,0,B,49,False
1,11,110,R,CC,55,1,1,1,0,0,D,49,False
1,12,120,L,CC,70,0,0,0,,0,,49,False
1,13,130,L,CC,70,0,0,0,2,0,A,49,False
CSV
for k in 20 21 22 23 24 25; do echo "1,$k,${k}0,R,CC,50,0,0,0,1,0,C,49,False" >> "$T/rsna.csv"; done
mkdir -p "$T/rsna"
"$MAMA" train -c "$T/train.conf" --set data.source=rsna --set data.root="$T/rsna" --set data.csv="$T/rsna.csv" \
  --set train.name=rsna >"$T/out" 2>&1
got=$(tail -n +2 "$T/runs/rsna/split.csv" | cut -d, -f1,3-7 | grep "^1[0-3]," | sort | tr '\n' ' ')
want="10,$T/rsna/10/100.dcm,L,1,1,0 10,$T/rsna/10/101.dcm,L,1,1,0 11,$T/rsna/11/110.dcm,R,3,0,1 12,$T/rsna/12/120.dcm,L,-1,-1,0 13,$T/rsna/13/130.dcm,L,0,2,0 "
[ "$got" = "$want" ] && ok "rsna labels and paths" || bad "rsna: '$got' / $(cat "$T/out")"
# a malformed RSNA row: strict names file:line
printf '1,14,140,X,CC,50,0,0,0,1,0,A,49,False\n' >> "$T/rsna.csv"
"$MAMA" train -c "$T/train.conf" --set data.source=rsna --set data.root="$T/rsna" --set data.csv="$T/rsna.csv" \
  --set data.strict=true --check >"$T/out" 2>&1
[ $? -ne 0 ] && grep -q "rsna.csv:13" "$T/out" && ok "bad RSNA row: file:line" || bad "bad RSNA row: $(cat "$T/out")"

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
