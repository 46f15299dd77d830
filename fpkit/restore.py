"""Damaged images and their restoration by iterating a trained map to its attractor.

:func:`corrupt` damages images in four ways (Gaussian noise, salt-and-pepper, an occluded
block, missing pixels) at a given strength; :func:`restore` iterates a network from the
damaged images to the points its orbits settle on; :func:`psnr` measures the result;
:func:`median_baseline` is the classical baseline (a 3 x 3 median filter, scipy.ndimage);
:func:`repairs` applies the three repairs (one pass, attractor, median filter) and
:func:`evaluate_restoration` measures them over every kind and strength of damage;
:func:`basin_radius` estimates how far from an attractor perturbed copies still return to it;
:func:`attractor_distances` how far each image lies from the attractor its orbit reaches (a stored image
that is its own attractor is memorised). Paired comparisons of the repairs image by image are
:func:`fpkit.stats.paired_sign_tests` on the ``per_image`` table of :func:`evaluate_restoration`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _validate as v
from .backend import make_rng, to_numpy
from .engine import iterate_map
from .network import Ensemble, check_ensemble

__all__ = ["CORRUPTIONS", "REPAIRS", "attractor_distances", "basin_radius", "corrupt", "evaluate_restoration",
           "median_baseline", "psnr", "repairs", "restore"]

#: Kinds of damage and what ``strength`` means for each.
CORRUPTIONS = {
    "gaussian": "noise standard deviation, as a fraction of the value range",
    "salt_pepper": "fraction of pixels set to the lowest or highest value",
    "occlusion": "fraction of the image covered by one square block of background",
    "missing": "fraction of pixels replaced by the middle of the value range",
}


def _images(x, side, name: str = "x"):
    side = v.check_int(side, "side", minimum=1)
    x = v.check_array(x, name)
    if x.ndim != 2 or x.shape[1] != side * side:
        raise ValueError(f"{name} must have shape (n_images, side**2 = {side * side}); got {x.shape}")
    return x


def _network_images(ensemble: Ensemble, x: np.ndarray, network: Any, name: str):
    """``network`` checked as an index of the ensemble, and images ``x`` as points of its width:
    ``(network, the one-network ensemble, x[None] on its backend)``; errors name ``name``."""
    network = v.check_int(network, "network", minimum=0)
    if network >= ensemble.n_networks:
        raise ValueError(f"network must be in [0, {ensemble.n_networks - 1}]; got {network}")
    if x.shape[1] != ensemble.width:
        raise ValueError(f"{name} must have side**2 = N = {ensemble.width} pixels (the networks' width); "
                         f"got {x.shape[1]}")
    sub = ensemble.subset(np.array([network]))
    return network, sub, sub.check_points(x[None], name)


def _check_range(x: np.ndarray, name: str, low: float, high: float) -> None:
    """A ValueError naming ``name`` when a pixel lies outside [low, high] (damage keeps images in that range)."""
    if x.size and (x.min() < low or x.max() > high):
        raise ValueError(f"{name} must have its values in [low, high] = [{low:g}, {high:g}]; got values from "
                         f"{x.min():g} to {x.max():g}")


def corrupt(x, kind: str, strength: float, *, low: float, high: float, seed: Any, side: int = 8) -> np.ndarray:
    """Damaged copies of the images ``x`` (shape (n, side*side), values in [low, high]).

    ``strength`` is in [0, 1]; its meaning per kind is :data:`CORRUPTIONS`. Background is
    ``low``. The result stays in [low, high]; images with a value outside that range are refused
    (ValueError naming ``x``).
    """
    v.check_choice(kind, "kind", tuple(CORRUPTIONS))
    strength = v.check_real(strength, "strength", low=0.0, high=1.0)
    low = v.check_real(low, "low")
    high = v.check_real(high, "high")
    if not high > low:
        raise ValueError(f"high must be > low; got low={low}, high={high}")
    x = _images(x, side)
    _check_range(x, "x", low, high)
    rng = make_rng(seed, "numpy")
    out = x.copy()
    n, d = x.shape
    if kind == "gaussian":
        out = np.clip(x + strength * (high - low) * rng.standard_normal(x.shape), low, high)
    elif kind in ("salt_pepper", "missing"):
        hit = rng.random(x.shape) < strength
        if kind == "salt_pepper":
            out[hit] = np.where(rng.random(int(hit.sum())) < 0.5, low, high)
        else:
            out[hit] = 0.5 * (low + high)
    else:  # occlusion: one square block per image at a random position
        k = int(round(side * np.sqrt(strength)))
        if k > 0:
            imgs = out.reshape(n, side, side)
            r0 = rng.integers(0, side - k + 1, n)
            c0 = rng.integers(0, side - k + 1, n)
            for i in range(n):
                imgs[i, r0[i]:r0[i] + k, c0[i]:c0[i] + k] = low
            out = imgs.reshape(n, d)
    return out


def psnr(x, reference, *, data_range: float) -> np.ndarray:
    """Peak signal-to-noise ratio per image, ``10 log10(range^2 / MSE)`` in dB (inf if equal)."""
    data_range = v.check_real(data_range, "data_range", low=0.0, low_open=True)
    x, reference = v.check_array(x, "x"), v.check_array(reference, "reference")
    if x.shape != reference.shape:
        raise ValueError(f"x and reference must have the same shape; got {x.shape} and {reference.shape}")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"x must have at least one pixel per image (shape (..., n_pixels)); got {x.shape}")
    with np.errstate(over="ignore", divide="ignore"):
        mse = np.mean((x - reference) ** 2, axis=-1)
        plain = 10.0 * np.log10(data_range**2 / mse) if data_range < 1e150 else np.full(mse.shape, np.nan)
        if np.all(np.isfinite(plain) | (mse == 0)):
            return plain  # the usual case: the formula as written
        # inputs so large that the squares overflow: the same in logs, mse = s^2 mean((d / s)^2)
        diff = np.abs(x - reference)
    diff = np.where(np.isfinite(diff), diff, np.finfo(np.float64).max)
    scale = diff.max(axis=-1)
    safe = np.where(scale > 0, scale, 1.0)
    log_mse = 2.0 * np.log10(safe) + np.log10(np.mean((diff / safe[..., None]) ** 2, axis=-1))
    return np.where(scale > 0, 20.0 * math.log10(data_range) - 10.0 * log_mse, np.inf)


def restore(ensemble: Ensemble, x, *, network: int = 0, max_iter: int = 3000, tol: float = 1e-10):
    """Iterate network ``network`` of the ensemble from every image of ``x`` (shape (n, N)).

    Returns ``(limits, status)``: where each orbit ended (shape (n, N)) and its
    ``fpkit.engine.STATUS`` code (converged, cycle, not converged).
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    x = v.check_array(x, "x")
    if x.ndim != 2 or x.shape[1] != ensemble.width or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, N = {ensemble.width}) with n >= 1; got {x.shape}")
    _, sub, points = _network_images(ensemble, x, network, "x")
    it = iterate_map(sub, points, max_iter=max_iter, tol=tol)
    return to_numpy(it.limit)[0], to_numpy(it.status)[0]


