#!/usr/bin/env bash
# tokenizer_bench.sh: C tokenizers vs Hugging Face tokenizers (Rust, one thread) on the
# same generated reports, in one run; prints reports/s of each and the ratio.
# usage: bench/tokenizer_bench.sh [build-dir] [n-reports]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-20000}
ref=tests/text/ref
texts=$(mktemp)
trap 'rm -f "$texts"' EXIT
out=$("$build/bench/tokenizer_bench" "$ref/bpe_tokenizer.json" "$ref/minilm_vocab.txt" "$n" "$texts")
echo "$out"
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 - "$texts" "$ref" <<'PY' > "$texts.py"
import sys, time
from tokenizers import Tokenizer, AddedToken
texts = open(sys.argv[1]).read().splitlines()
ref = sys.argv[2]
bpe = Tokenizer.from_file(ref + '/bpe_tokenizer.json')
bpe.add_special_tokens([AddedToken(s, special=True) for s in ['<|startoftext|>', '<|padtext|>',
    '<|masktext|>', '<|separatetext|>', '<|unknowntext|>']])
bpe.enable_truncation(144)
bpe.enable_padding(length=144, pad_id=bpe.token_to_id('<|padtext|>'))
cap = ['<|startoftext|>' + t.replace('.', '<|separatetext|>').replace(';', '<|separatetext|>') + '<|endoftext|>' for t in texts]
for t in cap[:1000]: bpe.encode(t)
t0 = time.perf_counter()
bpe.encode_batch(cap)
tb = time.perf_counter() - t0
from tokenizers import models, normalizers, pre_tokenizers, processors
wp = Tokenizer(models.WordPiece.from_file(ref + '/minilm_vocab.txt', unk_token='[UNK]'))
wp.normalizer = normalizers.BertNormalizer(lowercase=True)
wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
wp.post_processor = processors.TemplateProcessing(single='[CLS] $A [SEP]', special_tokens=[('[CLS]', 101), ('[SEP]', 102)])
wp.enable_truncation(144)
wp.enable_padding(length=144, pad_id=0)
t0 = time.perf_counter()
wp.encode_batch(texts)
tw = time.perf_counter() - t0
print('HF bpe (caption, encode_batch)   %.1f reports/s' % (len(texts) / tb))
print('HF wordpiece (encode_batch)      %.1f reports/s' % (len(texts) / tw))
PY
cat "$texts.py"
c_bpe=$(echo "$out" | awk '/C bpe_caption/{print $3}')
c_wp=$(echo "$out" | awk '/C wordpiece_padded/{print $3}')
hf_bpe=$(awk '/HF bpe/{print $5}' "$texts.py")
hf_wp=$(awk '/HF wordpiece/{print $4}' "$texts.py")
rm -f "$texts.py"
python3 -c "print('ratio C/HF: bpe %.2fx, wordpiece %.2fx' % ($c_bpe / $hf_bpe, $c_wp / $hf_wp))"
