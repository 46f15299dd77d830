"""The sentences of chapter 5b (*From the spectrum to the count: the Kac-Rice formula*), as functions of
its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["agreement_text", "cauchy_text", "claim_verdict", "esd_part", "exact_part",
           "exponent_text", "finite_route_text", "ginibre_text", "how_sure_text", "hump_text", "regime_text",
           "settings_text"]


def settings_text(settings) -> str:
    """A list of settings as words.

    >>> settings_text([]), settings_text(["Cauchy, N = 3"]), settings_text(["a", "b", "c"])
    ('none', 'Cauchy, N = 3', 'a; b; c')
    """
    return "; ".join(settings) if settings else "none"


def ginibre_text(solver_error: float, sampled_error: float, n: int, tolerance: float = 0.05) -> str:
    """The free-probability solver against the closed form and sampled Ginibre products of size ``n``.

    >>> ginibre_text(2.2e-16, 0.0135, 200)
    'The solver matches the closed form to 2e-16, and sampled products of size 200 lie within 0.013 of it.'
    >>> ginibre_text(2.2e-16, 0.09, 50)
    'The solver matches the closed form to 2e-16; sampled products of size 50 differ from it by up to 0.09, more than the tolerance 0.05.'
    """
    head = f"The solver matches the closed form to {solver_error:.1g}"
    if sampled_error <= tolerance:
        return f"{head}, and sampled products of size {n} lie within {sampled_error:.2g} of it."
    return (f"{head}; sampled products of size {n} differ from it by up to {sampled_error:.2g}, more than the "
            f"tolerance {tolerance:g}.")


def exponent_text(lam1: dict, gauss_error: float, outside_theory: float, outside_sampled: float, ratio: float,
                  l_max: int) -> str:
    """One layer's exponent per regime and the check of ``L Lambda_1`` against sampled wide networks.
    ``lam1`` maps "ordered", "chaotic" and "Cauchy" to Lambda_1; ``ratio`` is the sampled exponent over the
    predicted one for Cauchy weights at the largest depth ``l_max``.

    >>> lam1 = {"ordered": 0.0, "chaotic": 0.0229, "Cauchy": 0.0023}
    >>> exponent_text(lam1, 0.018, 0.012, 0.0125, 0.15, 8)
    'Λ₁ is 0 in the ordered Gaussian regime (the one-layer law lies inside the unit circle), 0.023 in the chaotic one and 0.0023 for Cauchy weights. For chaotic Gaussian networks L Λ₁ is within 0.018 of the sampled exponent at every depth. For Cauchy weights the stated approximation is poor: it puts a fraction 0.012 of the eigenvalues outside the unit circle, the sampled matrices 0.013, and at L = 8 the sampled exponent is 0.15 times the predicted one.'
    >>> exponent_text(lam1, 0.018, 0.012, 0.0125, 0.9, 8).split(". ")[-1]
    'For Cauchy weights the stated approximation holds roughly: it puts a fraction 0.012 of the eigenvalues outside the unit circle, the sampled matrices 0.013, and at L = 8 the sampled exponent is 0.9 times the predicted one.'
    """
    verdict = "holds roughly" if 0.5 <= ratio <= 2.0 else "is poor"
    return (f"Λ₁ is {lam1['ordered']:.2g} in the ordered Gaussian regime (the one-layer law lies inside the unit "
            f"circle), {lam1['chaotic']:.2g} in the chaotic one and {lam1['Cauchy']:.2g} for Cauchy weights. For "
            f"chaotic Gaussian networks L Λ₁ is within {gauss_error:.2g} of the sampled exponent at every depth. "
            "For "
            f"Cauchy weights the stated approximation {verdict}: it puts a fraction {outside_theory:.2g} of the "
            f"eigenvalues outside the unit circle, the sampled matrices {outside_sampled:.2g}, and at L = {l_max} the "
            f"sampled exponent is {ratio:.2g} times the predicted one.")


def agreement_text(n_agree: int, n_settings: int, n_flagged: int, flagged_regimes, stable_rejected: int,
                   alpha: float) -> str:
    """The census against the exact Kac-Rice means: all fixed points (within 3 combined standard errors)
    and stable ones (two-sided z-tests, Holm family at ``alpha``).

    >>> agreement_text(24, 24, 16, ["Cauchy", "Gaussian, chaotic"], 0, 0.05)
    'The counted and exact means of all fixed points agree within three combined standard errors in all 24 settings; the exact scores look heavy-tailed in 16 of them (Cauchy; Gaussian, chaotic), where those error bars are indicative only. For stable fixed points no difference is significant (Holm, family-wise level 0.05).'
    >>> agreement_text(20, 24, 0, [], 2, 0.05)
    'The counted and exact means of all fixed points agree within three combined standard errors in 20 of the 24 settings. For stable fixed points 2 of the 24 differences are significant (Holm, family-wise level 0.05).'
    """
    where = f"all {n_settings} settings" if n_agree == n_settings else f"{n_agree} of the {n_settings} settings"
    text = f"The counted and exact means of all fixed points agree within three combined standard errors in {where}"
    if n_flagged:
        text += (f"; the exact scores look heavy-tailed in {n_flagged} of them ({settings_text(flagged_regimes)}), "
                 "where those error bars are indicative only")
    stable = ("no difference is significant" if stable_rejected == 0 else
              f"{stable_rejected} of the {n_settings} differences are significant")
    return f"{text}. For stable fixed points {stable} (Holm, family-wise level {alpha:g})."


def finite_route_text(ordered_error: float, stable_gap: float, gap_depth: int, chaotic_ratio: float,
                      l_max: int) -> str:
    """The finite-N spectral route against the exact means (Gaussian weights).

    >>> finite_route_text(0.091, 0.15, 1, 1.67, 8)
    'In the ordered phase the finite-N spectral route is within 0.091 of the exact mean of all fixed points at every depth; it counts every point as stable, so it exceeds the exact E[Q] by up to 0.15 (at L = 1). In the chaotic phase it falls short of the exact mean by a factor up to 1.7 at L = 8.'
    >>> finite_route_text(0.01, 0.0, 1, 0.9, 8).split(". ")[-1]
    'In the chaotic phase it does not fall short of the exact mean at L = 8 (ratio 0.9).'
    """
    head = (f"In the ordered phase the finite-N spectral route is within {ordered_error:.2g} of the exact mean of all "
            f"fixed points at every depth; it counts every point as stable, so it exceeds the exact E[Q] by up to "
            f"{stable_gap:.2g} (at L = {gap_depth}).")
    if chaotic_ratio > 1.0:
        return (f"{head} In the chaotic phase it falls short of the exact mean by a factor up to {chaotic_ratio:.2g} "
                f"at L = {l_max}.")
    return (f"{head} In the chaotic phase it does not fall short of the exact mean at L = {l_max} "
            f"(ratio {chaotic_ratio:.2g}).")


def cauchy_text(typical_max: float, exact_max: float) -> str:
    """The spectral count of Cauchy networks against their exact mean number of fixed points.

    >>> cauchy_text(1.12, 2.22)
    'For Cauchy weights the spectral count stays below 1.1 in every setting while the exact mean number of fixed points reaches 2.2: the extra fixed points come from something the bulk of the spectrum does not carry.'
    >>> cauchy_text(1.5, 1.2)
    'For Cauchy weights the spectral count reaches 1.5, the exact mean number of fixed points 1.2.'
    """
    if exact_max > typical_max:
        return (f"For Cauchy weights the spectral count stays below {typical_max:.2g} in every setting while the exact "
                f"mean number of fixed points reaches {exact_max:.2g}: the extra fixed points come from something the "
                "bulk of the spectrum does not carry.")
    return (f"For Cauchy weights the spectral count reaches {typical_max:.2g}, the exact mean number of fixed "
            f"points {exact_max:.2g}.")


def hump_text(curve: str, humps, n_tested: int) -> str:
    """The hump tests of one kind of curve: where they found a hump.

    >>> hump_text("the exact E[Q]", [], 6)
    'The exact E[Q] shows no significant hump in any of its 6 curves.'
    >>> hump_text("the finite-N spectral route", ["Gaussian, chaotic, N = 6, E[Q_all]"], 8)
    'The finite-N spectral route shows a significant hump in 1 of its 8 curves (Gaussian, chaotic, N = 6, E[Q_all]).'
    """
    head = curve[:1].upper() + curve[1:]
    if not humps:
        return f"{head} shows no significant hump in any of its {n_tested} curves."
    return f"{head} shows a significant hump in {len(humps)} of its {n_tested} curves ({settings_text(humps)})."


def esd_part(typical_monotone: bool, finite_humps: int) -> str:
    """The verdict word of the ESD-based count: monotone in L, or a hump.

    >>> esd_part(True, 0), esd_part(True, 1), esd_part(False, 0)
    ('monotone', 'a hump', 'a hump')
    """
    return "monotone" if typical_monotone and finite_humps == 0 else "a hump"


def exact_part(humps: int) -> str:
    """The verdict word of the exact Kac-Rice mean number of stable fixed points.

    >>> exact_part(0), exact_part(2)
    ('no hump', 'a hump')
    """
    return "no hump" if humps == 0 else "a hump"


def claim_verdict(esd_word: str, exact_word: str) -> tuple[str, str]:
    """The status word and the one-sentence finding from the two sub-claims.

    >>> claim_verdict("monotone", "no hump")
    ('not detected', 'Through Kac-Rice the ESD gives a count that stays flat or grows with depth; the exact mean number of attractors shows no hump either.')
    >>> claim_verdict("monotone", "a hump")
    ('not detected', 'Through Kac-Rice the ESD gives a count that stays flat or grows with depth, although the exact mean number of attractors has a hump.')
    >>> claim_verdict("a hump", "no hump")
    ('partly', 'The ESD-based count rises and falls with depth in some setting; the exact mean number of attractors shows no hump.')
    >>> claim_verdict("a hump", "a hump")
    ('reproduces', 'The ESD-based count and the exact mean number of attractors both rise and fall with depth.')
    """
    if esd_word == "monotone":
        if exact_word == "no hump":
            return "not detected", ("Through Kac-Rice the ESD gives a count that stays flat or grows with depth; the "
                                    "exact mean number of attractors shows no hump either.")
        return "not detected", ("Through Kac-Rice the ESD gives a count that stays flat or grows with depth, although "
                                "the exact mean number of attractors has a hump.")
    if exact_word == "no hump":
        return "partly", ("The ESD-based count rises and falls with depth in some setting; the exact mean number of "
                          "attractors shows no hump.")
    return "reproduces", "The ESD-based count and the exact mean number of attractors both rise and fall with depth."


def how_sure_text(alpha: float, n_curves: int, kr_samples: int, networks: int) -> str:
    """The tests behind the verdict.

    >>> how_sure_text(0.05, 14, 40000, 200)
    'Hump z-tests of 14 curves at family-wise level 0.05 (Bonferroni), exact Kac-Rice means from 40000 samples per setting, census of 200 networks per setting; the typical-point count is monotone by construction.'
    """
    return (f"Hump z-tests of {n_curves} curves at family-wise level {alpha:g} (Bonferroni), exact Kac-Rice means from "
            f"{kr_samples} samples per setting, census of {networks} networks per setting; the typical-point count is "
            "monotone by construction.")


def regime_text(widths, depths, chaotic_scale: float) -> str:
    """Where the finding holds.

    >>> regime_text([4, 10], [1, 2, 3, 4, 6, 8], 3.0)
    'tanh networks with Gaussian weights of scale 1 (ordered) and 3 (chaotic) and with Cauchy weights, widths 4 to 10, depths 1 to 8.'
    """
    return (f"tanh networks with Gaussian weights of scale 1 (ordered) and {chaotic_scale:g} (chaotic) and with Cauchy "
            f"weights, widths {min(widths)} to {max(widths)}, depths {min(depths)} to {max(depths)}.")
