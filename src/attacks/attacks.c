/* attacks.c - min-norm (METHODS.md s.4), FGSM, PGD and iterative targeted
 * FGSM (s.5) over batches, and the driver that runs one over a data set
 * (attack.h). Every attack sees the model only through
 * bns_attack_input_grad. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/util.h"

/* ---- settings ---- */

static const char *const kind_names[] = {"minnorm", "fgsm", "pgd", "targeted", NULL};
static const char *const source_names[] = {"weights", "sample", "expectation", NULL};
static const char *const opt_names[] = {"gd", "ngd", "adam", NULL};
static const char *const target_names[] = {"next", "fixed", NULL};

static const char *name_of(const char *const *names, int count, int v) {
    return v >= 0 && v < count ? names[v] : "?";
}
static int parse_name(const char *const *names, const char *text) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], text) == 0) return i;
    return -1;
}
const char *bns_attack_kind_name(int kind) { return name_of(kind_names, 4, kind); }
const char *bns_source_mode_name(int mode) { return name_of(source_names, 3, mode); }
const char *bns_minnorm_opt_name(int opt) { return name_of(opt_names, 3, opt); }
const char *bns_target_mode_name(int mode) { return name_of(target_names, 2, mode); }
int bns_attack_kind_parse(const char *name) { return parse_name(kind_names, name); }
int bns_source_mode_parse(const char *name) { return parse_name(source_names, name); }
int bns_minnorm_opt_parse(const char *name) { return parse_name(opt_names, name); }
int bns_target_mode_parse(const char *name) { return parse_name(target_names, name); }

void bns_attack_defaults(bns_attack_settings *s, int kind) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->source = BNS_SOURCE_EXPECTATION;
    s->source_samples = 10;
    s->source_index = 0;
    s->seed = 0;
    s->task = 0;
    s->clip = 1;
    s->batch = 100;
    /* min-norm (s.4): normalised gradient descent, steps of L2 length lr =
     * 0.05 pixel units, at most 200 of them (|r| <= 10). The CE gradient of a
     * confident example can be ~1e-8, so any c much above that stalls r at
     * the origin: the default c is tiny, and the first misclassified iterate
     * of the steepest-ascent path already has a small norm (on a
     * FC-200-200-10 a search over c improved the mean distortion by < 1% at
     * 5-8x the time), hence one value of c by default. */
    s->optimizer = BNS_MINNORM_NGD;
    s->c = 1e-9;
    s->lr = 0.05;
    s->max_steps = 200;
    s->search_steps = 1;
    s->c_min = 1e-12;
    s->c_max = 10.0;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    /* s.5, [0, 1] pixel scale */
    s->eps = kind == BNS_ATTACK_TARGETED ? 0.0 : 0.1;
    s->steps = kind == BNS_ATTACK_PGD ? 40 : 20;
    s->step_size = 0.01;
    s->random_start = 0;
    s->eta = 0.01;
    s->target_mode = BNS_TARGET_NEXT;
    s->target_class = 0;
}

