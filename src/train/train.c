/* train.c - minibatch training with early stopping (see train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/optim.h"
#include "bnnsweep/predict.h"
#include "bnnsweep/train.h"
#include "bnnsweep/util.h"

const char *bns_train_status_name(int status) {
    switch (status) {
    case BNS_TRAIN_MAX_EPOCHS: return "max_epochs";
    case BNS_TRAIN_EARLY_STOPPED: return "early_stopped";
    case BNS_TRAIN_DIVERGED: return "diverged";
    default: return "unknown";
    }
}

void bns_train_history_free(bns_train_history *h) {
    free(h->epochs);
    memset(h, 0, sizeof *h);
}

/* The validation score (higher is better): accuracy, or for a regression
 * set (real targets) minus the RMSE of the predictive mean. */
static double validate(const bns_model *m, const bns_dataset *val, bns_predictor *pred, float *probs) {
    bns_stream stream = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_VALIDATE);
    int samples = bns_model_has(m, BNS_CAP_STOCHASTIC) ? m->cfg.val_samples : 0;
    bns_predict_probs(pred, m, val->x, val->n, samples, &stream, 0, probs);
    if (val->t) {
        double sq = 0.0;
        for (size_t i = 0; i < val->n * val->n_classes; i++) sq += ((double)probs[i] - val->t[i]) * (probs[i] - val->t[i]);
        return -sqrt(sq / (val->n * val->n_classes));
    }
    return bns_accuracy_of_probs(probs, val->y, val->n, val->n_classes);
}

double bns_validation_accuracy(const bns_model *m, const bns_dataset *val) {
    bns_predictor pred;
    bns_predictor_init(&pred, m);
    float *probs = bns_xmalloc(sizeof(float) * val->n * val->n_classes);
    double acc = validate(m, val, &pred, probs);
    free(probs);
    bns_predictor_free(&pred);
    return acc;
}

void bns_model_estimate_stats(bns_model *m, const bns_dataset *train) {
    /* Not the moving averages of training (they follow every weight sample
     * and the epochs after the best one): the kept weights' population
     * statistics, over the first rows (net.h bns_net_stats_estimate). */
    size_t rows = train->n < BNS_STATS_ROWS ? train->n : BNS_STATS_ROWS;
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &m->arch, 500);
    bns_net_stats_estimate(&m->arch, bns_model_mean(m), train->x, rows, &ws, m->stats);
    bns_net_workspace_free(&ws);
    m->has_stats = 1;
}

bns_objective bns_make_objective(const bns_config *cfg, int rows, size_t n_train, uint64_t step, int want_kl) {
    bns_objective obj;
    obj.nll_scale = cfg->reduction == BNS_REDUCE_SUM ? 1.0 : 1.0 / rows;
    obj.reg_scale = obj.nll_scale * rows;
    obj.n_train = (double)n_train;
    obj.step = step;
    obj.skip_kl_value = !want_kl;
    return obj;
}

void bns_train_step(bns_model *m, void *trainer, bns_optimizer *opt, const float *x, const uint8_t *y, int rows,
                    const bns_objective *obj, float *grad, bns_step_stats *stats) {
    bns_optimizer_begin_step(opt);
    if (m->cfg.clip_norm > 0) {
        /* gradient-norm clipping (torch.nn.utils.clip_grad_norm_ over all
         * parameters): the whole gradient first, so no fused update */
        m->method->loss_grad(trainer, m, x, y, rows, obj, grad, stats);
        double sq = 0.0;
        for (size_t i = 0; i < m->n_params; i++) sq += (double)grad[i] * grad[i];
        double norm = sqrt(sq);
        if (norm > m->cfg.clip_norm) {
            float scale = (float)(m->cfg.clip_norm / norm);
            for (size_t i = 0; i < m->n_params; i++) grad[i] *= scale;
        }
        bns_optimizer_update(opt, m->params, grad, 0, m->n_params);
    } else if (m->method->train_step) {
        m->method->train_step(trainer, m, x, y, rows, obj, opt, grad, stats);
    } else {
        m->method->loss_grad(trainer, m, x, y, rows, obj, grad, stats);
        bns_optimizer_update(opt, m->params, grad, 0, m->n_params);
    }
}

