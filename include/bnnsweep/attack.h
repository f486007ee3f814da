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
 * bns_net_forward / bns_net_backward.
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
 * Each attack is one file, src/attacks/NAME.c, defining a bns_attack (below)
 * listed by one line of src/attacks/registry.c; its settings are rows of the
 * one settings table (attack_settings.h).
 *
 * All buffers are allocated once per run; nothing is allocated per batch.
 */
#ifndef BNNSWEEP_ATTACK_H
#define BNNSWEEP_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/model.h"

/* The built-in attacks' positions in the registry (src/attacks/registry.c);
 * an attack added later needs no entry here: its kind is its position. */
enum bns_attack_kind { BNS_ATTACK_MINNORM = 0, BNS_ATTACK_FGSM = 1, BNS_ATTACK_PGD = 2, BNS_ATTACK_TARGETED = 3 };
enum bns_source_mode { BNS_SOURCE_WEIGHTS = 0, BNS_SOURCE_SAMPLE = 1, BNS_SOURCE_EXPECTATION = 2 };
enum bns_minnorm_opt { BNS_MINNORM_GD = 0, BNS_MINNORM_NGD = 1, BNS_MINNORM_ADAM = 2 };
enum bns_target_mode { BNS_TARGET_NEXT = 0, BNS_TARGET_FIXED = 1 };

/* Every setting of an attack run; all are saved with the attack set. */
typedef struct {
    int kind;               /* the attack's position in the registry (bns_attack_get) */
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
    double margin;          /* 0: stop at the first misclassified iterate; > 0: go on until
                             * max_{k != y} p_k - p_y >= margin (source probabilities) */
    double budget;          /* with margin > 0: also stop once sqrt(|r|^2 / d) >= budget (0 = none) */
    /* fgsm / pgd / targeted (s.5), [0, 1] pixel scale */
    double eps;             /* fgsm, pgd: L-infinity radius; targeted: 0 = unbounded */
    int steps;              /* pgd, targeted */
    double step_size;       /* pgd */
    int random_start;       /* pgd */
    double eta;             /* targeted step */
    int target_mode;        /* enum bns_target_mode */
    int target_class;       /* BNS_TARGET_FIXED */
} bns_attack_settings;

/* Every setting's default (the settings table, attack_settings.h), then the
 * attack's own (bns_attack.defaults). */
void bns_attack_defaults(bns_attack_settings *s, int kind);
/* The registry's name of a kind ("?" if none). */
const char *bns_attack_kind_name(int kind);
const char *bns_source_mode_name(int mode);
const char *bns_minnorm_opt_name(int opt);
const char *bns_target_mode_name(int mode);
/* name -> enum value, -1 if unknown */
int bns_attack_kind_parse(const char *name);
int bns_source_mode_parse(const char *name);
int bns_minnorm_opt_parse(const char *name);
int bns_target_mode_parse(const char *name);
/* Reject settings that cannot run on m (naming the setting and value): the
 * settings every attack reads, then the attack's own validate. */
int bns_attack_validate(const bns_attack_settings *s, const bns_model *m);

/* ---- the source and the shared input gradient ---- */
typedef struct {
    const bns_model *model;
    int mode;               /* enum bns_source_mode */
    int n_w;                /* weight vectors held: 1, or K */
    int max_batch;
    float *w;               /* n_w x arch.n_weights (NULL for BNS_SOURCE_WEIGHTS: the model's mean) */
    bns_net_workspace ws;
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

/* ---- the registry: one bns_attack per attack, one file each ---- */

/* One batch of b <= max_batch rows, as bns_attack_run hands it to an attack.
 * pgd: row i's random start is substream BNS_ATTACK_PGD_SUBSTREAM + i of the
 * ATTACK stream (i counted over the whole set: first_row + row). */
#define BNS_ATTACK_PGD_SUBSTREAM (UINT64_C(1) << 62)
typedef struct {
    const float *x;         /* b x d clean rows */
    const uint8_t *y;       /* true labels */
    const uint8_t *target;  /* the attack's target classes (bns_attack.target), else = y */
    int b;
    uint64_t first_row;     /* position of row 0 in the whole set (per-row random streams) */
    float xmax;             /* top of the pixel range, 255 * pixel_scale */
    float *x_adv;           /* out: b x d */
    uint8_t *success;       /* out: b, 1 if the source was fooled (or hit the target) */
} bns_attack_batch;

typedef struct {
    const char *name;       /* --attack, sweep files' attack:, the saved kind, task keys */
    const char *summary;    /* --help: what it does ('\n' for more lines) */
    /* names of the settings (attack_settings.h) it reads besides the ones
     * every attack reads (source, batch, clip, ...); NULL-terminated */
    const char *const *uses;
    /* its defaults over the table's (NULL: the table's) */
    void (*defaults)(bns_attack_settings *s);
    /* reject its settings that cannot run on m (NULL: all fine) */
    int (*validate)(const bns_attack_settings *s, const bns_model *m);
    /* the target class of a row with label y (NULL: untargeted, target = y) */
    int (*target)(const bns_attack_settings *s, int y, int n_classes);
    /* x_adv and success of one batch; every model access through bns_attack_input_grad */
    void (*run_batch)(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *b,
                      bns_attack_work *w);
    /* the plan's cost: input-gradient steps per example (METHODS.md s.4-5) */
    double (*cost_steps)(const bns_attack_settings *s);
    /* one line of its settings for `bnnsweep attack` (NULL: "key value" of `uses`) */
    void (*describe)(const bns_attack_settings *s, char *buf, size_t size);
} bns_attack;

enum { BNS_ATTACK_MAX = 32 };
/* kind -> attack (NULL if out of range); the number of attacks. */
const bns_attack *bns_attack_get(int kind);
int bns_attack_count(void);
/* name -> kind, -1 if unknown (= bns_attack_kind_parse) */
int bns_attack_find(const char *name);
/* For tests and plugins: append an attack to the registry before any run;
 * returns its kind, or -1 (duplicate name, incomplete struct, registry full).
 * Not thread-safe; built-in attacks are listed in src/attacks/registry.c. */
int bns_attack_register(const bns_attack *a);
/* The names joined: "minnorm, fgsm, pgd or targeted" = (", ", " or "). */
void bns_attack_names(char *buf, size_t size, const char *sep, const char *last_sep);

/* Helpers the attacks share (attacks.c). */
static inline float bns_attack_clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }
int bns_attack_argmax(const float *p, int n);
/* success[i] = (prediction of the source at x_adv != y[i]); == y[i] when targeted */
void bns_attack_judge(bns_attack_source *src, const float *x_adv, const uint8_t *y, int b, int targeted,
                      uint8_t *success, bns_attack_work *w);
/* x_adv <- x_adv + step * sign(g), then onto [x - radius, x + radius] (radius > 0) and [0, xmax] (clip) */
void bns_attack_signed_step(float *x_adv, const float *x, const float *g, size_t n, float step, float radius,
                            int clip, float xmax);

#endif