int bns_attack_validate(const bns_attack_settings *s, const bns_model *m) {
    const bns_arch *a = &m->arch;
    int classes = a->width[a->n_layers];
    if (s->kind < 0 || s->kind > BNS_ATTACK_TARGETED) return bns_fail("attack: unknown kind %d", s->kind);
    if (s->source < 0 || s->source > BNS_SOURCE_EXPECTATION) return bns_fail("source: unknown mode %d", s->source);
    if (s->source == BNS_SOURCE_EXPECTATION && (s->source_samples < 1 || s->source_samples > 10000))
        return bns_fail("source_samples: %d is not in 1..10000", s->source_samples);
    if (s->batch < 1 || s->batch > 100000) return bns_fail("batch: %d is not in 1..100000", s->batch);
    if (!(m->cfg.pixel_scale > 0)) return bns_fail("model pixel_scale %g is not positive", m->cfg.pixel_scale);
    switch (s->kind) {
    case BNS_ATTACK_MINNORM:
        if (s->optimizer < 0 || s->optimizer > BNS_MINNORM_ADAM) return bns_fail("optimizer: unknown %d", s->optimizer);
        if (!(s->c >= 0) || !isfinite(s->c)) return bns_fail("c: %g must be >= 0", s->c);
        if (!(s->lr > 0) || !isfinite(s->lr)) return bns_fail("lr: %g must be > 0", s->lr);
        if (s->max_steps < 1) return bns_fail("max_steps: %d must be >= 1", s->max_steps);
        if (s->search_steps < 1) return bns_fail("search_steps: %d must be >= 1", s->search_steps);
        if (!(s->c_min > 0) || !(s->c_max >= s->c_min) || !isfinite(s->c_max))
            return bns_fail("c bracket [%g, %g] must satisfy 0 < c_min <= c_max", s->c_min, s->c_max);
        if (!(s->beta1 >= 0 && s->beta1 < 1) || !(s->beta2 >= 0 && s->beta2 < 1))
            return bns_fail("adam betas %g, %g must be in [0, 1)", s->beta1, s->beta2);
        break;
    case BNS_ATTACK_FGSM:
    case BNS_ATTACK_PGD:
        if (!(s->eps >= 0) || !isfinite(s->eps)) return bns_fail("eps: %g must be >= 0", s->eps);
        if (s->kind == BNS_ATTACK_PGD) {
            if (s->steps < 1) return bns_fail("steps: %d must be >= 1", s->steps);
            if (!(s->step_size > 0) || !isfinite(s->step_size)) return bns_fail("step_size: %g must be > 0", s->step_size);
        }
        break;
    case BNS_ATTACK_TARGETED:
        if (!(s->eps >= 0) || !isfinite(s->eps)) return bns_fail("eps: %g must be >= 0 (0 = unbounded)", s->eps);
        if (s->steps < 1) return bns_fail("steps: %d must be >= 1", s->steps);
        if (!(s->eta > 0) || !isfinite(s->eta)) return bns_fail("eta: %g must be > 0", s->eta);
        if (s->target_mode < 0 || s->target_mode > BNS_TARGET_FIXED)
            return bns_fail("target: unknown mode %d", s->target_mode);
        if (s->target_mode == BNS_TARGET_FIXED && (s->target_class < 0 || s->target_class >= classes))
            return bns_fail("target_class: %d is not a class of the model (0..%d)", s->target_class, classes - 1);
        break;
    }
    return 0;
}

/* ---- scratch ---- */

void bns_attack_work_init(bns_attack_work *w, const bns_arch *arch, int max_batch) {
    memset(w, 0, sizeof *w);
    size_t nx = (size_t)max_batch * arch->width[0];
    w->max_batch = max_batch;
    w->r = bns_xmalloc(sizeof(float) * nx);
    w->xr = bns_xmalloc(sizeof(float) * nx);
    w->g = bns_xmalloc(sizeof(float) * nx);
    w->m = bns_xmalloc(sizeof(float) * nx);
    w->v = bns_xmalloc(sizeof(float) * nx);
    w->probs = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->width[arch->n_layers]);
    w->best = bns_xmalloc(sizeof(double) * max_batch);
    w->c = bns_xmalloc(sizeof(double) * max_batch);
    w->c_lo = bns_xmalloc(sizeof(double) * max_batch);
    w->c_hi = bns_xmalloc(sizeof(double) * max_batch);
    w->active = bns_xmalloc(sizeof(int) * max_batch);
    w->y_active = bns_xmalloc((size_t)max_batch);
    w->found = bns_xmalloc((size_t)max_batch);
}

void bns_attack_work_free(bns_attack_work *w) {
    free(w->r);
    free(w->xr);
    free(w->g);
    free(w->m);
    free(w->v);
    free(w->probs);
    free(w->best);
    free(w->c);
    free(w->c_lo);
    free(w->c_hi);
    free(w->active);
    free(w->y_active);
    free(w->found);
    memset(w, 0, sizeof *w);
}

/* ---- helpers ---- */

