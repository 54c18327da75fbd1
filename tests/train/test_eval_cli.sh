#!/bin/sh
# test_eval_cli.sh MAMA: `mama eval` end to end on generated phantoms with a seeded micro
# model: the report folder (report.json fields and their consistency, summary.md, every
# figure a real PNG), an unreadable image logged with its path and counted, an existing
# --out refused untouched, and a failed evaluation leaving no folder behind.
set -u
MAMA=$1
T=$(mktemp -d /tmp/mama-eval-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$MAMA" phantom --out "$T/ph" --count 16 --seed 4 --size 64x64 --quiet >/dev/null || exit 1
"$MAMA" model-init --out "$T/micro.safetensors" --config micro --seed 2 >/dev/null || exit 1
cat > "$T/e.conf" <<CONF
[model]
image_init = random
image_config = micro
text_init = random
[data]
source = phantom
root = $T/ph
CONF
"$MAMA" eval --model "$T/micro.safetensors" -c "$T/e.conf" --out "$T/rep" --boot 50 \
  --probe-steps 50 --fractions 10,100 </dev/null >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "eval ran" || { bad "eval rc=$rc: $(cat "$T/out")"; exit 1; }
python3 - "$T/rep" <<'PY' || fail=1
import json, os, sys
d = sys.argv[1]
r = json.load(open(os.path.join(d, 'report.json')))
bad = []
if r['data']['skipped_images'] != 0: bad.append('skipped images')
if r['data']['test_images'] < 1 or r['data']['train_images'] < 1: bad.append('split sizes')
got = {(x['task'], x['method']) for x in r['results']}
want = {('density', 'zero_shot'), ('birads', 'zero_shot'), ('cancer', 'model_head'),
        ('density', 'linear_probe_10'), ('density', 'linear_probe_100'), ('cancer', 'linear_probe_100')}
if not want <= got: bad.append('missing results %s' % sorted(want - got))
for x in r['results']:
    K = len(x['classes'])
    conf = x['confusion']
    n = sum(map(sum, conf))
    if n != x['n'] or len(conf) != K: bad.append('%s/%s confusion' % (x['task'], x['method']))
    acc = sum(conf[i][i] for i in range(K)) / n
    if abs(acc - x['accuracy']) > 1e-12: bad.append('%s/%s accuracy' % (x['task'], x['method']))
    present = [i for i in range(K) if sum(conf[i])]
    ba = sum(conf[i][i] / sum(conf[i]) for i in present) / len(present)
    b = x['balanced_accuracy']
    if abs(ba - b['value']) > 1e-12: bad.append('%s/%s balanced accuracy' % (x['task'], x['method']))
    for m in (b, x['auc_macro_ovr']):
        if m['value'] is not None and m['ci95_lo'] is not None and not (m['ci95_lo'] - 1e-12 <= m['ci95_hi']):
            bad.append('%s/%s interval order' % (x['task'], x['method']))
    if x['task'] == 'cancer' and 'binary' not in x: bad.append('cancer binary metrics')
    if x['method'].startswith('linear_probe') and x['train_samples'] < 1: bad.append('probe samples')
    f = os.path.join(d, 'confusion_%s_%s.png' % (x['task'], x['method']))
    if not os.path.exists(f) or open(f, 'rb').read(8) != b'\x89PNG\r\n\x1a\n': bad.append(f + ' not a PNG')
pngs = [p for p in os.listdir(d) if p.endswith('.png')]
if not any(p.startswith('roc_') for p in pngs): bad.append('no ROC figure')
for p in pngs:
    if open(os.path.join(d, p), 'rb').read(8) != b'\x89PNG\r\n\x1a\n': bad.append(p + ' not a PNG')
md = open(os.path.join(d, 'summary.md')).read()
if '| density | zero_shot |' not in md or 'balanced accuracy [95% CI]' not in md: bad.append('summary.md')
print('FAIL: ' + '; '.join(bad) if bad else 'ok: report.json consistent, %d results, %d PNGs' % (len(r['results']), len(pngs)))
sys.exit(1 if bad else 0)
PY

# an unreadable image of the test split (found through mama train's split.csv): logged
# with its path, skipped, counted; the rest evaluated
cp -r "$T/ph" "$T/ph2"
sed "s|root = $T/ph|root = $T/ph2|" "$T/e.conf" > "$T/e2.conf"
"$MAMA" train -c "$T/e2.conf" --set train.out_dir="$T/runs" --set train.name=s --set train.mode=heads \
  --set train.steps=1 --set train.warmup_steps=0 --set train.batch=2 >/dev/null 2>&1
victim=$(awk -F, '$8 == "test" {print $3; exit}' "$T/runs/s/split.csv")
[ -n "$victim" ] && echo "not a DICOM file" > "$victim"
"$MAMA" eval --model "$T/micro.safetensors" --run "$T/runs/s" --out "$T/rep2" --boot 0 --no-probe \
  </dev/null >"$T/out" 2>&1
rc=$?
skipped=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['data']['skipped_images'])" "$T/rep2/report.json" 2>/dev/null)
if [ $rc -eq 0 ] && [ -n "$victim" ] && grep -q "skipped $victim" "$T/out" && [ "$skipped" = 1 ]; then
  ok "bad image skipped and counted"
else bad "bad image: rc=$rc skipped=$skipped $(cat "$T/out")"; fi

# existing --out: refused, untouched
before=$(cksum < "$T/rep/report.json")
"$MAMA" eval --model "$T/micro.safetensors" -c "$T/e.conf" --out "$T/rep" --boot 0 </dev/null >"$T/out" 2>&1
if [ $? -ne 0 ] && grep -q "exists already" "$T/out" && [ "$(cksum < "$T/rep/report.json")" = "$before" ]; then
  ok "existing report kept"; else bad "existing --out: $(cat "$T/out")"; fi
# a model file that is not one: clear error, no folder
echo junk > "$T/junk.safetensors"
"$MAMA" eval --model "$T/junk.safetensors" -c "$T/e.conf" --out "$T/rep3" </dev/null >"$T/out" 2>&1
if [ $? -ne 0 ] && [ ! -e "$T/rep3" ] && [ ! -e "$T/rep3.partial" ]; then ok "bad model: no report"; else bad "bad model: $(cat "$T/out")"; fi
# bad options name themselves
"$MAMA" eval --model "$T/micro.safetensors" -c "$T/e.conf" --out "$T/rep4" --fractions 0,200 >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q -e "--fractions" "$T/out" && ok "bad --fractions" || bad "bad --fractions: $(cat "$T/out")"
exit $fail
