/* pgd.c - L-infinity projected gradient descent (METHODS.md s.5; attack.h):
 * `steps` signed steps of step_size*xmax, projected onto the eps*xmax ball
 * and [0, xmax]; optional uniform random start in the ball. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/error.h"
#include "bnnsweep/rng.h"

static void pgd_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *batch,
                      bns_attack_work *w) {
    float xmax = batch->xmax, *x_adv = batch->x_adv;
    const float *x = batch->x;
    const uint8_t *y = batch->y;
    uint64_t first_row = batch->first_row;
    int b = batch->b, d = src->model->arch.n_inputs;
    size_t n = (size_t)b * d;
    float radius = (float)(s->eps * xmax);
    memcpy(x_adv, x, sizeof(float) * n);
    if (s->random_start && radius > 0) {
        /* uniform in the ball: row i's numbers are substream BNS_ATTACK_PGD_SUBSTREAM + row of the ATTACK stream */
        bns_stream stream = bns_stream_make(s->seed, s->task, BNS_PURPOSE_ATTACK);
        for (int i = 0; i < b; i++) {
            float *u = w->r + (size_t)i * d;
            bns_stream_uniform(&stream, BNS_ATTACK_PGD_SUBSTREAM + first_row + i, 0, (size_t)d, u);
            for (int j = 0; j < d; j++) {
                float v = x_adv[(size_t)i * d + j] + radius * (2.0f * u[j] - 1.0f);
                x_adv[(size_t)i * d + j] = s->clip ? bns_attack_clampf(v, 0.0f, xmax) : v;
            }
        }
    }
    if (radius > 0) {
        for (int t = 0; t < s->steps; t++) {
            bns_attack_input_grad(src, x_adv, y, b, w->g, NULL);
            bns_attack_signed_step(x_adv, x, w->g, n, (float)(s->step_size * xmax), radius, s->clip, xmax);
        }
    }
    bns_attack_judge(src, x_adv, y, b, 0, batch->success, w);
}

static void pgd_defaults(bns_attack_settings *s) { s->steps = 40; }

static int pgd_validate(const bns_attack_settings *s, const bns_model *m) {
    (void)m;
    if (!(s->eps >= 0) || !isfinite(s->eps)) return bns_fail("eps: %g must be >= 0", s->eps);
    if (s->steps < 1) return bns_fail("steps: %d must be >= 1", s->steps);
    if (!(s->step_size > 0) || !isfinite(s->step_size)) return bns_fail("step_size: %g must be > 0", s->step_size);
    return 0;
}

static double pgd_cost(const bns_attack_settings *s) { return s->steps; }

static void pgd_describe(const bns_attack_settings *s, char *buf, size_t size) {
    snprintf(buf, size, "eps %g steps %d step_size %g ([0,1] scale)%s%s", s->eps, s->steps, s->step_size,
             s->random_start ? " random start" : "", s->clip ? "" : " no clip");
}

static const char *const pgd_uses[] = {"eps", "steps", "step_size", "random_start", NULL};

const bns_attack bns_attack_pgd = {
    .name = "pgd",
    .summary = "L-infinity PGD: signed steps projected on the eps-ball and pixel range (s.5)",
    .uses = pgd_uses,
    .defaults = pgd_defaults,
    .validate = pgd_validate,
    .run_batch = pgd_batch,
    .cost_steps = pgd_cost,
    .describe = pgd_describe,
};