def attractor_distances(ensemble: Ensemble, images, *, network: int = 0, max_iter: int = 3000,
                        tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Where the orbit of each image ends, and its RMS distance from the image.

    An image whose orbit ends within a small distance of itself is (close to) a fixed point: a
    memorised image (chapter 8 counts a training digit as memorised when the distance is below 0.05,
    on a pixel range of 1.6).

    Parameters
    ----------
    ensemble : Ensemble
    images : array, shape (n, N)
        Finite values, N the networks' width.
    network, max_iter, tol
        As in :func:`restore`.

    Returns
    -------
    limits : numpy.ndarray, shape (n, N)
        Where each orbit ended (:func:`restore`).
    distance : numpy.ndarray, shape (n,)
        ``sqrt(mean((limit - image)^2))`` per image.
    """
    x = v.check_array(images, "images")
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != ensemble.width:
        raise ValueError(f"images must have shape (n, N = {ensemble.width}) with n >= 1; got {x.shape}")
    limits, _ = restore(ensemble, x, network=network, max_iter=max_iter, tol=tol)
    with np.errstate(over="ignore"):
        distance = np.sqrt(np.mean((limits - x) ** 2, axis=-1))
    if np.all(np.isfinite(distance)):
        return limits, distance  # the usual case: the formula as written
    diff = np.abs(limits - x)  # squares beyond float64: the same, scaled by the largest difference per image
    top = diff.max(axis=-1, keepdims=True)
    return limits, top[:, 0] * np.sqrt(np.mean((diff / np.where(top > 0, top, 1.0)) ** 2, axis=-1))


def median_baseline(x, *, side: int = 8, size: int = 3) -> np.ndarray:
    """A ``size x size`` median filter on every image (scipy.ndimage, edges reflected)."""
    from scipy.ndimage import median_filter

    x = _images(x, side)
    size = v.check_int(size, "size", minimum=1)
    if size > side:
        raise ValueError(f"size must be an integer in [1, side = {side}]; got {size}")
    return median_filter(x.reshape(-1, side, side), size=(1, size, size), mode="reflect").reshape(x.shape)


#: The repairs of :func:`repairs`, in the order of its result.
REPAIRS = ("one pass F(x)", "attractor", "median filter")


def repairs(ensemble: Ensemble, images, *, network: int = 0, side: int = 8,
            max_iter: int = 3000) -> dict[str, np.ndarray]:
    """The three repairs of (damaged) images by network ``network``: one pass ``F(x)``, the
    attractor ``F^inf(x)`` (:func:`restore`) and the median filter (:func:`median_baseline`,
    3 x 3, or side x side for images smaller than that).

    Parameters
    ----------
    ensemble : Ensemble
        Networks of width ``side * side``.
    images : array, shape (n, side * side)
        Finite values.
    network : int
        Which network of the ensemble repairs, in [0, n_networks - 1].

    Returns
    -------
    dict
        :data:`REPAIRS` -> repaired images, each of shape (n, side * side).
    """
    check_ensemble(ensemble)
    x = _images(images, side, "images")
    network, sub, points = _network_images(ensemble, x, network, "images")
    one = to_numpy(sub.forward(points))[0]
    attractor, _ = restore(ensemble, x, network=network, max_iter=max_iter)
    return dict(zip(REPAIRS, (one, attractor, median_baseline(x, side=side, size=min(3, side)))))


def _accuracy(classifier: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """``classifier.score(images, labels)`` checked: a real number in [0, 1] (an accuracy), else a
    TypeError or ValueError naming ``classifier``."""
    score = classifier.score(images, labels)
    if isinstance(score, np.ndarray) and score.shape == ():
        score = score.item()
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, (int, float, np.integer, np.floating)):
        raise TypeError(f"classifier.score must return an accuracy (a real number in [0, 1]); got "
                        f"{type(score).__name__}")
    if not 0.0 <= float(score) <= 1.0:  # NaN fails too
        raise ValueError(f"classifier.score must return an accuracy in [0, 1]; got {float(score)!r}")
    return float(score)


def evaluate_restoration(ensemble: Ensemble, clean, labels, *, network: int,
                         strengths: Mapping[str, Sequence[float]], classifier, low: float, high: float,
                         seed: Any, side: int = 8, max_iter: int = 3000, per_image: bool = False) -> pd.DataFrame:
    """Damage clean images every way, repair them every way, and measure the result.

    For each kind of damage (:data:`CORRUPTIONS`) and strength in ``strengths``, the damaged
    images and their three :func:`repairs` are scored against ``clean``.

    Parameters
    ----------
    ensemble : Ensemble
    clean : array, shape (n, side * side)
        Undamaged images, values in [low, high].
    labels : array, shape (n,)
        Their classes, for ``classifier``.
    network : int
        The network that repairs.
    strengths : mapping
        Kind of damage (:data:`CORRUPTIONS`) -> a non-empty sequence of its strengths, each in
        [0, 1] (see :func:`corrupt`); at least one kind.
    classifier : object with ``score(images, labels)``
        E.g. a scikit-learn classifier trained on clean images; its accuracy on the repaired
        images says whether the digit is still recognised. ``score`` must return a real number in
        [0, 1] (NaN or anything else is refused, naming ``classifier``).
    low, high : float
        The pixel range (:func:`fpkit.train.digit_pixel_range`), ``low < high`` with
        ``high - low`` finite; PSNR is relative to ``high - low``.
    seed : int or Generator
        An int gives the damage of kind number k and strength number j the seed
        ``seed + 100 k + j`` (a new strength does not change the others' damage); a Generator
        is drawn from in that order.
    per_image : bool
        Return one row per image instead (for paired tests between repairs): the same damage
        and repairs, each image's ``squared_error`` (mean over its pixels) and, for the
        attractor, ``same attractor as clean`` (1.0 or 0.0; NaN for the other methods).

    Returns
    -------
    pandas.DataFrame
        One row per kind, strength and method (``"damaged"`` and :data:`REPAIRS`): ``psnr`` of
        the mean squared error over all pixels of all images (one undamaged image would make a
        mean of per-image PSNRs infinite), ``accuracy`` of the classifier, and, for the
        attractor, ``same attractor as clean``: the fraction of damaged images whose orbit ends
        (within 1e-6) where the clean image's does. With ``per_image``: columns ``kind``,
        ``strength``, ``method``, ``image`` (row of ``clean``), ``squared_error`` and
        ``same attractor as clean``.
    """
    check_ensemble(ensemble)
    clean = _images(clean, side, "clean")
    labels = np.asarray(labels)
    if labels.shape != (clean.shape[0],):
        raise ValueError(f"labels must have shape ({clean.shape[0]},); got {labels.shape}")
    if not hasattr(classifier, "score"):
        raise TypeError("classifier must have a score(images, labels) method")
    if not isinstance(strengths, Mapping):
        raise TypeError(f"strengths must be a mapping of kind -> strengths; got {type(strengths).__name__}")
    if not strengths:
        raise ValueError("strengths must name at least one kind of damage")
    for kind, values in strengths.items():
        v.check_choice(kind, "strengths key", tuple(CORRUPTIONS))
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"strengths[{kind!r}] must be a sequence of strengths in [0, 1]; "
                            f"got {type(values).__name__}")
        if len(values) == 0:
            raise ValueError(f"strengths[{kind!r}] must hold at least one strength")
        for j, strength in enumerate(values):
            v.check_real(strength, f"strengths[{kind!r}][{j}]", low=0.0, high=1.0)
    low = v.check_real(low, "low")
    high = v.check_real(high, "high")
    if not (high > low and math.isfinite(high - low)):
        raise ValueError(f"high must be > low, with high - low finite; got low={low}, high={high}")
    per_image = v.check_bool(per_image, "per_image")
    _check_range(clean, "clean", low, high)
    network, _, _ = _network_images(ensemble, clean, network, "clean")
    rng = seed if isinstance(seed, np.random.Generator) else None
    if rng is None:
        seed = v.check_int(seed, "seed", minimum=0)
    reference, _ = restore(ensemble, clean, network=network, max_iter=max_iter)
    flat_clean = clean.reshape(1, -1)
    rows = []
    for k, (kind, values) in enumerate(strengths.items()):
        for j, strength in enumerate(values):
            bad = corrupt(clean, kind, strength, low=low, high=high, side=side,
                          seed=rng if rng is not None else seed + 100 * k + j)
            fixed = repairs(ensemble, bad, network=network, side=side, max_iter=max_iter)
            same = np.max(np.abs(fixed["attractor"] - reference), axis=1) < 1e-6
            for method, img in (("damaged", bad), *fixed.items()):
                if per_image:
                    rows.append(pd.DataFrame({
                        "kind": kind, "strength": strength, "method": method, "image": np.arange(len(clean)),
                        "squared_error": np.mean((img - clean) ** 2, axis=1),
                        "same attractor as clean": same.astype(float) if method == "attractor" else np.nan}))
                    continue
                rows.append({"kind": kind, "strength": strength, "method": method,
                             "psnr": float(psnr(img.reshape(1, -1), flat_clean, data_range=high - low)[0]),
                             "accuracy": _accuracy(classifier, img, labels),
                             "same attractor as clean": float(same.mean()) if method == "attractor" else np.nan})
    return pd.concat(rows, ignore_index=True) if per_image else pd.DataFrame(rows)


def basin_radius(ensemble: Ensemble, attractors, radii, *, network: int = 0, n_probe: int = 8,
                 seed: Any, max_iter: int = 3000, tol: float = 1e-6, fraction: float = 0.9) -> np.ndarray:
    """For each attractor: the largest radius of ``radii`` at which at least ``fraction`` of
    ``n_probe`` perturbed copies (random directions, RMS size = radius) return to it.

    Returns 0 where even the smallest radius fails. ``radii`` must be increasing; a radius
    counts only if every smaller one also passed.
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    radii = v.check_array(radii, "radii")
    if radii.ndim != 1 or radii.size == 0 or np.any(np.diff(radii) <= 0) or radii[0] <= 0:
        raise ValueError("radii must be a non-empty increasing sequence of positive numbers")
    n_probe = v.check_int(n_probe, "n_probe", minimum=1)
    fraction = v.check_real(fraction, "fraction", low=0.0, high=1.0, low_open=True)
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    a = v.check_array(attractors, "attractors")
    if a.ndim != 2 or a.shape[1] != ensemble.width or a.shape[0] < 1:
        raise ValueError(f"attractors must have shape (n, N = {ensemble.width}) with n >= 1; got {a.shape}")
    v.check_memory(8 * 4 * a.size * n_probe, f"n_probe = {n_probe} copies of {a.shape[0]} attractors")
    n, d = a.shape
    # every probe stays within max(radii) * sqrt(N) of its attractor, coordinate-wise
    network, _, _ = _network_images(ensemble, np.abs(a) + float(np.max(radii)) * math.sqrt(d), network,
                                    "attractors (plus the largest radius)")
    rng = make_rng(seed, "numpy")
    ok = np.ones(n, dtype=bool)
    best = np.zeros(n)
    for r in radii:
        u = rng.standard_normal((n, n_probe, d))
        u *= r / np.sqrt(np.mean(u**2, axis=-1, keepdims=True))
        lim, _ = restore(ensemble, (a[:, None, :] + u).reshape(n * n_probe, d), network=network,
                         max_iter=max_iter)
        back = np.max(np.abs(lim.reshape(n, n_probe, d) - a[:, None, :]), axis=-1) < tol
        ok &= back.mean(axis=1) >= fraction
        best[ok] = r
    return best