int bns_train(bns_model *m, const bns_dataset *train, const bns_dataset *val, bns_train_history *h,
              const bns_train_hooks *hooks) {
    bns_train_hooks none = {0};
    if (!hooks) hooks = &none;
    const bns_config *cfg = &m->cfg;
    const bns_arch *arch = &m->arch;
    memset(h, 0, sizeof *h);
    if (train->n == 0 || val->n == 0) return bns_fail("training and validation sets must not be empty");
    if ((int)train->d != arch->n_inputs || (int)val->d != arch->n_inputs)
        return bns_fail("data has %zu features but the model expects %d", train->d, arch->n_inputs);
    if (train->n_classes != arch->n_classes)
        return bns_fail("data has %d classes but the model's output layer has %d", train->n_classes,
                        arch->n_classes);
    int real = m->likelihood.real_targets;
    if ((real && (!train->t || !val->t)) || (!real && (!train->y || !val->y)))
        return bns_fail("likelihood %s needs %s targets, which data set %s lacks", m->likelihood.name,
                        real ? "real-valued" : "class-label", train->name);

    size_t n = train->n, d = train->d, P = m->n_params;
    int batch = cfg->batch_size < (int)n ? cfg->batch_size : (int)n;
    size_t n_batches = (n + batch - 1) / batch;

    /* Every buffer of the loop, allocated once. */
    h->epochs = bns_xcalloc(cfg->max_epochs > 0 ? cfg->max_epochs : 1, sizeof *h->epochs);
    uint32_t *order = bns_xmalloc(sizeof(uint32_t) * n);
    float *x_batch = bns_xmalloc(sizeof(float) * batch * d);
    /* the batch's targets: labels, or (a real-target likelihood) n_out floats per row,
     * passed through the methods to the likelihood as bytes (likelihood.h) */
    size_t target_bytes = real ? sizeof(float) * arch->n_classes : 1;
    uint8_t *y_batch = bns_xmalloc(target_bytes * batch);
    float *grad = bns_xmalloc(sizeof(float) * P);
    bns_optimizer opt;
    bns_optimizer_init(&opt, cfg, P);
    /* the best epoch's parameters, restored at the end (unless the method keeps its final state) */
    int restore_best = !m->method->keep_final;
    float *best = restore_best ? bns_xmalloc(sizeof(float) * P) : NULL;
    float *val_probs = bns_xmalloc(sizeof(float) * val->n * val->n_classes);
    bns_predictor pred;
    bns_predictor_init(&pred, m);
    void *trainer = m->method->trainer_create(m, batch);
    bns_stream shuffle = bns_stream_make(cfg->seed, cfg->task, BNS_PURPOSE_SHUFFLE);

    uint64_t step = 0;
    int since_best = 0;
    h->status = BNS_TRAIN_MAX_EPOCHS;
    for (int epoch = 1; epoch <= cfg->max_epochs; epoch++) {
        double t0 = bns_now_seconds();
        double nll_sum = 0.0, reg_last = 0.0, kl_last = 0.0;
        long correct = 0;
        int diverged = 0;
        bns_stream_permutation(&shuffle, (uint64_t)epoch, n, order);
        for (size_t b = 0; b < n_batches && !diverged; b++) {
            size_t begin = b * batch;
            int rows = (int)(n - begin < (size_t)batch ? n - begin : (size_t)batch);
            for (int i = 0; i < rows; i++) {
                size_t src = order[begin + i];
                memcpy(x_batch + (size_t)i * d, train->x + src * d, sizeof(float) * d);
                if (real) memcpy(y_batch + i * target_bytes, train->t + src * arch->n_classes, target_bytes);
                else y_batch[i] = train->y[src];
            }
            /* the KL's value (not its gradient) costs two logs per weight:
             * computed for the epoch's last step, which the epoch line reports */
            bns_objective obj = bns_make_objective(cfg, rows, n, ++step, b + 1 == n_batches);
            bns_step_stats stats;
            bns_train_step(m, trainer, &opt, x_batch, y_batch, rows, &obj, grad, &stats);
            if (!isfinite(stats.nll_sum) || !isfinite(stats.reg_per_example)) {
                diverged = 1;
                snprintf(h->message, sizeof h->message,
                         "loss became non-finite at epoch %d, step %llu (nll %g, regulariser %g)", epoch,
                         (unsigned long long)step, stats.nll_sum, stats.reg_per_example);
                break;
            }
            nll_sum += stats.nll_sum;
            reg_last = stats.reg_per_example;
            kl_last = stats.kl;
            correct += stats.correct;
            if (hooks->on_step) hooks->on_step(epoch, b + 1, n_batches, bns_now_seconds() - t0, hooks->ctx);
        }
        if (diverged) {
            h->status = BNS_TRAIN_DIVERGED;
            break;
        }
        /* a NaN rho leaves the loss finite (the fused kernels clamp sigma),
         * so the parameters themselves are checked once an epoch */
        char bad[128];
        if (bns_model_find_nonfinite(m, bad, sizeof bad)) {
            h->status = BNS_TRAIN_DIVERGED;
            snprintf(h->message, sizeof h->message, "parameter %.128s became non-finite in epoch %d", bad, epoch);
            break;
        }
        double t1 = bns_now_seconds();
        bns_epoch_record *rec = &h->epochs[epoch - 1];
        rec->train_nll = nll_sum / n;
        rec->train_loss = nll_sum / n + reg_last;
        rec->train_kl = kl_last;
        rec->train_acc = (double)correct / n;
        rec->seconds = t1 - t0;
        rec->val_acc = validate(m, val, &pred, val_probs);
        rec->val_seconds = bns_now_seconds() - t1;
        h->epochs_run = epoch;
        if (!isfinite(rec->train_loss)) { /* parameters overflowed in the last update */
            h->status = BNS_TRAIN_DIVERGED;
            snprintf(h->message, sizeof h->message, "loss became non-finite in epoch %d", epoch);
            break;
        }
        if (h->best_epoch == 0 || rec->val_acc > h->best_val_acc) {
            h->best_epoch = epoch;
            h->best_val_acc = rec->val_acc;
            if (restore_best) memcpy(best, m->params, sizeof(float) * P);
            since_best = 0;
        } else {
            since_best++;
        }
        if (hooks->on_epoch) hooks->on_epoch(m, h, hooks->ctx);
        if (cfg->patience > 0 && since_best >= cfg->patience) {
            h->status = BNS_TRAIN_EARLY_STOPPED;
            snprintf(h->message, sizeof h->message, "no validation improvement for %d epochs", cfg->patience);
            break;
        }
    }
    if (restore_best && h->best_epoch > 0) memcpy(m->params, best, sizeof(float) * P);
    if (m->n_stats) bns_model_estimate_stats(m, train);

    m->method->trainer_free(trainer);
    bns_predictor_free(&pred);
    free(order);
    free(x_batch);
    free(y_batch);
    free(grad);
    bns_optimizer_free(&opt);
    free(best);
    free(val_probs);
    return 0;
}
