/* minnorm.c - the min-norm attack of Zhang & Chen (METHODS.md s.4; attack.h):
 * per example, gradient descent on r for c*|r|_2 - CE(f(x+r), y), stopping at
 * the first misclassified x+r (or, with margin > 0, at the first x+r whose
 * wrong-class probability exceeds the true one's by margin, or misclassified
 * when the distortion budget is reached), and the smallest successful r over
 * a per-example geometric bisection on c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/error.h"

/* share of max_steps * search_steps an example runs on average: most stop
 * early (min-norm on 10k images vs FC-200-200-10 (W 199,210), 200 steps: 6.5 s) */
#define MINNORM_COST_FRACTION 0.35

static double norm2(const float *v, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
    return sqrt(s);
}

/* One gradient step on r for the objective c*|r|_2 - CE(f(x + r), y): the
 * loss term is the untargeted one (raise the true label's cross-entropy;
 * lowering it, the literal "+ CE(y)", would never misclassify). g is the CE
 * gradient at x + r; t counts steps from 1 (Adam's bias correction). */
static void minnorm_step(const bns_attack_settings *s, double c, int t, const float *x, float xmax, const float *g,
                         float *r, float *m, float *v, int d) {
    double rn = norm2(r, d);
    float pull = rn > 0 ? (float)(c / rn) : 0.0f; /* grad of c*|r| is c*r/|r| (0 at r = 0) */
    float lr = (float)s->lr;
    if (s->optimizer == BNS_MINNORM_NGD) {
        double gn = 0.0;
        for (int j = 0; j < d; j++) {
            double G = pull * r[j] - g[j];
            gn += G * G;
        }
        gn = sqrt(gn);
        if (gn == 0.0) return;
        float scale = (float)(s->lr / gn);
        for (int j = 0; j < d; j++) r[j] -= scale * (pull * r[j] - g[j]);
    } else if (s->optimizer == BNS_MINNORM_ADAM) {
        float b1 = (float)s->beta1, b2 = (float)s->beta2;
        float c1 = (float)(1.0 / (1.0 - pow(s->beta1, t))), c2 = (float)(1.0 / (1.0 - pow(s->beta2, t)));
        for (int j = 0; j < d; j++) {
            float G = pull * r[j] - g[j];
            m[j] = b1 * m[j] + (1 - b1) * G;
            v[j] = b2 * v[j] + (1 - b2) * G * G;
            r[j] -= lr * (m[j] * c1) / (sqrtf(v[j] * c2) + 1e-8f);
        }
    } else {
        for (int j = 0; j < d; j++) r[j] -= lr * (pull * r[j] - g[j]);
    }
    if (s->clip)
        for (int j = 0; j < d; j++) r[j] = bns_attack_clampf(x[j] + r[j], 0.0f, xmax) - x[j];
}

/* One descent run at the rows' current c: each row stops at its first
 * misclassified iterate; the smallest such r so far goes to x_adv. */
static void minnorm_run(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                        const uint8_t *y, int b, float *x_adv, bns_attack_work *w) {
    int d = src->model->arch.n_inputs, classes = src->model->arch.n_classes;
    size_t row = (size_t)d;
    memset(w->r, 0, sizeof(float) * b * row);
    memset(w->m, 0, sizeof(float) * b * row);
    memset(w->v, 0, sizeof(float) * b * row);
    int n_active = b;
    for (int i = 0; i < b; i++) {
        w->active[i] = i;
        w->found[i] = 0;
    }
    for (int t = 0; t <= s->max_steps && n_active > 0; t++) {
        /* gather x + r of the active rows */
        for (int a = 0; a < n_active; a++) {
            int i = w->active[a];
            float *dst = w->xr + a * row;
            const float *xi = x + i * row, *ri = w->r + i * row;
            for (int j = 0; j < d; j++) dst[j] = xi[j] + ri[j];
            w->y_active[a] = y[i];
        }
        int last = t == s->max_steps;
        bns_attack_input_grad(src, w->xr, w->y_active, n_active, last ? NULL : w->g, w->probs);
        int kept = 0;
        for (int a = 0; a < n_active; a++) {
            int i = w->active[a];
            if (s->margin > 0) { /* past the boundary: a margin, bounded by the budget */
                const float *p = w->probs + (size_t)a * classes;
                double rn = norm2(w->r + i * row, d), gap = -INFINITY;
                for (int k = 0; k < classes; k++)
                    if (k != y[i] && p[k] - p[y[i]] > gap) gap = p[k] - p[y[i]];
                int at_budget = s->budget > 0 && rn / sqrt((double)d) >= s->budget;
                if (gap >= s->margin || ((at_budget || last) && gap > 0)) {
                    w->found[i] = 1;
                    if (rn < w->best[i]) {
                        w->best[i] = rn;
                        memcpy(x_adv + i * row, w->xr + a * row, sizeof(float) * row);
                    }
                    continue;
                }
                if (at_budget) continue; /* not fooled within the budget */
            } else if (bns_attack_argmax(w->probs + (size_t)a * classes, classes) != y[i]) {
                w->found[i] = 1;
                double rn = norm2(w->r + i * row, d);
                if (rn < w->best[i]) {
                    w->best[i] = rn;
                    memcpy(x_adv + i * row, w->xr + a * row, sizeof(float) * row);
                }
                continue;
            }
            if (!last)
                minnorm_step(s, w->c[i], t + 1, x + i * row, xmax, w->g + a * row, w->r + i * row, w->m + i * row,
                             w->v + i * row, d);
            w->active[kept++] = i;
        }
        n_active = kept;
    }
}

