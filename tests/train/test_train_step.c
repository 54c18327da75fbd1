/* test_train_step.c: the training step's behaviour beyond its numbers (those are
 * test_train_parity's), on the tiny GPT-2 + LoRA fixture of train_ref.py:
 *   - bitwise determinism: two trainers from the same start, same batches, same threads
 *     give the same losses and the same parameter bytes after three steps;
 *   - a non-finite gradient (poisoned by injection: --wrap=head_backward) is caught before
 *     the update: the step is skipped, the report names the tensor, no parameter changes,
 *     the step number does not advance, and the next clean step trains;
 *   - a non-finite loss term (a NaN BatchNorm weight in the SimCLR head) is named "L_VV";
 *   - the late switch reads the step: a trainer resumed past late_step trains all terms
 *     from its first call, and one before it freezes the local heads;
 *   - accumulation: two micro-batches of the same batch with accum 2 update as one batch
 *     with accum 1 (same gradients averaged), within 1e-6 relative;
 *   - the logit scales are clamped at ln(100) after an update;
 *   - bad batches (B < 2, a sentence position outside the tokens, a report without a
 *     sentence, no second views after late_step) are MAMA_EINVAL with nothing applied. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/loss.h"
#include "engine/train/step.h"
#include "tests/check.h"
#include "tests/train/train_fixture.h"

static const char *REF;

/* --wrap=head_backward: when poison_head is set, the head's first weight gradient becomes
 * NaN after the real backward (a stand-in for an overflow deep in a backward). */
static const head *poison_head;
mama_status __real_head_backward(head *h, float *dinp, const float *inp, const float *dout);
mama_status __wrap_head_backward(head *h, float *dinp, const float *inp, const float *dout);
mama_status __wrap_head_backward(head *h, float *dinp, const float *inp, const float *dout) {
    mama_status rc = __real_head_backward(h, dinp, inp, dout);
    if (h == poison_head) h->grads.w1[3] = NAN;
    return rc;
}

/* all trainable parameters, concatenated */
static float *snapshot(const trainer *t, size_t *n) {
    size_t k = 0;
    for (int i = 0; i < t->opt.n; i++) k += t->opt.t[i].n;
    float *s = malloc(k * sizeof(float));
    k = 0;
    for (int i = 0; i < t->opt.n; i++) {
        memcpy(s + k, t->opt.t[i].param, t->opt.t[i].n * sizeof(float));
        k += t->opt.t[i].n;
    }
    *n = k;
    return s;
}

static void test_determinism(void) {
    fixture a, b;
    CHECK(fixture_load(&a, REF, NULL) == 0);
    CHECK(fixture_load(&b, REF, NULL) == 0);
    train_report ra, rb;
    int same_loss = 1;
    for (int k = 0; k < 3; k++) {
        CHECK(trainer_step(a.tr, &a.b, &ra) == MAMA_OK);
        CHECK(trainer_step(b.tr, &b.b, &rb) == MAMA_OK);
        same_loss &= memcmp(ra.loss, rb.loss, sizeof ra.loss) == 0;
    }
    size_t na, nb;
    float *pa = snapshot(a.tr, &na), *pb = snapshot(b.tr, &nb);
    CHECK_MSG(same_loss, "losses differ between two identical runs");
    CHECK_MSG(na == nb && memcmp(pa, pb, na * sizeof(float)) == 0,
              "parameters differ between two identical runs");
    free(pa); free(pb);
    fixture_free(&a);
    fixture_free(&b);
}

static void test_nonfinite_gradient(void) {
    fixture x;
    CHECK(fixture_load(&x, REF, NULL) == 0);
    size_t n0, n1;
    float *p0 = snapshot(x.tr, &n0);
    poison_head = x.tr->txt_proj;
    train_report r;
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    poison_head = NULL;
    CHECK_MSG(r.skipped && !r.updated, "a NaN gradient was not caught");
    CHECK_MSG(strcmp(r.bad, "txt_proj.w1") == 0, "report names '%s', not txt_proj.w1", r.bad);
    CHECK(x.tr->step == 0 && r.step == 0);
    float *p1 = snapshot(x.tr, &n1);
    CHECK_MSG(memcmp(p0, p1, n0 * sizeof(float)) == 0, "a skipped step changed parameters");
    free(p1);
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    CHECK_MSG(r.updated && !r.skipped && x.tr->step == 1, "the next clean step did not train");
    free(p0);
    fixture_free(&x);
}

static void late0(train_config *c) { c->late_step = 0; }

static void test_nonfinite_loss(void) {
    fixture x;
    CHECK(fixture_load(&x, REF, late0) == 0);
    x.tr->simclr->params.bn1w[0] = NAN;
    train_report r;
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    CHECK_MSG(r.skipped && strcmp(r.bad, "L_VV") == 0, "skipped %d, bad '%s'", r.skipped, r.bad);
    CHECK(x.tr->step == 0);
    fixture_free(&x);
}

