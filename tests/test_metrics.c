/* test_metrics.c - metrics.h against hand-computed values.
 *
 * AUROC and the two AUPRs on a small case with tied scores (worked out by
 * hand in the comments), entropy / variation ratio / BALD on a hand-made
 * table of sample probabilities, NLL, and ECE with two rows sharing a bin.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bnnsweep/metrics.h"

/* cmocka 1.1's assert_float_equal compares floats; this one compares doubles */
#define assert_near(a, b, tol)                                                                        \
    do {                                                                                              \
        double a_ = (a), b_ = (b);                                                                    \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.12g, expected %.12g", #a, a_, b_);            \
    } while (0)

/* in = {0.1, 0.4, 0.4, 0.8}, out = {0.4, 0.9, 0.2}; higher = more OOD.
 * AUROC: pairs (out, in) with out > in count 1, ties 1/2:
 *   0.4: 1 + 1/2 + 1/2 = 2;  0.9: 4;  0.2: 1   ->  7 / 12.
 * AUPR-out (OOD positive, descending): 0.9 o | 0.8 i | 0.4 {i,i,o} | 0.2 o | 0.1 i
 *   AP = 1/3*1 + 1/3*(2/5) + 1/3*(3/6) = 19/30.
 * AUPR-in (in positive, ascending): 0.1 i | 0.2 o | 0.4 {i,i,o} | 0.8 i | 0.9 o
 *   AP = 1/4*1 + 2/4*(3/5) + 1/4*(4/6) = 43/60. */
static void test_rank_metrics_with_ties(void **state) {
    (void)state;
    const float in[] = {0.1f, 0.4f, 0.4f, 0.8f}, out[] = {0.4f, 0.9f, 0.2f};
    assert_near(bns_auroc(in, 4, out, 3), 7.0 / 12.0, 1e-12);
    assert_near(bns_aupr_out(in, 4, out, 3), 19.0 / 30.0, 1e-12);
    assert_near(bns_aupr_in(in, 4, out, 3), 43.0 / 60.0, 1e-12);
    /* the order of the inputs does not matter */
    const float in2[] = {0.8f, 0.4f, 0.1f, 0.4f}, out2[] = {0.2f, 0.4f, 0.9f};
    assert_near(bns_auroc(in2, 4, out2, 3), 7.0 / 12.0, 1e-12);
    assert_near(bns_aupr_out(in2, 4, out2, 3), 19.0 / 30.0, 1e-12);
    assert_near(bns_aupr_in(in2, 4, out2, 3), 43.0 / 60.0, 1e-12);
}

static void test_rank_metrics_extremes(void **state) {
    (void)state;
    const float lo[] = {0.0f, 1.0f}, hi[] = {2.0f, 3.0f, 2.5f};
    assert_near(bns_auroc(lo, 2, hi, 3), 1.0, 1e-12);
    assert_near(bns_aupr_out(lo, 2, hi, 3), 1.0, 1e-12);
    assert_near(bns_aupr_in(lo, 2, hi, 3), 1.0, 1e-12);
    assert_near(bns_auroc(hi, 3, lo, 2), 0.0, 1e-12);
    /* everything tied: one threshold with every row, precision = prevalence */
    const float same_in[] = {1, 1}, same_out[] = {1, 1, 1};
    assert_near(bns_auroc(same_in, 2, same_out, 3), 0.5, 1e-12);
    assert_near(bns_aupr_out(same_in, 2, same_out, 3), 3.0 / 5.0, 1e-12);
    assert_near(bns_aupr_in(same_in, 2, same_out, 3), 2.0 / 5.0, 1e-12);
}

/* 2 samples x 3 rows x 3 classes:
 *   row 0: (1,0,0) and (0,1,0): p_bar (.5,.5,0), H = ln 2, VR = .5, BALD = ln 2 (samples certain)
 *   row 1: uniform twice:       H = ln 3, VR = 2/3, BALD = 0
 *   row 2: (.6,.4,0) and (.8,0,.2): p_bar (.7,.2,.1), VR = .3,
 *          BALD = H(.7,.2,.1) - (H(.6,.4) + H(.8,.2)) / 2 */
static double h2(double a, double b) { return -a * log(a) - b * log(b); }

static void test_uncertainty_scores(void **state) {
    (void)state;
    const float t = 1.0f / 3.0f;
    const float probs[2][3][3] = {{{1, 0, 0}, {t, t, t}, {0.6f, 0.4f, 0}},
                                  {{0, 1, 0}, {t, t, t}, {0.8f, 0, 0.2f}}};
    float p_bar[9], ent[3], vr[3], bald[3];
    bns_uncertainty(&probs[0][0][0], 2, 3, 3, p_bar, ent, vr, bald);
    double h_row2 = -0.7 * log(0.7) - 0.2 * log(0.2) - 0.1 * log(0.1);
    assert_near(ent[0], log(2.0), 1e-6);
    assert_near(ent[1], log(3.0), 1e-6);
    assert_near(ent[2], h_row2, 1e-6);
    assert_near(vr[0], 0.5, 1e-6);
    assert_near(vr[1], 2.0 / 3.0, 1e-6);
    assert_near(vr[2], 0.3, 1e-6);
    assert_near(bald[0], log(2.0), 1e-6);
    assert_near(bald[1], 0.0, 1e-6);
    assert_near(bald[2], h_row2 - 0.5 * (h2(0.6, 0.4) + h2(0.8, 0.2)), 1e-6);
    assert_near(p_bar[6], 0.7, 1e-6);
    /* the streaming form (p_bar + mean per-sample entropy) agrees */
    float mean_h[3] = {0.0f, (float)log(3.0), (float)(0.5 * (h2(0.6, 0.4) + h2(0.8, 0.2)))}, s[3];
    bns_uncertainty_score(p_bar, mean_h, 3, 3, BNS_SCORE_BALD, s);
    for (int i = 0; i < 3; i++) assert_near(s[i], bald[i], 1e-6);
    bns_uncertainty_score(p_bar, NULL, 3, 3, BNS_SCORE_VR, s);
    for (int i = 0; i < 3; i++) assert_near(s[i], vr[i], 1e-7);
    assert_int_equal(bns_score_parse("bald"), BNS_SCORE_BALD);
    assert_int_equal(bns_score_parse("nope"), -1);
}

/* 15 bins of width 1/15. conf .9 (bin 13, right), .92 (bin 13, wrong), .95
 * (bin 14, wrong), .6 (bin 9, right), .55 (bin 8, wrong):
 * ECE = (|1 + 0 - .9 - .92| + .95 + .4 + .55) / 5 = 2.72 / 5. Per-row
 * gaps without binning would give 2.92 / 5. */
static void test_ece_and_nll(void **state) {
    (void)state;
    const float probs[] = {0.9f, 0.1f, 0.08f, 0.92f, 0.95f, 0.05f, 0.4f, 0.6f, 0.45f, 0.55f};
    const uint8_t labels[] = {0, 0, 1, 1, 0};
    assert_near(bns_ece(probs, labels, 5, 2, 15), 2.72 / 5.0, 1e-6);
    assert_near(bns_ece(probs, labels, 5, 2, 1), fabs(2.0 - (0.9 + 0.92 + 0.95 + 0.6 + 0.55)) / 5.0, 1e-6);
    const float p2[] = {0.5f, 0.5f, 0.25f, 0.75f};
    const uint8_t y2[] = {0, 1};
    assert_near(bns_nll(p2, y2, 2, 2), 0.5 * (log(2.0) + log(4.0 / 3.0)), 1e-7);
    const float certain[] = {1.0f, 0.0f};
    const uint8_t wrong[] = {1};
    assert_near(bns_nll(certain, wrong, 1, 2), -log(1e-12), 1e-9);
    assert_near(bns_ece(certain, wrong, 1, 2, 15), 1.0, 1e-12); /* confidence 1 lands in the last bin */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_metrics_with_ties),
        cmocka_unit_test(test_rank_metrics_extremes),
        cmocka_unit_test(test_uncertainty_scores),
        cmocka_unit_test(test_ece_and_nll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
