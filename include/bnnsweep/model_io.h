/* model_io.h - a trained model as one HDF5 file.
 *
 * Layout (format "bnnsweep-model", version 1):
 *   /                 attrs format, format_version, bnnsweep_version, git_commit,
 *                     results_version (version.h)
 *   /config           one attribute per bns_config field (config.h), as text
 *                     for strings/enums, native numbers otherwise
 *   /layers/<l>/      weight [n_in, n_out] and bias [n_out] (deterministic), or
 *                     weight_mu, weight_rho, bias_mu, bias_rho (Gaussian posterior);
 *                     in general: whatever blocks the model's method declares
 *                     (method.h), a block with compress = 1 chunked and deflated
 *                     and, for a trained net with batch norm, running_mean and
 *                     running_var [C] in that layer's group (model.h stats;
 *                     absent in older files: evaluation then uses batch statistics)
 *   /training         attrs status, message, epochs_run, best_epoch, best_val_acc;
 *                     datasets train_loss, train_nll, train_kl, train_acc, val_acc,
 *                     epoch_seconds, val_seconds (one entry per epoch run)
 * Files are written to a temporary name and renamed, so a reader never sees
 * half a model. Loading restores parameters bit for bit.
 */
#ifndef BNNSWEEP_MODEL_IO_H
#define BNNSWEEP_MODEL_IO_H

#include "bnnsweep/model.h"
#include "bnnsweep/train.h"

/* history may be NULL (no /training group). */
int bns_model_save(const char *path, const bns_model *m, const bns_train_history *history);
/* history may be NULL; otherwise it receives the saved curves (free with bns_train_history_free). */
int bns_model_load(const char *path, bns_model *m, bns_train_history *history);
/* For a method with a `teacher` setting (a distilling method: apd, mog):
 * loads that model file into *teacher (free it with bns_model_free after
 * training) and points m->teacher at it; the architectures must match. A
 * method without the setting, or an empty one (the method's validate decides
 * whether that is allowed: online APD makes its own samples): 0, nothing loaded. */
int bns_model_load_teacher(bns_model *m, bns_model *teacher);
/* The same from `path` instead of the teacher setting (NULL: the setting): a
 * sweep's teacher is a task ("task:KEY") whose file the runner knows. */
int bns_model_load_teacher_from(bns_model *m, const char *path, bns_model *teacher);

#endif
