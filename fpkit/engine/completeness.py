"""How complete a census is: the index check and the unseen-species estimators.

A count of fixed points from random starts is a lower bound. Three estimates say how far from
complete it may be, per network:

* the **index sum** (:func:`fixed_point_index`, :func:`index_sums`): the indices of all fixed points
  of a network sum to 1, so a sum other than 1 proves a point missing (a missed *pair* of opposite
  indices leaves it at 1);
* the **Good-Turing unseen mass** (:func:`good_turing_unseen_mass`): the basin mass of attractors no
  uniform start has reached yet (Good 1953);
* the **Chao1 estimate** (:func:`chao1_unseen`, :func:`chao1_unseen_per_network`): the number of roots
  the random starts of a root finder have not reached yet (Chao 1984, 1987), a lower-bound estimator.

References
----------
I. J. Good, The population frequencies of species and the estimation of population parameters,
*Biometrika* 40 (1953). A. Chao, Nonparametric estimation of the number of classes in a population,
*Scand. J. Statist.* 11 (1984); Estimating the population size for capture-recapture data with
unequal catchability, *Biometrics* 43 (1987).
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v

__all__ = ["chao1_unseen", "chao1_unseen_per_network", "fixed_point_index", "good_turing_unseen_mass",
           "index_sums"]


def fixed_point_index(eigenvalues) -> np.ndarray:
    """Index ``sign det(I - J)`` of fixed points from the eigenvalues of J, shape (..., N) -> (...).

    ``det(I - J) = prod_i (1 - lambda_i)`` is real; it is negative exactly when J has an odd
    number of real eigenvalues above 1. Because F maps R^N into the open box of the activation's
    range, x - F(x) has degree 1 on that box, so the indices of all (non-degenerate) fixed points
    of a network sum to 1: ``Q_all = 1 + 2 * #(index -1)``. A network can only have several fixed
    points if J has real eigenvalues above 1 somewhere; a sum other than 1 means the search
    missed some. NaN rows (padding) give 0.
    """
    ev = v.check_array(eigenvalues, "eigenvalues", finite=False, complex_ok=True)
    if ev.ndim < 1:
        raise ValueError("eigenvalues must have at least one axis (the N eigenvalues)")
    with np.errstate(invalid="ignore", over="ignore"):
        # the sign of a product is the product of signs: no overflow for huge |1 - lambda|
        factors = 1.0 - ev
        real = np.abs(factors.imag) <= 1e-12 * np.maximum(np.abs(factors.real), 1.0)
        neg = np.sum(real & (factors.real < 0), axis=-1)
        zero = np.any(factors == 0, axis=-1)
        sign = np.where(neg % 2 == 1, -1, 1)
    return np.where(np.isnan(ev).any(axis=-1) | zero, 0, sign).astype(int)


def index_sums(index, network, n_networks: int) -> np.ndarray:
    """Per network (length ``n_networks``), the sum of the ``index`` (P,) of its points ``network`` (P,)."""
    return np.bincount(network, weights=index, minlength=n_networks).round().astype(np.int64)


def good_turing_unseen_mass(basin_count, network, draws, *, counted=None) -> np.ndarray:
    """Per network, the Good-Turing estimate of the basin mass no start has reached.

    The share of a network's ``draws`` (E,) (its uniform starts) whose attractor was reached by exactly
    one start (Good 1953): an estimate of the probability that a new uniform start lands in the basin
    of an attractor not seen yet. ``basin_count`` (P,) counts the starts that reached each point,
    ``network`` (P,) its network; ``counted`` (P,) bool, optional, restricts the attractors counted
    (e.g. to the stable points).
    """
    once = basin_count == 1
    if counted is not None:
        once = once & counted
    n1 = np.bincount(network[once], minlength=np.shape(draws)[0])
    return n1 / np.maximum(draws, 1)


def chao1_unseen(hits) -> float:
    """Bias-corrected Chao1 estimate of the number of species no draw has hit (Chao 1984, 1987):
    ``f1 (f1 - 1) / (2 (f2 + 1))`` from the numbers f1, f2 of species hit exactly once and twice.

    Applied to the fixed points that independent random starts of a root finder reached, it
    estimates how many roots those starts have not reached yet; it is a lower-bound estimator
    (roots whose basin of the root finder is tiny can hide from it).
    """
    hits = np.asarray(hits)
    f1, f2 = int(np.sum(hits == 1)), int(np.sum(hits == 2))
    return f1 * (f1 - 1) / (2.0 * (f2 + 1))


def chao1_unseen_per_network(hits, network, n_networks: int) -> np.ndarray:
    """:func:`chao1_unseen` of every network at once: ``hits`` (P,) per point, ``network`` (P,) its
    network; returns (n_networks,)."""
    f1 = np.bincount(network[hits == 1], minlength=n_networks)
    f2 = np.bincount(network[hits == 2], minlength=n_networks)
    return f1 * (f1 - 1) / (2.0 * (f2 + 1))