static void minnorm_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *batch,
                          bns_attack_work *w) {
    float xmax = batch->xmax, *x_adv = batch->x_adv;
    const float *x = batch->x;
    const uint8_t *y = batch->y;
    uint8_t *success = batch->success;
    int b = batch->b, d = src->model->arch.n_inputs;
    memcpy(x_adv, x, sizeof(float) * (size_t)b * d); /* never fooled: r = 0 */
    for (int i = 0; i < b; i++) {
        w->best[i] = INFINITY;
        w->c[i] = fmin(fmax(s->c, s->c_min), s->c_max);
        w->c_lo[i] = 0.0;      /* largest c that succeeded (0 = none yet) */
        w->c_hi[i] = INFINITY; /* smallest c that failed */
    }
    for (int round = 0; round < s->search_steps; round++) {
        minnorm_run(src, s, xmax, x, y, b, x_adv, w);
        /* geometric bisection on c: success -> larger c (smaller r), failure -> smaller */
        for (int i = 0; i < b; i++) {
            if (w->found[i]) w->c_lo[i] = w->c[i];
            else w->c_hi[i] = w->c[i];
            double next;
            if (w->c_lo[i] > 0 && isfinite(w->c_hi[i])) next = sqrt(w->c_lo[i] * w->c_hi[i]);
            else if (w->found[i]) next = w->c[i] * 10.0;
            else next = w->c[i] / 10.0;
            w->c[i] = fmin(fmax(next, s->c_min), s->c_max);
        }
    }
    for (int i = 0; i < b; i++) success[i] = isfinite(w->best[i]);
}

static int minnorm_validate(const bns_attack_settings *s, const bns_model *m) {
    (void)m;
    if (s->optimizer < 0 || s->optimizer > BNS_MINNORM_ADAM) return bns_fail("optimizer: unknown %d", s->optimizer);
    if (!(s->c >= 0) || !isfinite(s->c)) return bns_fail("c: %g must be >= 0", s->c);
    if (!(s->lr > 0) || !isfinite(s->lr)) return bns_fail("lr: %g must be > 0", s->lr);
    if (s->max_steps < 1) return bns_fail("max_steps: %d must be >= 1", s->max_steps);
    if (s->search_steps < 1) return bns_fail("search_steps: %d must be >= 1", s->search_steps);
    if (!(s->margin >= 0 && s->margin < 1)) return bns_fail("margin: %g must be in [0, 1)", s->margin);
    if (!(s->budget >= 0) || !isfinite(s->budget)) return bns_fail("budget: %g must be >= 0", s->budget);
    if (!(s->c_min > 0) || !(s->c_max >= s->c_min) || !isfinite(s->c_max))
        return bns_fail("c bracket [%g, %g] must satisfy 0 < c_min <= c_max", s->c_min, s->c_max);
    if (!(s->beta1 >= 0 && s->beta1 < 1) || !(s->beta2 >= 0 && s->beta2 < 1))
        return bns_fail("adam betas %g, %g must be in [0, 1)", s->beta1, s->beta2);
    return 0;
}

static double minnorm_cost(const bns_attack_settings *s) {
    return (double)s->max_steps * s->search_steps * MINNORM_COST_FRACTION;
}

static void minnorm_describe(const bns_attack_settings *s, char *buf, size_t size) {
    int n = snprintf(buf, size, "optimizer %s lr %g c %g max_steps %d search_steps %d c in [%g, %g]%s",
                     bns_minnorm_opt_name(s->optimizer), s->lr, s->c, s->max_steps, s->search_steps, s->c_min,
                     s->c_max, s->clip ? "" : " no clip");
    if (s->margin > 0 && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " margin %g budget %g", s->margin, s->budget);
}

static const char *const minnorm_uses[] = {"optimizer", "c", "lr", "max_steps", "search_steps",
                                           "c_min", "c_max", "beta1", "beta2", "margin", "budget", NULL};

const bns_attack bns_attack_minnorm = {
    .name = "minnorm",
    .summary = "Zhang & Chen (METHODS.md s.4): per example, gradient descent on r for\n"
               "c*|r|_2 - CE(f(x+r), y); stops at the first misclassified x+r (or at a\n"
               "probability margin, within a distortion budget); keeps the\n"
               "smallest successful r over a per-example bisection on c (lr in the\n"
               "model's pixel units)",
    .uses = minnorm_uses,
    .validate = minnorm_validate,
    .run_batch = minnorm_batch,
    .cost_steps = minnorm_cost,
    .describe = minnorm_describe,
};
