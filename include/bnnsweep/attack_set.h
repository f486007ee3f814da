/* attack_set.h - an attack's perturbed images as one HDF5 file.
 *
 * Layout (format "bnnsweep-attack-set", version 1):
 *   /               attrs format, format_version, bnnsweep_version, git_commit,
 *                   results_version (version.h)
 *                   (of the attacking build), n, d, n_classes, seconds
 *   /x_adv          float [n, d]   perturbed images, same pixel scale as the model
 *   /label          uint8 [n]      true labels
 *   /target         uint8 [n]      target class (targeted attack), else = label
 *   /success        uint8 [n]      1 if the source model was fooled at x_adv
 *                                  (targeted: predicted the target)
 *   /l2             float [n]      |x_adv - x|_2
 *   /clean_index    int64 [n]      row of the clean image in the test set
 *   /source         attrs model_path, model_hash (FNV-1a 64 of the file bytes,
 *                   hex), model_git_commit, model_arch, model_method,
 *                   pixel_scale, model_config ("key=value" lines)
 *   /settings       one attribute per bns_attack_settings field (the named rows
 *                   of attack_settings.h): kind, source, optimizer, target_mode
 *                   as names; the rest as numbers
 *   /summary        attrs n_success, success_rate, mean_distortion (over all
 *                   n examples: (1/n) sum sqrt(|r|^2 / d), METHODS.md s.4),
 *                   mean_distortion_success (over the successful ones), mean_l2
 * Files are written to PATH.tmp.<host>.<pid> and renamed; loading is bit exact.
 */
#ifndef BNNSWEEP_ATTACK_SET_H
#define BNNSWEEP_ATTACK_SET_H

#include "bnnsweep/attack.h"
#include "bnnsweep/dataset.h"

/* Fill set->model_path, model_hash and model_git_commit from a model file. */
int bns_attack_set_identify(bns_attack_set *set, const char *model_path);
int bns_attack_set_save(const char *path, const bns_attack_set *set);
/* Everything in the file (free with bns_attack_set_free). */
int bns_attack_set_read(const char *path, bns_attack_set *set);
/* Only /summary's success_rate and mean_distortion (what the cube holds of
 * a set: its images stay on disk). */
int bns_attack_set_read_summary(const char *path, double *success_rate, double *mean_distortion);
/* The perturbed images and true labels as a dataset, for any evaluation;
 * name = the file's base name. */
int bns_attack_set_load(const char *path, bns_dataset *out);

#endif
