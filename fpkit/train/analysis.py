"""What a training run gives to the rest of fpkit: its checkpoints as an Ensemble, per-layer tail
statistics, and a table of runs."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .. import _validate as v
from ..network import Ensemble
from ..sampling import esd_power_law, fit_power_law, hill_estimator
from .config import TrainResult

__all__ = ["checkpoint_ensemble", "layer_statistics", "run_table"]


def checkpoint_ensemble(result: TrainResult, *, backend: str | None = None) -> Ensemble:
    """One network per checkpoint, as an :class:`~fpkit.network.Ensemble` (E = checkpoints).

    Only checkpoints recorded before a divergence are included (all of them for a run that did
    not diverge); ``result.steps[result.finite_checkpoints]`` are their steps.
    """
    keep = result.finite_checkpoints
    if not keep.any():
        raise ValueError("the run diverged before its first checkpoint; there is no network to export")
    W, b = result.weights[keep], result.biases[keep]
    if backend not in (None, "numpy"):
        from ..backend import get_namespace

        xp = get_namespace(backend)
        W, b = xp.asarray(W), xp.asarray(b)
    return Ensemble(W, b, result.config.activation)


def layer_statistics(result: TrainResult, *, tail_fraction: float = 0.1, power_law: str = "last",
                     confidence: float = 0.95) -> pd.DataFrame:
    """Per checkpoint and layer: tail indices of the weights and of their spectrum, norms.

    Columns: ``step``, ``layer`` (1..L), ``hill_alpha`` with ``hill_low``, ``hill_high`` (Hill
    estimate of the tail index of ``|W_ij|`` on the top ``tail_fraction`` of the entries, with
    its asymptotic normal interval ``alpha (1 +- z / sqrt(k))``), ``tail_index`` (= ``hill_alpha``),
    ``hill_offdiag`` (the same on the off-diagonal entries only),
    ``csn_alpha``, ``csn_low``, ``csn_high``, ``csn_xmin``, ``csn_ks``, ``csn_n_tail`` (the
    Clauset-Shalizi-Newman fit of :func:`~fpkit.sampling.fit_power_law`; at the checkpoints chosen
    by ``power_law``: ``"last"`` (default), ``"all"`` or ``"none"``, NaN elsewhere), ``esd_alpha``
    (WeightWatcher's alpha of the eigenvalues of ``W^T W``, :func:`~fpkit.sampling.esd_power_law`),
    ``spectral_norm``, ``frobenius_norm``, ``median_abs`` (median ``|W_ij|``), ``max_over_std`` (the
    largest ``|entry|`` over the entries' standard deviation) and ``diagonal_ratio`` (mean
    ``|diagonal entry|`` over mean ``|off-diagonal entry|``: a layer that learns a near-identity map
    has a few large entries on its diagonal, which a tail index alone would read as a heavy tail).
    Checkpoints after a divergence are left out.
    """
    from scipy import stats

    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    v.check_choice(power_law, "power_law", ("last", "all", "none"))
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    finite = np.flatnonzero(result.finite_checkpoints)
    for c in finite:
        step = result.steps[c]
        fit_csn = power_law == "all" or (power_law == "last" and c == finite[-1])
        for layer in range(result.weights.shape[1]):
            W = result.weights[c, layer]
            k = max(2, int(tail_fraction * W.size))
            hill = hill_estimator(W.ravel(), k=k)
            off = np.abs(W[~np.eye(W.shape[0], dtype=bool)])
            row = {"step": int(step), "layer": layer + 1, "hill_alpha": hill.alpha,
                   "hill_low": hill.alpha - z * hill.stderr, "hill_high": hill.alpha + z * hill.stderr,
                   "tail_index": hill.alpha,
                   "hill_offdiag": hill_estimator(off, k=max(2, int(tail_fraction * off.size))).alpha}
            if fit_csn:
                pl = fit_power_law(W.ravel())
                row.update(csn_alpha=pl.alpha, csn_low=pl.alpha - z * pl.stderr, csn_high=pl.alpha + z * pl.stderr,
                           csn_xmin=pl.xmin, csn_ks=pl.ks_distance, csn_n_tail=pl.n_tail)
            else:
                row.update(csn_alpha=np.nan, csn_low=np.nan, csn_high=np.nan, csn_xmin=np.nan, csn_ks=np.nan,
                           csn_n_tail=np.nan)
            try:
                esd = esd_power_law(W, min_tail=min(10, max(3, min(W.shape) // 2))).alpha
            except ValueError:  # numerically rank-deficient: too few non-zero eigenvalues to fit
                esd = np.nan
            scale = float(np.abs(W).max())  # norms of W / scale: no overflow for huge weights
            row.update(esd_alpha=esd, spectral_norm=scale * float(np.linalg.norm(W / scale, 2)),
                       frobenius_norm=scale * float(np.linalg.norm(W / scale)), median_abs=float(np.median(np.abs(W))),
                       max_over_std=float(1.0 / (W / scale).std()),
                       diagonal_ratio=float(np.abs(np.diag(W)).mean() / off.mean()))
            rows.append(row)
    return pd.DataFrame(rows)


def run_table(results: Iterable[TrainResult]) -> pd.DataFrame:
    """One row per run: the configuration's fields, ``lr_per_batch`` (lr / batch size),
    ``status``, ``diverged_step``, ``seconds`` (training time: its group's wall time over the
    group's size, when it was trained), and the first and last finite train / test losses."""
    rows = []
    for r in results:
        h = r.history.dropna()
        rows.append({**r.config.as_dict(), "lr_per_batch": r.config.lr / r.config.batch_size, "status": r.status,
                     "diverged_step": r.diverged_step, "seconds": r.extra.get("seconds"),
                     "initial_train_loss": float(r.history["train_loss"].iloc[0]),
                     "final_train_loss": float(h["train_loss"].iloc[-1]) if len(h) else np.nan,
                     "final_test_loss": float(h["test_loss"].iloc[-1]) if len(h) else np.nan})
    return pd.DataFrame(rows)

