"""The sentences of chapter 6 (*The mean-field kernel map*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["bounds_text", "claim_verdict", "finite_width_text", "how_sure_text", "names_text", "regime_text",
           "residual_text", "series_text"]


def names_text(names):
    """A list of activations in words.

    >>> names_text([]), names_text(["tanh"]), names_text(["tanh", "erf"]), names_text(["tanh", "selu", "erf"])
    ('none', 'tanh', 'tanh and erf', 'tanh, selu and erf')
    """
    names = list(names)
    if not names:
        return "none"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def bounds_text(n_failed, n_checked, depth):
    """Whether the convergence bounds hold at every layer of every sequence checked.

    >>> bounds_text(0, 24, 60)
    'The bounds hold at every one of the 60 layers in all 24 sequences.'
    >>> bounds_text(1, 24, 60)
    'The bounds fail somewhere in 1 of the 24 sequences.'
    >>> bounds_text(24, 24, 60)
    'The bounds fail somewhere in all 24 sequences.'
    """
    if n_failed == 0:
        return f"The bounds hold at every one of the {depth} layers in all {n_checked} sequences."
    which = f"all {n_checked}" if n_failed == n_checked else f"{n_failed} of the {n_checked}"
    return f"The bounds fail somewhere in {which} sequences."


def finite_width_text(stable, unstable, small, large, shrink_stable, shrink_unstable):
    """How the finite-width error changes from the smallest to the largest width: for the activations
    whose variance map is stable (slope at most 1) and for the others. ``shrink_*`` is the error at the
    smallest width over that at the largest (the smallest ratio among the stable ones, the largest among
    the unstable ones; None if there are none).

    >>> finite_width_text(["tanh", "relu"], ["gelu"], 100, 1000, 2.9, 1.2)
    'For tanh and relu the error shrinks by a factor 2.9 or more from width 100 to width 1000; for gelu only by a factor 1.2.'
    >>> finite_width_text(["tanh"], ["gelu"], 100, 1000, 2.9, 0.8)
    'For tanh the error shrinks by a factor 2.9 or more from width 100 to width 1000; for gelu it does not shrink at all.'
    >>> finite_width_text(["tanh"], ["gelu"], 100, 1000, 0.9, 3.0)
    'For tanh the error does not shrink from width 100 to width 1000; for gelu it shrinks by a factor 3.0.'
    >>> finite_width_text(["tanh"], [], 100, 1000, 2.0, None)
    'For tanh the error shrinks by a factor 2.0 or more from width 100 to width 1000.'
    """
    head = (f"For {names_text(stable)} the error shrinks by a factor {shrink_stable:.1f} or more from width {small} "
            f"to width {large}" if shrink_stable > 1 else
            f"For {names_text(stable)} the error does not shrink from width {small} to width {large}")
    if not unstable:
        return head + "."
    if shrink_unstable <= 1:
        return f"{head}; for {names_text(unstable)} it does not shrink at all."
    if shrink_stable > 1 and shrink_unstable < shrink_stable:
        return f"{head}; for {names_text(unstable)} only by a factor {shrink_unstable:.1f}."
    return f"{head}; for {names_text(unstable)} it shrinks by a factor {shrink_unstable:.1f}."


def claim_verdict(n_activations, n_unique, bounds_hold, residual_ok, norm_ok):
    """The status word and the one-sentence finding of the chapter.

    ``n_unique``: activations whose kernel map has one globally attracting fixed point (cases 1 to 4);
    ``residual_ok``: residual branches keep the fixed point and slow the approach to it; ``norm_ok``:
    LayerNorm moves it to 0.

    >>> claim_verdict(12, 12, True, True, True)
    ('reproduces', 'All 12 activations have one globally attracting correlation, the convergence bounds hold, and residual branches and LayerNorm act as claimed.')
    >>> claim_verdict(12, 11, True, True, True)
    ('partly', '11 of 12 activations have one globally attracting correlation; the convergence bounds hold, and residual branches and LayerNorm act as claimed.')
    >>> claim_verdict(12, 12, False, True, True)
    ('partly', 'All 12 activations have one globally attracting correlation, but the convergence bounds fail somewhere.')
    >>> claim_verdict(12, 12, True, False, True)
    ('partly', 'All 12 activations have one globally attracting correlation, but residual branches or LayerNorm do not act as claimed.')
    >>> claim_verdict(12, 0, False, False, False)
    ('not detected', 'No activation has one globally attracting correlation.')
    """
    if n_unique == 0:
        return "not detected", "No activation has one globally attracting correlation."
    head = (f"All {n_activations} activations have one globally attracting correlation" if n_unique == n_activations
            else f"{n_unique} of {n_activations} activations have one globally attracting correlation")
    if not bounds_hold:
        return "partly", f"{head}, but the convergence bounds fail somewhere."
    if not (residual_ok and norm_ok):
        return "partly", f"{head}, but residual branches or LayerNorm do not act as claimed."
    if n_unique < n_activations:
        return "partly", f"{head}; the convergence bounds hold, and residual branches and LayerNorm act as claimed."
    return "reproduces", f"{head}, the convergence bounds hold, and residual branches and LayerNorm act as claimed."


def how_sure_text(n_activations, n_hermite, max_tail, n_sequences, depth, ode_gap):
    """How sure the verdict is: what was computed, and how accurately.

    >>> how_sure_text(12, 50, 3.1e-4, 24, 60, 0.003)
    'Exact computations, no sampling: the kernel map of 12 activations by quadrature and by a Hermite series of 50 terms (tail at most 0.00031), the bounds checked at every layer of 24 sequences of 60 layers, the residual limit against the kernel ODE to within 0.003.'
    >>> how_sure_text(1, 30, 0.0, 2, 10, 1e-5).split(", the bounds")[0]
    'Exact computations, no sampling: the kernel map of 1 activation by quadrature and by a Hermite series of 30 terms (tail at most 0)'
    """
    plural = "activation" if n_activations == 1 else "activations"
    return (f"Exact computations, no sampling: the kernel map of {n_activations} {plural} by quadrature and by a "
            f"Hermite series of {n_hermite} terms (tail at most {max_tail:.2g}), the bounds checked at every layer of "
            f"{n_sequences} sequences of {depth} layers, the residual limit against the kernel ODE to within "
            f"{ode_gap:.1g}.")


def regime_text(stable_ok, unstable, small, large, depth):
    """Where the finding holds: the mean-field limit, and how far finite networks follow it.

    >>> regime_text(True, ["gelu"], 100, 1000, 100)
    'Infinite width, weights N(0, 1/d), activations normalised to unit second moment, no biases. Simulated networks of width 100 and 1000 follow it over 100 layers where the variance map is stable; for gelu only for about log d layers.'
    >>> regime_text(True, [], 100, 1000, 100).split(". ")[1]
    'Simulated networks of width 100 and 1000 follow it over 100 layers.'
    >>> regime_text(False, ["gelu"], 100, 1000, 100).split(". ")[1]
    'Simulated networks of width 100 and 1000 do not approach it as the width grows.'
    """
    head = "Infinite width, weights N(0, 1/d), activations normalised to unit second moment, no biases."
    if not stable_ok:
        return f"{head} Simulated networks of width {small} and {large} do not approach it as the width grows."
    tail = f"; for {names_text(unstable)} only for about log d layers" if unstable else ""
    stable = " where the variance map is stable" if unstable else ""
    return f"{head} Simulated networks of width {small} and {large} follow it over {depth} layers{stable}{tail}."


def series_text(excess):
    """How far the gap between the truncated series and quadrature exceeds the tail bound plus the
    quadrature error (at most rounding: the check passes; clearly more: it fails).

    >>> series_text(-1e-12)
    'The gap never exceeds the tail bound plus the quadrature error.'
    >>> series_text(3e-17)
    'The gap exceeds the tail bound plus the quadrature error by at most 3e-17, the rounding level of the coefficients.'
    >>> series_text(2e-6)
    'The gap exceeds the tail bound plus the quadrature error by up to 2e-06: the series or the quadrature is less accurate than stated.'
    """
    if excess <= 0:
        return "The gap never exceeds the tail bound plus the quadrature error."
    if excess <= 1e-14:
        return (f"The gap exceeds the tail bound plus the quadrature error by at most {excess:.1g}, the rounding "
                "level of the coefficients.")
    return (f"The gap exceeds the tail bound plus the quadrature error by up to {excess:.1g}: the series or the "
            "quadrature is less accurate than stated.")


def residual_text(ok):
    """What the residual sequences do (the end of a sentence whose subject is "every residual sequence").

    >>> residual_text(True)
    'moves monotonically towards the same fixed point, the more slowly the larger r'
    >>> residual_text(False)
    'does not approach the fixed point monotonically, or not more slowly for larger r'
    """
    if ok:
        return "moves monotonically towards the same fixed point, the more slowly the larger r"
    return "does not approach the fixed point monotonically, or not more slowly for larger r"
