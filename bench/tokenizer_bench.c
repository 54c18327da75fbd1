/* tokenizer_bench.c: tokenizer throughput on generated reports (bench/tokenizer_bench.sh
 * runs it beside Hugging Face tokenizers on the same texts).
 * usage: tokenizer_bench BPE_TOKENIZER_JSON VOCAB_TXT N_REPORTS TEXTS_OUT
 * Writes the N reports (one per line) to TEXTS_OUT, then times the MaMA caption encoding
 * (BPE, 144) and the padded WordPiece encoding (144) of all of them, single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/text/bpe.h"
#include "engine/text/report.h"
#include "engine/text/wordpiece.h"
#include "bench/bench_util.h"

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s tokenizer.json vocab.txt N texts_out\n", argv[0]); return 2; }
    int n = atoi(argv[3]);
    bpe_tokenizer *bpe = NULL;
    wordpiece_tokenizer *wp = NULL;
    if (bpe_load_json(argv[1], &bpe) || wordpiece_load(argv[2], NULL, &wp) || n <= 0) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    static const char *const races[] = {"Caucasian or White", "African American  or Black", "Asian"};
    static const char *const shapes[] = {NULL, "R", "O", "X", "F"};
    static const char *const views[] = {"CC", "MLO"};
    static const char asses[] = "ANBPSMK";
    char **texts = malloc((size_t)n * sizeof *texts);
    FILE *out = fopen(argv[4], "w");
    if (!texts || !out) return 1;
    mama_rng rng;
    mama_rng_seed(&rng, 42);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        report_clinical_row r = {0};
        r.acc_anon = "e";
        r.desc = mama_rng_bernoulli(&rng, 0.5) ? "MG Screening Bilateral" : "MG Diagnostic Left";
        r.tissueden = 1 + (int)mama_rng_below(&rng, 4);
        r.asses = asses[mama_rng_below(&rng, 7)];
        r.massshape = shapes[mama_rng_below(&rng, 5)];
        r.massmargin = r.massshape ? "S" : NULL;
        r.calcfind = mama_rng_bernoulli(&rng, 0.3) ? "P" : NULL;
        r.race_desc = races[mama_rng_below(&rng, 3)];
        r.ethnic_group_desc = "Non-Hispanic or Latino";
        r.age_at_study = 40 + (double)mama_rng_below(&rng, 45);
        report_image_meta m = {"e", r.desc, "2D", mama_rng_bernoulli(&rng, 0.5) ? 'L' : 'R',
                               views[mama_rng_below(&rng, 2)]};
        report_mask mask;
        report_mask_sample(&mask, &rng, 0.8);
        if (report_build(&r, &m, &mask, &texts[i])) return 1;
        fprintf(out, "%s\n", texts[i]);
        bytes += strlen(texts[i]);
    }
    fclose(out);
    int32_t ids[144], am[144], tt[144];
    long tokens = 0;
    /* BPE: first pass warms the word cache as a long-running trainer would have it. */
    for (int i = 0; i < n; i++) bpe_encode_caption(bpe, texts[i], 144, ids, am, NULL);
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        int k = 0;
        bpe_encode_caption(bpe, texts[i], 144, ids, am, &k);
        tokens += k;
    }
    double t_bpe = bench_now() - t0;
    long wtokens = 0;
    t0 = bench_now();
    for (int i = 0; i < n; i++) {
        int k = 0;
        wordpiece_encode_padded(wp, texts[i], 144, ids, am, tt, &k);
        wtokens += k;
    }
    double t_wp = bench_now() - t0;
    printf("reports %d, %.0f bytes each, %.1f BPE tokens, %.1f WordPiece tokens each\n", n,
           (double)bytes / n, (double)tokens / n, (double)wtokens / n);
    printf("C bpe_caption      %.1f reports/s  (%.2f us/report)\n", n / t_bpe, 1e6 * t_bpe / n);
    printf("C wordpiece_padded %.1f reports/s  (%.2f us/report)\n", n / t_wp, 1e6 * t_wp / n);
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    bpe_free(bpe);
    wordpiece_free(wp);
    return 0;
}
