/* attack.h - adversarial examples against a source model (METHODS.md s.4-5).
 *
 * A source is what an attack differentiates and what decides success:
 *   weights      the deterministic weights, or a posterior's mean mu
 *   sample       one fixed posterior sample: sample `index` of the
 *                (seed, task, BNS_PURPOSE_ATTACK) stream (gray-box, s.5)
 *   expectation  K posterior samples 0..K-1 of that stream: the loss and its
 *                input gradient are averaged over them, and the prediction
 *                that decides success is the K-sample ensemble (s.5)
 * Every attack goes through one routine, bns_attack_input_grad: the summed
 * cross-entropy of a batch and its gradient w.r.t. the inputs, through
 * bns_mlp_forward / bns_mlp_backward.
 *
 * Attacks (pixel ranges: inputs live in [0, xmax], xmax = 255 * pixel_scale):
 *   minnorm   Zhang & Chen (s.4): per example minimise c*|r|_2 - CE(f(x+r), y)
 *             by gradient descent on r (the untargeted loss: the true label's
 *             cross-entropy is raised; lowering it, as a literal "+ CE(y)"
 *             reads, would never misclassify); an example stops as soon as the
 *             source misclassifies x+r, and the smallest successful r over a
 *             per-example geometric bisection on c is kept
 *   fgsm      x' = clip(x + eps*xmax * sign(grad_x CE(x, y)))            (s.5)
 *   pgd       L-infinity PGD: `steps` signed steps of step_size*xmax,
 *             projected onto the eps*xmax ball and [0, xmax]; optional
 *             uniform random start in the ball                          (s.5)
 *   targeted  iterative targeted FGSM (s.5):
 *             x_t = clip(x_{t-1} - eta*xmax * sign(grad_x[-log p(t|x_{t-1})]))
 *             for `steps` steps, t = (y + 1) mod classes or a fixed class
 * eps, step_size and eta are on the [0, 1] pixel scale and are multiplied by
 * xmax (2 for the default [0, 2] pixels).
 *
 * Success: minnorm, fgsm, pgd - the source's prediction at x_adv is not y;
 * targeted - it is the target. A minnorm example never fooled keeps
 * x_adv = x (r = 0). Distortion of an example is sqrt(|r|_2^2 / d) (s.4);
 * the set's mean distortion is over ALL n examples (failures included with
 * their stored r), and is also reported over the successful ones.
 *
 * All buffers are allocated once per run; nothing is allocated per batch.
 */
#ifndef BNNSWEEP_ATTACK_H
#define BNNSWEEP_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/model.h"

enum bns_attack_kind { BNS_ATTACK_MINNORM = 0, BNS_ATTACK_FGSM = 1, BNS_ATTACK_PGD = 2, BNS_ATTACK_TARGETED = 3 };
enum bns_source_mode { BNS_SOURCE_WEIGHTS = 0, BNS_SOURCE_SAMPLE = 1, BNS_SOURCE_EXPECTATION = 2 };
enum bns_minnorm_opt { BNS_MINNORM_GD = 0, BNS_MINNORM_NGD = 1, BNS_MINNORM_ADAM = 2 };
enum bns_target_mode { BNS_TARGET_NEXT = 0, BNS_TARGET_FIXED = 1 };

/* Every setting of an attack run; all are saved with the attack set. */
typedef struct {
    int kind;               /* enum bns_attack_kind */
    /* source */
    int source;             /* enum bns_source_mode */
    int source_samples;     /* K for BNS_SOURCE_EXPECTATION */
    uint64_t source_index;  /* k for BNS_SOURCE_SAMPLE */
    uint64_t seed, task;    /* key of the ATTACK stream (bns_attack_defaults_for_model: the model's) */
    int clip;               /* keep x_adv inside [0, xmax] (1) */
    int batch;              /* examples per forward/backward */
    /* minnorm (s.4) */
    int optimizer;          /* enum bns_minnorm_opt: gd r -= lr*g; ngd r -= lr*g/|g|_2; adam */
    double c;               /* weight of |r|_2; the first c of the search */
    double lr;              /* step size (pixel units of the model's input) */
    int max_steps;          /* gradient steps per value of c */
    int search_steps;       /* values of c tried per example (1 = c only) */
    double c_min, c_max;    /* bracket of the search */
    double beta1, beta2;    /* Adam */
    /* fgsm / pgd / targeted (s.5), [0, 1] pixel scale */
    double eps;             /* fgsm, pgd: L-infinity radius; targeted: 0 = unbounded */
    int steps;              /* pgd, targeted */
    double step_size;       /* pgd */
    int random_start;       /* pgd */
    double eta;             /* targeted step */
    int target_mode;        /* enum bns_target_mode */
    int target_class;       /* BNS_TARGET_FIXED */
} bns_attack_settings;

void bns_attack_defaults(bns_attack_settings *s, int kind);
const char *bns_attack_kind_name(int kind);
const char *bns_source_mode_name(int mode);
const char *bns_minnorm_opt_name(int opt);
const char *bns_target_mode_name(int mode);
/* name -> enum value, -1 if unknown */
int bns_attack_kind_parse(const char *name);
int bns_source_mode_parse(const char *name);
int bns_minnorm_opt_parse(const char *name);
int bns_target_mode_parse(const char *name);
/* Reject settings that cannot run on m (naming the setting and value). */
int bns_attack_validate(const bns_attack_settings *s, const bns_model *m);

