/* fgsm.c - the fast gradient sign method (METHODS.md s.5; attack.h):
 * x' = clip(x + eps*xmax * sign(grad_x CE(x, y))), one input gradient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/error.h"

static void fgsm_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *b,
                       bns_attack_work *w) {
    size_t n = (size_t)b->b * src->model->arch.n_inputs;
    bns_attack_input_grad(src, b->x, b->y, b->b, w->g, NULL);
    memcpy(b->x_adv, b->x, sizeof(float) * n);
    bns_attack_signed_step(b->x_adv, b->x, w->g, n, (float)(s->eps * b->xmax), 0.0f, s->clip, b->xmax);
    bns_attack_judge(src, b->x_adv, b->y, b->b, 0, b->success, w);
}

static int fgsm_validate(const bns_attack_settings *s, const bns_model *m) {
    (void)m;
    if (!(s->eps >= 0) || !isfinite(s->eps)) return bns_fail("eps: %g must be >= 0", s->eps);
    return 0;
}

static double fgsm_cost(const bns_attack_settings *s) {
    (void)s;
    return 1;
}

static void fgsm_describe(const bns_attack_settings *s, char *buf, size_t size) {
    snprintf(buf, size, "eps %g ([0,1] scale)%s", s->eps, s->clip ? "" : " no clip");
}

static const char *const fgsm_uses[] = {"eps", NULL};

const bns_attack bns_attack_fgsm = {
    .name = "fgsm",
    .summary = "x + eps * sign(grad_x CE), clipped (s.5)",
    .uses = fgsm_uses,
    .validate = fgsm_validate,
    .run_batch = fgsm_batch,
    .cost_steps = fgsm_cost,
    .describe = fgsm_describe,
};
