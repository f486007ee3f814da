"""bnscube.py - reading a bnnsweep results cube (RUN_DIR/cube.h5) with h5py + numpy.

Shared by tables.py and figures.py; needs nothing beyond h5py and numpy (no
xarray, no pandas, no yaml). Everything comes from the cube itself:

  dimensions   model, set (string labels), n_ensemble, rate (numbers),
               ood, score (strings), task
  variables    accuracy, accuracy_std, nll, ece              (model, set)
               ensemble_accuracy, ensemble_accuracy_std      (model, set, n_ensemble)
               pruned_accuracy                               (model, set, rate)
               auroc, aupr_in, aupr_out                      (model, ood, score)
               attack_success_rate, attack_mean_distortion   (set)
               detection_auroc, detection_aupr_in/out        (model, set, score)
               detection_accuracy, detection_clean_accuracy  (model, set)
               train_seconds_per_epoch, train_epochs, parameters  (model)
  attributes   sweep (the sweep file's text), overrides, seed, ...

A dimension or variable the run did not produce is simply absent (e.g. no
n_ensemble without an ensembles evaluation); missing cells are NaN.

Labels:
  model  "GROUP" or "GROUP/k=v,k=v"                 e.g. "bnn/rho_init=-3"
  set    "test", "val", or "ATTACK[,k=v...]/MODEL"  e.g. "minnorm/source/arch=FC-10,l2_lambda=0"
"""
import math
import re
import sys

import h5py
import numpy as np

CLEAN_SETS = ("val", "test")


def _text(x):
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


def parse_params(text):
    """'k=v,k=v' -> ordered dict of strings ({} for '')."""
    out = {}
    if not text:
        return out
    for part in text.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
        elif part:
            out[part.strip()] = ""
    return out


def parse_model_label(label):
    """'bnn/rho_init=-3' -> ('bnn', {'rho_init': '-3'})."""
    group, _, rest = label.partition("/")
    return group, parse_params(rest)


def parse_set_label(label):
    """'minnorm,eps=0.1/source/arch=FC-10' -> ('minnorm', {'eps': '0.1'}, 'source/arch=FC-10');
    clean sets give (label, {}, '')."""
    if "/" not in label:
        return label, {}, ""
    head, _, model = label.partition("/")
    name, _, params = head.partition(",")
    return name, parse_params(params), model


def to_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def fmt_number(v):
    """Short display of a numeric label value: 0.0001 -> 1e-4, 0.25 -> 0.25, -30 -> -30."""
    if isinstance(v, str):
        f = to_float(v)
        if math.isnan(f):
            return v
        v = f
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        m, e = ("%.6e" % v).split("e")
        m = m.rstrip("0").rstrip(".")
        return "%se%d" % (m, int(e))
    return ("%.6f" % v).rstrip("0").rstrip(".")


# short names of common grid keys in headers
KEY_SHORT = {"rho_init": "ρ", "l2_lambda": "λ"}
KEY_TEX = {"rho_init": r"$\rho_0$", "l2_lambda": r"$\lambda$"}