/* ---- the source and the shared input gradient ---- */
typedef struct {
    const bns_model *model;
    int mode;               /* enum bns_source_mode */
    int n_w;                /* weight vectors held: 1, or K */
    int max_batch;
    float *w;               /* n_w x arch.n_weights (NULL for BNS_SOURCE_WEIGHTS: the model's mean) */
    bns_mlp_workspace ws;
    float *grad_logits;     /* max_batch x classes */
    float *grad_tmp;        /* max_batch x d: one sample's input gradient (expectation) */
    float *probs_tmp;       /* max_batch x classes */
} bns_attack_source;

/* Draws the source's weight samples once (stream key s->seed, s->task). */
int bns_attack_source_init(bns_attack_source *src, const bns_model *m, const bns_attack_settings *s,
                           int max_batch);
void bns_attack_source_free(bns_attack_source *src);

/* For rows x (batch x d) with labels y: returns sum_i CE(f(x_i), y_i) (for an
 * expectation source, the mean over the K samples of that sum), writes its
 * gradient w.r.t. x into grad_x (batch x d; NULL = skip the backward pass)
 * and the source's predictive probabilities into probs (batch x classes; may
 * be NULL). batch <= max_batch. */
double bns_attack_input_grad(bns_attack_source *src, const float *x, const uint8_t *y, int batch, float *grad_x,
                             float *probs);

/* ---- a run and its result ---- */
typedef struct {
    size_t n, d;
    int n_classes;
    float *x_adv;           /* n x d */
    uint8_t *label;         /* true labels */
    uint8_t *target;        /* targeted: the target class; otherwise = label */
    uint8_t *success;       /* 1 if the source was fooled (or hit the target) at x_adv */
    float *l2;              /* |x_adv - x|_2 */
    int64_t *clean_index;   /* row of x in the clean (test) set */
    bns_attack_settings settings;
    /* source identity */
    char model_path[1024];
    char model_hash[32];    /* 64-bit FNV-1a of the model file's bytes, 16 hex digits */
    char model_git_commit[64];
    char model_arch[64], model_method[32];
    char model_config[4096];/* "key=value" lines of the model's bns_config */
    double pixel_scale;     /* of the model's inputs: x in [0, 255 * pixel_scale] */
    /* summary */
    size_t n_success;
    double success_rate;
    double mean_distortion;          /* (1/n) sum_i sqrt(|r_i|^2 / d), over all n */
    double mean_distortion_success;  /* the same over the successful examples (0 if none) */
    double mean_l2;                  /* (1/n) sum_i |r_i|_2 */
    double seconds;
} bns_attack_set;

/* Called after each batch with the examples done so far. */
typedef void (*bns_attack_progress)(size_t done, size_t total, size_t n_success, void *ctx);

/* Attack rows of `data` with source model m. clean_index (may be NULL = 0..n-1)
 * is stored per row. The source identity fields are filled from m; model_path
 * and model_hash are left for the caller (bns_attack_set_identify). */
int bns_attack_run(const bns_model *m, const bns_attack_settings *s, const bns_dataset *data,
                   const int64_t *clean_index, bns_attack_set *out, bns_attack_progress progress, void *ctx);
/* Recompute n_success, success_rate and the distortion means from the arrays
 * and the clean rows x (n x d, same order). */
void bns_attack_summarise(bns_attack_set *set, const float *x_clean);
void bns_attack_set_free(bns_attack_set *set);

/* Per-batch scratch of the individual attacks, allocated once. */
typedef struct {
    int max_batch;
    float *r, *xr, *g, *m, *v;   /* max_batch x d each */
    float *probs;                /* max_batch x classes */
    double *best, *c, *c_lo, *c_hi;
    int *active;
    uint8_t *y_active, *found;
} bns_attack_work;

void bns_attack_work_init(bns_attack_work *w, const bns_arch *arch, int max_batch);
void bns_attack_work_free(bns_attack_work *w);

/* The individual attacks on one batch of b <= max_batch rows x with labels
 * y (targeted: target classes): write x_adv (b x d) and success (b). xmax is
 * the top of the pixel range. first_row (pgd) is the batch's position in the
 * whole set: row i's random start is substream BNS_ATTACK_PGD_SUBSTREAM + i
 * of the ATTACK stream. */
#define BNS_ATTACK_PGD_SUBSTREAM (UINT64_C(1) << 62)
void bns_attack_minnorm_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                              const uint8_t *y, int b, float *x_adv, uint8_t *success, bns_attack_work *w);
void bns_attack_fgsm_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                           const uint8_t *y, int b, float *x_adv, uint8_t *success, bns_attack_work *w);
void bns_attack_pgd_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                          const uint8_t *y, int b, uint64_t first_row, float *x_adv, uint8_t *success,
                          bns_attack_work *w);
void bns_attack_targeted_batch(bns_attack_source *src, const bns_attack_settings *s, float xmax, const float *x,
                               const uint8_t *target, int b, float *x_adv, uint8_t *success, bns_attack_work *w);

#endif
