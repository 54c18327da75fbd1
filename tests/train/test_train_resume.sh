#!/bin/sh
# test_train_resume.sh MAMA: `mama train` (train.mode = heads) stops and resumes exactly.
# - 60 steps straight == 30 steps, SIGTERM (a checkpoint on the signal), --resume, 30 more:
#   the final checkpoints are the same bytes, metrics.jsonl the same lines;
# - kill -9 at step 35 (checkpoints every 10): no temporary file left, the checkpoint of
#   step 30 loads, --resume ends with the same bytes again;
# - a poisoned batch (a NaN feature, test hook) at one step: reported with the step and the
#   term, skipped, the run finishes; at three steps in a row with train.max_nan_steps = 3:
#   the run stops with a clear message and exit 4, the last good checkpoint (step 20) kept;
# - --resume refuses a run whose config.conf was edited.
set -u
MAMA=$1
T=$(mktemp -d /tmp/mama-train-resume-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$MAMA" phantom --out "$T/ph" --count 16 --seed 8 --size 64x64 --quiet >/dev/null || exit 1
cat > "$T/h.conf" <<CONF
[model]
image_init = random
image_config = micro
[data]
source = phantom
root = $T/ph
workers = 2
[train]
mode = heads
out_dir = $T/runs
steps = 60
warmup_steps = 5
batch = 8
lr = 0.05
lr_min = 0.001
checkpoint_every = 10
eval_every = 20
CONF
ckpt_step() { python3 - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
print(json.loads(json.loads(b[8:8 + n])['__metadata__']['mama_checkpoint'])['step'])
PY
}

"$MAMA" train -c "$T/h.conf" --set train.name=A >"$T/a.out" 2>&1 || { bad "straight run: $(cat "$T/a.out")"; exit 1; }
A=$T/runs/A

# SIGTERM at step 30, then resume
MAMA_TRAIN_SIGNAL_AT=30 "$MAMA" train -c "$T/h.conf" --set train.name=B >"$T/b.out" 2>&1
rc=$?
B=$T/runs/B
if [ $rc -eq 143 ] && grep -q "interrupted at step 30" "$T/b.out" && [ "$(ckpt_step "$B/checkpoint.safetensors")" = 30 ]; then
  ok "SIGTERM: checkpoint at step 30"; else bad "SIGTERM rc=$rc: $(cat "$T/b.out")"; fi
"$MAMA" train --resume "$B" >"$T/b2.out" 2>&1 || bad "resume B: $(cat "$T/b2.out")"
cmp -s "$A/checkpoint.safetensors" "$B/checkpoint.safetensors" && ok "60 straight == 30 + resume + 30 (checkpoint bytes)" \
  || bad "resumed checkpoint differs"
cmp -s "$A/metrics.jsonl" "$B/metrics.jsonl" && ok "metrics.jsonl identical" || bad "metrics.jsonl differs"
cmp -s "$A/heads.json" "$B/heads.json" && ok "heads.json identical" || bad "heads.json differs"
for f in loss.png lr.png val.png; do [ -s "$A/plots/$f" ] || bad "no plots/$f"; done

# kill -9 at step 35
MAMA_TRAIN_KILL_AT=35 "$MAMA" train -c "$T/h.conf" --set train.name=C >"$T/c.out" 2>&1
rc=$?
C=$T/runs/C
left=$(find "$C" -name '*.tmp*' | wc -l)
if [ $rc -eq 137 ] && [ "$left" -eq 0 ] && [ "$(ckpt_step "$C/checkpoint.safetensors")" = 30 ]; then
  ok "kill -9: checkpoint of step 30, no temporary file"; else bad "kill -9 rc=$rc, $left temporaries"; fi
"$MAMA" train --resume "$C" >"$T/c2.out" 2>&1 || bad "resume C: $(cat "$T/c2.out")"
cmp -s "$A/checkpoint.safetensors" "$C/checkpoint.safetensors" && ok "after kill -9: resume == straight" \
  || bad "checkpoint after kill -9 + resume differs"
cmp -s "$A/metrics.jsonl" "$C/metrics.jsonl" && ok "metrics.jsonl after kill -9 identical" || bad "metrics.jsonl after kill -9 differs"

# a poisoned batch: skipped, reported, the run finishes
MAMA_TRAIN_POISON_STEPS=5 "$MAMA" train -c "$T/h.conf" --set train.name=D >"$T/d.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "step 6: loss term density is not finite; batch skipped (1 in a row)" "$T/d.out"; then
  ok "NaN batch skipped and reported"; else bad "NaN once rc=$rc: $(cat "$T/d.out")"; fi
python3 - "$T/runs/D/checkpoint.safetensors" <<'PY' && ok "no NaN in the heads" || bad "NaN reached the heads"
import json, struct, sys, math, array
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']
    a = array.array('f', b[8 + n + s:8 + n + e])
    if any(math.isnan(x) or math.isinf(x) for x in a): sys.exit(1)
PY
# three in a row: stop, exit 4, last good checkpoint kept
MAMA_TRAIN_POISON_STEPS=22,23,24 "$MAMA" train -c "$T/h.conf" --set train.name=E --set train.max_nan_steps=3 >"$T/e.out" 2>&1
rc=$?
if [ $rc -eq 4 ] && grep -q "stopped: 3 consecutive steps with a non-finite loss" "$T/e.out" && \
   [ "$(ckpt_step "$T/runs/E/checkpoint.safetensors")" = 20 ]; then
  ok "repeated NaN: stopped, checkpoint of step 20 kept"; else bad "repeated NaN rc=$rc: $(cat "$T/e.out")"; fi

# an edited config.conf is refused on resume
sed -i 's/^train.lr = .*/train.lr = 0.5/' "$T/runs/E/config.conf"
"$MAMA" train --resume "$T/runs/E" >"$T/f.out" 2>&1
[ $? -ne 0 ] && grep -q "changed since the checkpoint" "$T/f.out" && ok "edited config refused" || bad "edited config: $(cat "$T/f.out")"
exit $fail