class Cube:
    """The cube's coordinates and numeric variables as numpy arrays."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            def labels(name):
                return [_text(s) for s in f[name][()]] if name in f else []

            def numbers(name):
                return np.asarray(f[name][()], dtype=float) if name in f else np.zeros(0)

            self.models = labels("model")
            self.sets = labels("set")
            self.oods = labels("ood")
            self.scores = labels("score")
            self.n_ensemble = numbers("n_ensemble")
            self.rates = numbers("rate")
            self.vars = {}
            for name in ("accuracy", "accuracy_std", "nll", "ece", "ensemble_accuracy",
                         "ensemble_accuracy_std", "pruned_accuracy", "auroc", "aupr_in", "aupr_out",
                         "attack_success_rate", "attack_mean_distortion", "detection_auroc",
                         "detection_aupr_in", "detection_aupr_out", "detection_accuracy",
                         "detection_clean_accuracy", "train_seconds_per_epoch", "train_epochs", "parameters"):
                if name in f:
                    self.vars[name] = np.asarray(f[name][()], dtype=float)
            self.attrs = {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items()}
            self.task_status = labels("status")
            # each model's method and what its posterior can do (bnnsweep
            # writes them from the method's capability flags; older cubes lack them)
            self.model_methods = labels("model_method")
            self.model_caps = [set(c.split(",")) - {""} for c in labels("model_capabilities")]
        self.sweep_name = str(self.attrs.get("sweep_name", ""))

    def var(self, name):
        """The variable's array, or None when the cube lacks it."""
        return self.vars.get(name)

    def has_data(self, name):
        v = self.var(name)
        return v is not None and v.size > 0 and bool(np.isfinite(v).any())

    # ---- models -------------------------------------------------------
    def model_evaluated(self, i):
        """False for models with no number anywhere (attack sources only)."""
        for name in ("accuracy", "ensemble_accuracy", "pruned_accuracy", "auroc"):
            v = self.var(name)
            if v is not None and v.shape[0] > i and np.isfinite(v[i]).any():
                return True
        return False

    def has_capability(self, i, cap):
        """cap in the model's capabilities ("stochastic", "snr", "closed_form_kl",
        "weighted"); None when the cube does not record them."""
        if i < len(self.model_caps):
            return cap in self.model_caps[i]
        return None

    def is_bayesian(self, i):
        """A model whose weight samples differ (single-sample runs, ensembles)."""
        known = self.has_capability(i, "stochastic")
        if known is not None:
            return known
        # a cube from before the capabilities were recorded: only such models
        # get ensembles / pruning, and their runs spread
        for name in ("ensemble_accuracy", "pruned_accuracy"):
            v = self.var(name)
            if v is not None and np.isfinite(v[i]).any():
                return True
        std = self.var("accuracy_std")
        return std is not None and bool(np.nanmax(np.r_[std[i], 0.0]) > 0)

    def model_columns(self):
        """(bnns, baselines): lists of model indices that were evaluated, each
        ordered by group (as in the cube) then by its numeric grid values."""
        bnns, bases = [], []
        for i in range(len(self.models)):
            if not self.model_evaluated(i):
                continue
            (bnns if self.is_bayesian(i) else bases).append(i)
        return self._sorted(bnns), self._sorted(bases)

    def _sorted(self, idx):
        groups = []
        for i in idx:
            g = parse_model_label(self.models[i])[0]
            if g not in groups:
                groups.append(g)

        def key(i):
            g, p = parse_model_label(self.models[i])
            nums = tuple((0, to_float(v)) if not math.isnan(to_float(v)) else (1, 0.0) for v in p.values())
            return (groups.index(g), nums, i)
        return sorted(idx, key=key)

    def model_headers(self, idx, tex=False):
        """Column headers for models idx: the grid values that vary among them
        ('ρ=-3', 'λ=1e-4'), prefixed by the group when several groups share
        the list; a model without varying values gets its group name."""
        parsed = [parse_model_label(self.models[i]) for i in idx]
        groups = {g for g, _ in parsed}
        keys = []
        for _, p in parsed:
            for k in p:
                if k not in keys:
                    keys.append(k)
        varying = [k for k in keys if len({p.get(k) for _, p in parsed}) > 1]
        if len(parsed) == 1:
            varying = list(keys)
        out = []
        for g, p in parsed:
            parts = []
            for k in varying:
                if k in p:
                    name = (KEY_TEX if tex else KEY_SHORT).get(k, k.replace("_", r"\_") if tex else k)
                    val = fmt_number(p[k])
                    parts.append("%s=%s" % (name, ("$%s$" % val) if tex and not math.isnan(to_float(p[k])) else val))
            text = ", ".join(parts)
            if len(groups) > 1 or not text:
                text = g if not text else "%s %s" % (g, text)
            out.append(text)
        return out

    def model_value(self, i, key):
        return to_float(parse_model_label(self.models[i])[1].get(key))

    # ---- sets ---------------------------------------------------------
    def attack_sets(self):
        return [j for j, s in enumerate(self.sets) if s not in CLEAN_SETS]

    def set_index(self, label):
        return self.sets.index(label) if label in self.sets else None

    def set_headers(self, idx):
        """Row labels for attack sets idx: the parts that vary among them
        (attack name, its settings, source group, source grid values),
        e.g. 'FC-10, λ=1e-4'."""
        parsed = []
        for j in idx:
            name, aparams, model = parse_set_label(self.sets[j])
            group, mparams = parse_model_label(model)
            parts = [("attack", name)] + [(k, v) for k, v in aparams.items()]
            parts += [("source", group)] + [("src:" + k, v) for k, v in mparams.items()]
            parsed.append(parts)
        keys = []
        for p in parsed:
            for k, _ in p:
                if k not in keys:
                    keys.append(k)
        varying = [k for k in keys if len({dict(p).get(k) for p in parsed}) > 1]
        out = []
        for j, p in zip(idx, parsed):
            d = dict(p)
            parts = []
            for k in varying:
                if k not in d:
                    continue
                base = k[4:] if k.startswith("src:") else k
                if base in ("attack", "source", "arch"):
                    parts.append(d[k])
                else:
                    parts.append("%s=%s" % (KEY_SHORT.get(base, base), fmt_number(d[k])))
            out.append(", ".join(parts) if parts else self.sets[j])
        return out


def open_cube(path, prog):
    """The Cube at path; None (after "PROG: PATH: cannot read the cube: WHY" on
    stderr) when it cannot be read, for the scripts' exit status 1."""
    try:
        return Cube(path)
    except (OSError, KeyError) as e:
        print("%s: %s: cannot read the cube: %s" % (prog, path, e), file=sys.stderr)
        return None