static int argmax(const float *p, int n) {
    int best = 0;
    for (int c = 1; c < n; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static float signf(float v) { return (float)((v > 0.0f) - (v < 0.0f)); }

static double norm2(const float *v, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
    return sqrt(s);
}

static int n_classes_of(const bns_attack_source *src) { return src->model->arch.width[src->model->arch.n_layers]; }

/* ---- min-norm, Zhang & Chen (METHODS.md s.4) ---- */

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
        for (int j = 0; j < d; j++) r[j] = clampf(x[j] + r[j], 0.0f, xmax) - x[j];
}

/* One descent run at the rows' current c: each row stops at its first
 * misclassified iterate; the smallest such r so far goes to x_adv. */
static void minnorm_run(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                        const uint8_t *y, int b, float *x_adv, bns_attack_work *w) {
    int d = src->model->arch.width[0], classes = n_classes_of(src);
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
            if (argmax(w->probs + (size_t)a * classes, classes) != y[i]) {
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

void bns_attack_minnorm_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                              const uint8_t *y, int b, float *x_adv, uint8_t *success, bns_attack_work *w) {
    int d = src->model->arch.width[0];
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

/* ---- FGSM, PGD, iterative targeted FGSM (METHODS.md s.5) ---- */

/* success[i] = (prediction at x_adv != y[i]), or == y[i] when targeted */
static void judge(bns_attack_source *src, const float *x_adv, const uint8_t *y, int b, int targeted,
                  uint8_t *success, bns_attack_work *w) {
    int classes = n_classes_of(src);
    bns_attack_input_grad(src, x_adv, y, b, NULL, w->probs);
    for (int i = 0; i < b; i++) {
        int hit = argmax(w->probs + (size_t)i * classes, classes) == y[i];
        success[i] = (uint8_t)(targeted ? hit : !hit);
    }
}

/* x_adv <- x_adv + step * sign(g), then onto [x - radius, x + radius] (radius > 0) and [0, xmax] (clip) */
static void signed_step(float *x_adv, const float *x, const float *g, size_t n, float step, float radius, int clip,
                        float xmax) {
    for (size_t j = 0; j < n; j++) {
        float v = x_adv[j] + step * signf(g[j]);
        if (radius > 0) v = clampf(v, x[j] - radius, x[j] + radius);
        if (clip) v = clampf(v, 0.0f, xmax);
        x_adv[j] = v;
    }
}

void bns_attack_fgsm_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                           const uint8_t *y, int b, float *x_adv, uint8_t *success, bns_attack_work *w) {
    size_t n = (size_t)b * src->model->arch.width[0];
    bns_attack_input_grad(src, x, y, b, w->g, NULL);
    memcpy(x_adv, x, sizeof(float) * n);
    signed_step(x_adv, x, w->g, n, (float)(s->eps * xmax), 0.0f, s->clip, xmax);
    judge(src, x_adv, y, b, 0, success, w);
}

void bns_attack_pgd_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                          const uint8_t *y, int b, uint64_t first_row, float *x_adv, uint8_t *success,
                          bns_attack_work *w) {
    int d = src->model->arch.width[0];
    size_t n = (size_t)b * d;
    float radius = (float)(s->eps * xmax);
    memcpy(x_adv, x, sizeof(float) * n);
    if (s->random_start && radius > 0) {
        /* uniform in the ball: row i's numbers are substream PGD_SUBSTREAM + row of the ATTACK stream */
        bns_stream stream = bns_stream_make(s->seed, s->task, BNS_PURPOSE_ATTACK);
        for (int i = 0; i < b; i++) {
            float *u = w->r + (size_t)i * d;
            bns_stream_uniform(&stream, BNS_ATTACK_PGD_SUBSTREAM + first_row + i, 0, (size_t)d, u);
            for (int j = 0; j < d; j++) {
                float v = x_adv[(size_t)i * d + j] + radius * (2.0f * u[j] - 1.0f);
                x_adv[(size_t)i * d + j] = s->clip ? clampf(v, 0.0f, xmax) : v;
            }
        }
    }
    if (radius > 0) {
        for (int t = 0; t < s->steps; t++) {
            bns_attack_input_grad(src, x_adv, y, b, w->g, NULL);
            signed_step(x_adv, x, w->g, n, (float)(s->step_size * xmax), radius, s->clip, xmax);
        }
    }
    judge(src, x_adv, y, b, 0, success, w);
}

void bns_attack_targeted_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                               const uint8_t *target, int b, float *x_adv, uint8_t *success, bns_attack_work *w) {
    size_t n = (size_t)b * src->model->arch.width[0];
    float radius = (float)(s->eps * xmax);
    memcpy(x_adv, x, sizeof(float) * n);
    for (int t = 0; t < s->steps; t++) {
        /* descend -log p(target | x): a step against the gradient */
        bns_attack_input_grad(src, x_adv, target, b, w->g, NULL);
        signed_step(x_adv, x, w->g, n, (float)(-s->eta * xmax), radius, s->clip, xmax);
    }
    judge(src, x_adv, target, b, 1, success, w);
}

/* ---- the driver ---- */

void bns_attack_summarise(bns_attack_set *set, const float *x_clean) {
    size_t d = set->d;
    double sum_all = 0.0, sum_ok = 0.0, sum_l2 = 0.0;
    set->n_success = 0;
    for (size_t i = 0; i < set->n; i++) {
        double sq = 0.0;
        const float *xa = set->x_adv + i * d, *xc = x_clean + i * d;
        for (size_t j = 0; j < d; j++) {
            double r = (double)xa[j] - (double)xc[j];
            sq += r * r;
        }
        set->l2[i] = (float)sqrt(sq);
        double dist = sqrt(sq / (double)d); /* METHODS.md s.4 distortion */
        sum_all += dist;
        sum_l2 += sqrt(sq);
        if (set->success[i]) {
            set->n_success++;
            sum_ok += dist;
        }
    }
    set->success_rate = set->n ? (double)set->n_success / set->n : 0.0;
    set->mean_distortion = set->n ? sum_all / set->n : 0.0;
    set->mean_distortion_success = set->n_success ? sum_ok / set->n_success : 0.0;
    set->mean_l2 = set->n ? sum_l2 / set->n : 0.0;
}