static void test_late_switch(void) {
    fixture x;
    CHECK(fixture_load(&x, REF, NULL) == 0);   /* late_step 1 */
    x.tr->step = 5;                            /* a resume past it */
    train_report r;
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    CHECK_MSG(r.late && r.loss[TRAIN_SLA] > 0 && r.loss[TRAIN_VV] > 0, "a resume past late_step "
              "did not train the late terms");
    CHECK(!adamw_find(&x.tr->opt, "img_local.w1")->frozen);
    CHECK(adamw_find(&x.tr->opt, "img_local.w1")->t == 1);
    fixture_free(&x);
    CHECK(fixture_load(&x, REF, NULL) == 0);
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    CHECK(!r.late && r.loss[TRAIN_SLA] == 0);
    CHECK(adamw_find(&x.tr->opt, "img_local.w1")->frozen);
    CHECK(adamw_find(&x.tr->opt, "logit_scale_local")->t == 0);
    CHECK(adamw_find(&x.tr->opt, "logit_scale")->t == 1);
    fixture_free(&x);
}

static void accum2(train_config *c) { c->accum = 2; }

static void test_accumulation(void) {
    fixture a, b;
    CHECK(fixture_load(&a, REF, late0) == 0);
    CHECK(fixture_load(&b, REF, accum2) == 0);
    b.tr->cfg.late_step = 0;
    train_report r;
    CHECK(trainer_step(a.tr, &a.b, &r) == MAMA_OK && r.updated);
    CHECK(trainer_step(b.tr, &b.b, &r) == MAMA_OK && !r.updated);
    CHECK(trainer_step(b.tr, &b.b, &r) == MAMA_OK && r.updated);
    size_t na, nb;
    float *pa = snapshot(a.tr, &na), *pb = snapshot(b.tr, &nb);
    double *ref = malloc(na * sizeof(double));
    for (size_t i = 0; i < na; i++) ref[i] = pa[i];
    /* the BatchNorm running stats moved twice in b; parameters must agree */
    check_close("accum 2 vs accum 1", pb, ref, na, 1e-6, 1e-5);
    free(pa); free(pb); free(ref);
    fixture_free(&a);
    fixture_free(&b);
}

static void test_scale_clamp(void) {
    fixture x;
    CHECK(fixture_load(&x, REF, NULL) == 0);
    *x.tr->scales.logit_scale = LOGIT_SCALE_MAX - 1e-6f;
    adamw_find(&x.tr->opt, "logit_scale")->decay = 0;
    x.tr->cfg.lr = 10.0f;   /* any gradient sign but zero moves it by ~lr */
    train_report r;
    CHECK(trainer_step(x.tr, &x.b, &r) == MAMA_OK);
    CHECK_MSG(*x.tr->scales.logit_scale <= LOGIT_SCALE_MAX, "logit scale %g above ln 100",
              (double)*x.tr->scales.logit_scale);
    fixture_free(&x);
}

static void test_bad_batches(void) {
    fixture x;
    CHECK(fixture_load(&x, REF, late0) == 0);
    size_t n0, n1;
    float *p0 = snapshot(x.tr, &n0);
    train_batch b = x.b;
    train_report r;
    b.B = 1;
    CHECK(trainer_step(x.tr, &b, &r) == MAMA_EINVAL);
    b = x.b;
    b.img2 = NULL;
    CHECK(trainer_step(x.tr, &b, &r) == MAMA_EINVAL);
    b = x.b;
    int pos[64];
    memcpy(pos, x.b.sent_pos, (size_t)x.b.sent_off[x.b.B] * sizeof(int));
    pos[0] = x.b.B * x.b.T;
    b.sent_pos = pos;
    CHECK(trainer_step(x.tr, &b, &r) == MAMA_EINVAL);
    b = x.b;
    int off[16];
    memcpy(off, x.b.sent_off, (size_t)(x.b.B + 1) * sizeof(int));
    off[2] = off[1];   /* report 1 without a sentence */
    b.sent_off = off;
    CHECK(trainer_step(x.tr, &b, &r) == MAMA_EINVAL);
    float *p1 = snapshot(x.tr, &n1);
    CHECK(memcmp(p0, p1, n0 * sizeof(float)) == 0 && x.tr->step == 0);
    free(p0); free(p1);
    fixture_free(&x);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s train_gpt2.safetensors\n", argv[0]); return 2; }
    REF = argv[1];
    test_determinism();
    test_nonfinite_gradient();
    test_nonfinite_loss();
    test_late_switch();
    test_accumulation();
    test_scale_clamp();
    test_bad_batches();
    return check_done("train_step");
}
