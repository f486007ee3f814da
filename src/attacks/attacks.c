/* attacks.c - what every attack shares (attack.h): the settings every
 * attack reads and their validation, the per-batch scratch, the helpers of
 * the signed-gradient attacks, and the driver that runs one attack of the
 * registry over a data set. The attacks are one file each (minnorm.c,
 * fgsm.c, pgd.c, targeted.c) and see the model only through
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

int bns_attack_validate(const bns_attack_settings *s, const bns_model *m) {
    const bns_attack *attack = bns_attack_get(s->kind);
    if (!attack) return bns_fail("attack: unknown kind %d", s->kind);
    if (s->source < 0 || s->source > BNS_SOURCE_EXPECTATION) return bns_fail("source: unknown mode %d", s->source);
    if (s->source == BNS_SOURCE_EXPECTATION && (s->source_samples < 1 || s->source_samples > 10000))
        return bns_fail("source_samples: %d is not in 1..10000", s->source_samples);
    if (s->batch < 1 || s->batch > 100000) return bns_fail("batch: %d is not in 1..100000", s->batch);
    if (!(m->cfg.pixel_scale > 0)) return bns_fail("model pixel_scale %g is not positive", m->cfg.pixel_scale);
    return attack->validate ? attack->validate(s, m) : 0;
}

/* ---- scratch ---- */

void bns_attack_work_init(bns_attack_work *w, const bns_arch *arch, int max_batch) {
    memset(w, 0, sizeof *w);
    size_t nx = (size_t)max_batch * arch->n_inputs;
    w->max_batch = max_batch;
    w->r = bns_xmalloc(sizeof(float) * nx);
    w->xr = bns_xmalloc(sizeof(float) * nx);
    w->g = bns_xmalloc(sizeof(float) * nx);
    w->m = bns_xmalloc(sizeof(float) * nx);
    w->v = bns_xmalloc(sizeof(float) * nx);
    w->probs = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->n_classes);
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

int bns_attack_argmax(const float *p, int n) {
    int best = 0;
    for (int c = 1; c < n; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

static float signf(float v) { return (float)((v > 0.0f) - (v < 0.0f)); }

void bns_attack_judge(bns_attack_source *src, const float *x_adv, const uint8_t *y, int b, int targeted,
                      uint8_t *success, bns_attack_work *w) {
    int classes = src->model->arch.n_classes;
    bns_attack_input_grad(src, x_adv, y, b, NULL, w->probs);
    for (int i = 0; i < b; i++) {
        int hit = bns_attack_argmax(w->probs + (size_t)i * classes, classes) == y[i];
        success[i] = (uint8_t)(targeted ? hit : !hit);
    }
}

void bns_attack_signed_step(float *x_adv, const float *x, const float *g, size_t n, float step, float radius,
                            int clip, float xmax) {
    for (size_t j = 0; j < n; j++) {
        float v = x_adv[j] + step * signf(g[j]);
        if (radius > 0) v = bns_attack_clampf(v, x[j] - radius, x[j] + radius);
        if (clip) v = bns_attack_clampf(v, 0.0f, xmax);
        x_adv[j] = v;
    }
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
        if (!bns_config_field_applies(&m->cfg, f)) continue; /* another method's setting */
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
    int classes = a->n_classes;
    if (bns_attack_validate(s, m)) return -1;
    const bns_attack *attack = bns_attack_get(s->kind);
    if (data->d != (size_t)a->n_inputs)
        return bns_fail("%s has %zu features per row, the model takes %d", data->name, data->d, a->n_inputs);
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
            out->target[begin + i] = attack->target ? (uint8_t)attack->target(s, y[i], classes) : y[i];
        }
        bns_attack_batch batch = {x, y, out->target + begin, b, begin, xmax, xa, ok};
        attack->run_batch(&src, s, &batch, &w);
        for (int i = 0; i < b; i++) n_success += ok[i];
        if (progress) progress(begin + (size_t)b, n, n_success, ctx);
    }
    bns_attack_summarise(out, data->x);
    out->seconds = bns_now_seconds() - start;
    bns_attack_work_free(&w);
    bns_attack_source_free(&src);
    return 0;
}
