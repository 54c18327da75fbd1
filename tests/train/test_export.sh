#!/bin/sh
# test_export.sh MAMA: `mama export` of a heads run is the model that scores. A short heads
# run on phantoms, exported with --demo; `mama score` (the engine path mamad uses) on a
# study of the training split gives, per view and task, softmax(W g + b) computed here in
# plain Python from the run's own checkpoint (W, b) and feature file (g), per element
# |score - ref| <= 2e-5 (the JSON has 6 decimals); the provenance names the run and carries
# the demo mark; the model is no longer "untrained".
set -u
MAMA=$1
T=$(mktemp -d /tmp/mama-export-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$MAMA" phantom --out "$T/ph" --count 12 --seed 9 --size 64x64 --quiet >/dev/null || exit 1
cat > "$T/h.conf" <<CONF
[model]
image_init = random
image_config = micro
[data]
source = phantom
root = $T/ph
[train]
mode = heads
out_dir = $T/runs
name = r
steps = 40
warmup_steps = 4
batch = 8
lr = 0.1
lr_min = 0.001
CONF
"$MAMA" train -c "$T/h.conf" >"$T/out" 2>&1 || { echo "FAIL: train: $(cat "$T/out")"; exit 1; }
"$MAMA" export "$T/runs/r" --out "$T/m.safetensors" --demo >"$T/out" 2>&1 || { echo "FAIL: export: $(cat "$T/out")"; exit 1; }
grep -q "trained head(s), step 40" "$T/out" || { echo "FAIL: export said: $(cat "$T/out")"; exit 1; }
study=$(awk -F, '$8 == "train" {print $2; exit}' "$T/runs/r/split.csv")
dir=$(awk -F, -v s="$study" '$2 == s {print $3; exit}' "$T/runs/r/split.csv" | xargs dirname)
"$MAMA" score --model "$T/m.safetensors" --study "$dir" > "$T/score.json" 2>"$T/err" || { echo "FAIL: score: $(cat "$T/err")"; exit 1; }
# a run folder that is not finished (no heads.json) is refused
mkdir "$T/runs/empty" && cp "$T/runs/r/base.safetensors" "$T/runs/empty/"
"$MAMA" export "$T/runs/empty" --out "$T/x.safetensors" >"$T/out" 2>&1
if [ $? -eq 0 ] || [ -e "$T/x.safetensors" ] || ! grep -q "heads.json" "$T/out"; then echo "FAIL: unfinished run exported"; exit 1; fi
python3 - "$T/runs/r" "$T/score.json" <<'PY'
import json, math, struct, sys, array, os
run, score = sys.argv[1], json.load(open(sys.argv[2]))

def st(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']
        out[k] = (array.array('f' if v['dtype'] == 'F32' else 'i', b[8 + n + s:8 + n + e]), v['shape'])
    return out

ck, fe = st(os.path.join(run, 'checkpoint.safetensors')), st(os.path.join(run, 'features.safetensors'))
pooled, (N, C) = fe['pooled'][0], fe['pooled'][1]
items = list(fe['item'][0])
rows = [l.rstrip('\n').split(',') for l in open(os.path.join(run, 'split.csv'))][1:]
bad = []
m = score['model']
if not m['source'].startswith('demo: trained on phantoms, not for clinical use; mama train (heads) '): bad.append('source: ' + m['source'])
if m['untrained']: bad.append('still untrained')
if m.get('status') != 'demo: trained on phantoms, not for clinical use': bad.append('status: %s' % m.get('status'))
checked = 0
for v in score['views']:
    item = [i for i, r in enumerate(rows) if os.path.samefile(r[2], v['file'])][0]
    g = pooled[items.index(item) * C:(items.index(item) + 1) * C]
    for task, out in v["tasks"].items():
        if "head.%s.w" % task not in ck: continue  # a task without two training classes keeps its model head
        w, (K, _) = ck['head.%s.w' % task][0], ck['head.%s.w' % task][1]
        b = ck['head.%s.b' % task][0]
        z = [sum(w[k * C + c] * g[c] for c in range(C)) + b[k] for k in range(K)]
        mx = max(z)
        e = [math.exp(x - mx) for x in z]
        ref = [x / sum(e) for x in e]
        got = list(out['probs'].values())
        for k in range(K):
            if abs(got[k] - ref[k]) > 2e-5: bad.append('%s %s class %d: %g vs %g' % (v['file'], task, k, got[k], ref[k]))
        checked += 1
print('FAIL: ' + '; '.join(bad[:5]) if bad else 'ok: %d view-task probabilities equal softmax(W g + b) of the run' % checked)
sys.exit(1 if bad or checked == 0 else 0)
PY