void bns_attack_set_free(bns_attack_set *set) {
    free(set->x_adv);
    free(set->label);
    free(set->target);
    free(set->success);
    free(set->l2);
    free(set->clean_index);
    memset(set, 0, sizeof *set);
}

static void describe_model(const bns_model *m, bns_attack_set *out) {
    snprintf(out->model_arch, sizeof out->model_arch, "%s", m->cfg.arch);
    snprintf(out->model_method, sizeof out->model_method, "%s", m->cfg.method);
    out->pixel_scale = m->cfg.pixel_scale;
    size_t used = 0;
    out->model_config[0] = '\0';
    for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
        char value[256];
        bns_config_format_field(&m->cfg, f, value, sizeof value);
        int wrote = snprintf(out->model_config + used, sizeof out->model_config - used, "%s=%s\n", f->name, value);
        if (wrote < 0 || (size_t)wrote >= sizeof out->model_config - used) break; /* truncated: keep whole lines */
        used += (size_t)wrote;
    }
}

int bns_attack_run(const bns_model *m, const bns_attack_settings *s, const bns_dataset *data,
                   const int64_t *clean_index, bns_attack_set *out, bns_attack_progress progress, void *ctx) {
    memset(out, 0, sizeof *out);
    const bns_arch *a = &m->arch;
    int classes = a->width[a->n_layers];
    if (bns_attack_validate(s, m)) return -1;
    if (data->d != (size_t)a->width[0])
        return bns_fail("%s has %zu features per row, the model takes %d", data->name, data->d, a->width[0]);
    if (data->n_classes > classes)
        return bns_fail("%s has %d classes, the model %d", data->name, data->n_classes, classes);
    double start = bns_now_seconds();
    size_t n = data->n, d = data->d;
    int max_batch = (size_t)s->batch < n ? s->batch : (int)(n ? n : 1);
    bns_attack_source src;
    if (bns_attack_source_init(&src, m, s, max_batch)) return -1;
    bns_attack_work w;
    bns_attack_work_init(&w, a, max_batch);

    out->n = n;
    out->d = d;
    out->n_classes = classes;
    out->settings = *s;
    out->x_adv = bns_xmalloc(sizeof(float) * (n ? n * d : 1));
    out->label = bns_xmalloc(n ? n : 1);
    out->target = bns_xmalloc(n ? n : 1);
    out->success = bns_xmalloc(n ? n : 1);
    out->l2 = bns_xmalloc(sizeof(float) * (n ? n : 1));
    out->clean_index = bns_xmalloc(sizeof(int64_t) * (n ? n : 1));
    describe_model(m, out);
    float xmax = (float)(255.0 * m->cfg.pixel_scale);

    size_t n_success = 0;
    for (size_t begin = 0; begin < n; begin += (size_t)max_batch) {
        int b = (int)(n - begin < (size_t)max_batch ? n - begin : (size_t)max_batch);
        const float *x = data->x + begin * d;
        const uint8_t *y = data->y + begin;
        float *xa = out->x_adv + begin * d;
        uint8_t *ok = out->success + begin;
        for (int i = 0; i < b; i++) {
            out->label[begin + i] = y[i];
            out->clean_index[begin + i] = clean_index ? clean_index[begin + i] : (int64_t)(begin + i);
            out->target[begin + i] = s->kind != BNS_ATTACK_TARGETED ? y[i]
                                     : s->target_mode == BNS_TARGET_FIXED
                                         ? (uint8_t)s->target_class
                                         : (uint8_t)((y[i] + 1) % classes);
        }
        switch (s->kind) {
        case BNS_ATTACK_MINNORM: bns_attack_minnorm_batch(&src, s, xmax, x, y, b, xa, ok, &w); break;
        case BNS_ATTACK_FGSM: bns_attack_fgsm_batch(&src, s, xmax, x, y, b, xa, ok, &w); break;
        case BNS_ATTACK_PGD: bns_attack_pgd_batch(&src, s, xmax, x, y, b, begin, xa, ok, &w); break;
        default: bns_attack_targeted_batch(&src, s, xmax, x, out->target + begin, b, xa, ok, &w); break;
        }
        for (int i = 0; i < b; i++) n_success += ok[i];
        if (progress) progress(begin + (size_t)b, n, n_success, ctx);
    }
    bns_attack_summarise(out, data->x);
    out->seconds = bns_now_seconds() - start;
    bns_attack_work_free(&w);
    bns_attack_source_free(&src);
    return 0;
}
