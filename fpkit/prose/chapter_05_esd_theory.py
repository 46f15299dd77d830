"""The sentences of chapter 5 (*The spectrum of the input-output Jacobian*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["cavity_text", "claim_verdict", "follow_text", "free_text", "gaussian_text", "how_sure_text", "regime_text",
           "trend_text"]


def free_text(checks, tolerance):
    """The free-probability law against sampled Jacobians, from the table of checks (columns ``KS distance``,
    ``m₁ theory``, ``m₁ sampled``, ``outside, theory``, ``outside, sampled``; one row per network): it
    matches when every Kolmogorov-Smirnov distance is at most ``tolerance``.

    >>> checks = pd.DataFrame({"KS distance": [0.01, 0.026], "m₁ theory": [1.0, 2.0], "m₁ sampled": [1.02, 1.8],
    ...                        "outside, theory": [0.0, 0.2], "outside, sampled": [0.0, 0.233]})
    >>> free_text(checks, 0.05)
    'The Kolmogorov-Smirnov distance between theory and the sampled squared singular values is at most 0.026 (tolerance 0.05), the first moment agrees within a relative 0.1, and the mass of eigenvalues outside the unit circle within 0.033: the free-probability equation describes these networks.'
    >>> free_text(checks, 0.02).split(": ")[-1]
    'the free-probability equation does not describe every one of these networks within the tolerance.'
    """
    ks = checks["KS distance"].max()
    m1_error = (checks["m₁ sampled"] / checks["m₁ theory"] - 1).abs().max()
    mass_error = (checks["outside, sampled"] - checks["outside, theory"]).abs().max()
    head = (f"The Kolmogorov-Smirnov distance between theory and the sampled squared singular values is at most "
            f"{ks:.2g} (tolerance {tolerance:g}), the first moment agrees within a relative {m1_error:.2g}, and the "
            f"mass of eigenvalues outside the unit circle within {mass_error:.2g}")
    if ks <= tolerance:
        return f"{head}: the free-probability equation describes these networks."
    return f"{head}: the free-probability equation does not describe every one of these networks within the tolerance."


def cavity_text(median, largest, decades, tolerance):
    """The cavity solution for one Cauchy layer against the sampled smoothed ESD: it matches when the
    median relative deviation is at most ``tolerance``.

    >>> cavity_text(0.058, 0.20, 11, 0.15)
    'The cavity solution matches the sampled Cauchy layer across 11 decades of x: median relative deviation 0.058 (tolerance 0.15), largest 0.2.'
    >>> cavity_text(0.3, 0.9, 11, 0.15)
    'The cavity solution does not match the sampled Cauchy layer across 11 decades of x: median relative deviation 0.3 (tolerance 0.15), largest 0.9.'
    """
    verb = "matches" if median <= tolerance else "does not match"
    return (f"The cavity solution {verb} the sampled Cauchy layer across {decades:.0f} decades of x: median relative "
            f"deviation {median:.2g} (tolerance {tolerance:g}), largest {largest:.2g}.")


def follow_text(rho_mass, p_mass, rho_real, p_real, level):
    """Whether the two spectral statistics follow the fraction of networks with Q >= 2 across depths
    (Kendall tau, each significant and positive at ``level``).

    >>> follow_text(0.94, 0.005, 0.89, 0.02, 0.05)
    'Across depths both follow the fraction of networks with several attractors: Kendall tau 0.94 (p = 0.005) and 0.89 (p = 0.02).'
    >>> follow_text(0.94, 0.005, 0.32, 0.54, 0.05)
    'Across depths the mass outside the unit circle follows the fraction of networks with several attractors (Kendall tau 0.94, p = 0.005), the probability of a real eigenvalue above 1 not significantly (0.32, p = 0.54).'
    >>> follow_text(0.32, 0.54, 0.94, 0.005, 0.05).split(" (Kendall")[0]
    'Across depths the probability of a real eigenvalue above 1 follows the fraction of networks with several attractors'
    >>> follow_text(0.32, 0.54, -0.1, 0.8, 0.05)
    'Across depths neither follows the fraction of networks with several attractors significantly: Kendall tau 0.32 (p = 0.54) and -0.1 (p = 0.8).'
    """
    ok_mass, ok_real = rho_mass > 0 and p_mass <= level, rho_real > 0 and p_real <= level
    pair = f"{rho_mass:.2g} (p = {p_mass:.2g}) and {rho_real:.2g} (p = {p_real:.2g})"
    if ok_mass and ok_real:
        return f"Across depths both follow the fraction of networks with several attractors: Kendall tau {pair}."
    if not (ok_mass or ok_real):
        return ("Across depths neither follows the fraction of networks with several attractors significantly: "
                f"Kendall tau {pair}.")
    names = ("the mass outside the unit circle", "the probability of a real eigenvalue above 1")
    (good, r_good, p_good), (bad, r_bad, p_bad) = (
        ((names[0], rho_mass, p_mass), (names[1], rho_real, p_real)) if ok_mass else
        ((names[1], rho_real, p_real), (names[0], rho_mass, p_mass)))
    return (f"Across depths {good} follows the fraction of networks with several attractors (Kendall tau "
            f"{r_good:.2g}, p = {p_good:.2g}), {bad} not significantly ({r_bad:.2g}, p = {p_bad:.2g}).")


def claim_verdict(spectral_humps, free_ok, cavity_ok):
    """The status word and the one-sentence finding. ``spectral_humps``: the spectral statistics whose hump
    test rejected (short words); ``free_ok`` / ``cavity_ok``: whether the free-probability law (Gaussian
    weights) and the cavity solution (one Cauchy layer) match sampled Jacobians.

    >>> claim_verdict([], True, True)
    ('not detected', 'For Cauchy weights, ESD statistics at random inputs show no hump in depth; the ESD equations hold for Gaussian weights and one Cauchy layer.')
    >>> claim_verdict([], False, True)[1]
    'For Cauchy weights, ESD statistics at random inputs show no hump in depth; the ESD equations checked do not all match sampled Jacobians.'
    >>> claim_verdict(["the mass outside the unit circle"], True, True)
    ('partly', 'For Cauchy weights, the mass outside the unit circle rises and falls with depth, measured rather than derived.')
    >>> claim_verdict(["the mass outside the unit circle", "real eigenvalues above 1"], True, False)[1]
    'For Cauchy weights, the mass outside the unit circle and real eigenvalues above 1 rise and fall with depth, measured rather than derived.'
    """
    if not spectral_humps:
        theory = ("the ESD equations hold for Gaussian weights and one Cauchy layer" if free_ok and cavity_ok else
                  "the ESD equations checked do not all match sampled Jacobians")
        return "not detected", f"For Cauchy weights, ESD statistics at random inputs show no hump in depth; {theory}."
    verb = "rises and falls" if len(spectral_humps) == 1 else "rise and fall"
    return "partly", f"For Cauchy weights, {' and '.join(spectral_humps)} {verb} with depth, measured rather than derived."


def how_sure_text(humps, n_networks, n_depths, level, ks, n_big):
    """How sure: the hump tests (level, detectable size or interval) and the check of the theory.
    ``humps`` maps a statistic's words to ``(hump found, excess, low, high, detectable)``.

    >>> how_sure_text({"mass outside the unit circle": (False, -0.02, -0.05, 0.004, 0.03)}, 300, 12, 0.025, 0.01, 1000)
    'Hump tests at family-wise level 0.025 (Holm) with at least 300 networks at each of 12 depths: mass outside the unit circle, no hump larger than 0.03 (power 0.8); free-probability law within Kolmogorov-Smirnov distance 0.01 of Jacobians of width 1000.'
    >>> how_sure_text({"P(Q ≥ 2)": (True, 0.05, 0.01, 0.09, 0.04)}, 60, 6, 0.025, 0.02, 300).split("; ")[0]
    'Hump tests at family-wise level 0.025 (Holm) with at least 60 networks at each of 6 depths: P(Q ≥ 2), a hump of 0.05 (95 % interval 0.01 to 0.09)'
    >>> how_sure_text({"P(Q ≥ 2)": (False, 0.01, -0.05, 0.09, float("inf"))}, 60, 6, 0.025, 0.02, 300).split("; ")[0]
    'Hump tests at family-wise level 0.025 (Holm) with at least 60 networks at each of 6 depths: P(Q ≥ 2), no hump found, none excluded (95 % interval -0.05 to 0.09)'
    """
    parts = []
    for name, (found, excess, low, high, detectable) in humps.items():
        interval = f"95 % interval {low:.2g} to {high:.2g}"
        if found:
            parts.append(f"{name}, a hump of {excess:.2g} ({interval})")
        elif detectable == float("inf"):
            parts.append(f"{name}, no hump found, none excluded ({interval})")
        else:
            parts.append(f"{name}, no hump larger than {detectable:.2g} (power 0.8)")
    return (f"Hump tests at family-wise level {level:g} (Holm) with at least {n_networks} networks at each of {n_depths} "
            f"depths: {'; '.join(parts)}; free-probability law within Kolmogorov-Smirnov distance {ks:.2g} of "
            f"Jacobians of width {n_big}.")


def trend_text(name, first, last, l_first, l_last, rho, p, level):
    """How a statistic's mean over networks moves with depth (Kendall tau of the per-depth means
    with L, significant at ``level``), ``name`` the statistic in words.

    >>> trend_text("the mass outside the unit circle", 0.0816, 0.0001, 1, 32, -1.0, 0.0028, 0.05)
    'For Cauchy weights the mass outside the unit circle falls with depth, from 0.082 at L = 1 to 0.0001 at L = 32 (Kendall tau with L -1, p = 0.0028).'
    >>> trend_text("the mass outside the unit circle", 0.01, 0.2, 1, 32, 0.9, 0.01, 0.05).split(",")[0]
    'For Cauchy weights the mass outside the unit circle rises with depth'
    >>> trend_text("the mass outside the unit circle", 0.08, 0.07, 1, 32, -0.3, 0.5, 0.05).split(",")[0]
    'For Cauchy weights the mass outside the unit circle shows no significant trend with depth'
    """
    if p <= level and rho != 0:
        move = "falls with depth" if rho < 0 else "rises with depth"
    else:
        move = "shows no significant trend with depth"
    return (f"For Cauchy weights {name} {move}, from {first:.2g} at L = {l_first} to {last:.2g} at L = {l_last} "
            f"(Kendall tau with L {rho:.2g}, p = {p:.2g}).")


def gaussian_text(scale, theory_max, sampled_max, real_max, width):
    """The spectrum at random inputs for Gaussian weights: the theory's mass outside the unit circle (largest
    over depths), the sampled one and the probability of a real eigenvalue above 1 at ``width``.

    >>> gaussian_text(1.0, 0.0, 0.0102, 0.031, 10)
    'For Gaussian weights at s = 1 the theory puts no mass outside the unit circle at any depth; at width 10 the sampled mass is at most 0.01, and a real eigenvalue above 1 appears at a fraction 0.031 of random inputs at most: the spectral picture of a unique fixed point.'
    >>> gaussian_text(3.0, 0.2, 0.25, 0.4, 10).split(";")[0]
    'For Gaussian weights at s = 3 the theory puts up to 0.2 of the mass outside the unit circle'
    >>> gaussian_text(3.0, 0.2, 0.25, 0.4, 10).split(": ")[-1]
    'unstable directions at typical points, as in the chaotic phase.'
    """
    if theory_max < 1e-3:
        theory, end = "no mass outside the unit circle at any depth", "the spectral picture of a unique fixed point"
    else:
        theory, end = (f"up to {theory_max:.2g} of the mass outside the unit circle",
                       "unstable directions at typical points, as in the chaotic phase")
    return (f"For Gaussian weights at s = {scale:g} the theory puts {theory}; at width {width} the sampled mass is "
            f"at most {sampled_max:.2g}, and a real eigenvalue above 1 appears at a fraction {real_max:.2g} of random "
            f"inputs at most: {end}.")


def regime_text(config, depths, n_big):
    """Where the finding holds: the heavy-tailed network of the hump tests and the width of the theory checks.

    >>> from fpkit.regimes import CAUCHY_REGIME
    >>> regime_text(CAUCHY_REGIME, [1, 2, 4, 32], 300)
    'Hump tests: tanh, Cauchy weights of scale 4/N and biases of scale 1, N = 10, depths 1 to 32, Jacobians at uniform random inputs. Free probability: Gaussian weights at width 300.'
    """
    return (f"Hump tests: {config.activation}, {config.law.capitalize()} weights of scale {config.scale:g}/N and biases "
            f"of scale {config.bias_scale:g}, N = {config.N}, depths {min(depths)} to {max(depths)}, Jacobians at "
            f"uniform random inputs. Free probability: Gaussian weights at width {n_big}.")
