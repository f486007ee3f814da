/* targeted.c - iterative targeted FGSM (METHODS.md s.5; attack.h):
 * x_t = clip(x_{t-1} - eta*xmax * sign(grad_x[-log p(t|x_{t-1})])) for `steps`
 * steps, t = (y + 1) mod classes or a fixed class; success = the source
 * predicts t. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/error.h"

static void targeted_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *b,
                           bns_attack_work *w) {
    size_t n = (size_t)b->b * src->model->arch.n_inputs;
    float radius = (float)(s->eps * b->xmax);
    memcpy(b->x_adv, b->x, sizeof(float) * n);
    for (int t = 0; t < s->steps; t++) {
        /* descend -log p(target | x): a step against the gradient */
        bns_attack_input_grad(src, b->x_adv, b->target, b->b, w->g, NULL);
        bns_attack_signed_step(b->x_adv, b->x, w->g, n, (float)(-s->eta * b->xmax), radius, s->clip, b->xmax);
    }
    bns_attack_judge(src, b->x_adv, b->target, b->b, 1, b->success, w);
}

static void targeted_defaults(bns_attack_settings *s) { s->eps = 0.0; /* unbounded */ }

static int targeted_validate(const bns_attack_settings *s, const bns_model *m) {
    const bns_arch *a = &m->arch;
    int classes = a->n_classes;
    if (!(s->eps >= 0) || !isfinite(s->eps)) return bns_fail("eps: %g must be >= 0 (0 = unbounded)", s->eps);
    if (s->steps < 1) return bns_fail("steps: %d must be >= 1", s->steps);
    if (!(s->eta > 0) || !isfinite(s->eta)) return bns_fail("eta: %g must be > 0", s->eta);
    if (s->target_mode < 0 || s->target_mode > BNS_TARGET_FIXED)
        return bns_fail("target: unknown mode %d", s->target_mode);
    if (s->target_mode == BNS_TARGET_FIXED && (s->target_class < 0 || s->target_class >= classes))
        return bns_fail("target_class: %d is not a class of the model (0..%d)", s->target_class, classes - 1);
    return 0;
}

static int targeted_target(const bns_attack_settings *s, int y, int n_classes) {
    return s->target_mode == BNS_TARGET_FIXED ? s->target_class : (y + 1) % n_classes;
}

static double targeted_cost(const bns_attack_settings *s) { return s->steps; }

static void targeted_describe(const bns_attack_settings *s, char *buf, size_t size) {
    snprintf(buf, size, "target %s eta %g steps %d eps %g ([0,1] scale)%s",
             s->target_mode == BNS_TARGET_NEXT ? "next" : "fixed", s->eta, s->steps, s->eps,
             s->clip ? "" : " no clip");
}

static const char *const targeted_uses[] = {"target", "eta", "steps", "eps", NULL};

const bns_attack bns_attack_targeted = {
    .name = "targeted",
    .summary = "iterative targeted FGSM: x - eta * sign(grad_x[-log p(target|x)]) (s.5);\n"
               "eps 0 = no L-infinity bound",
    .uses = targeted_uses,
    .defaults = targeted_defaults,
    .validate = targeted_validate,
    .target = targeted_target,
    .run_batch = targeted_batch,
    .cost_steps = targeted_cost,
    .describe = targeted_describe,
};
