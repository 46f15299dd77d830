"""The sentences of chapter 4 (*Does the number of fixed points rise and fall with depth?*), as functions of
its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["agreement_text", "claim_verdict", "convergence_text", "count_words", "how_sure_text", "hump_summary",
           "iteration_text", "mean_attractor_text", "part_verdict", "peak_text", "regime_text", "widths_text"]


def count_words(k: int, n: int, noun: str) -> str:
    """"k of n nouns", with "none", "all" and "the one" where they read better.

    >>> count_words(0, 7, "widths"), count_words(7, 7, "widths"), count_words(3, 7, "widths")
    ('none of the 7 widths', 'all 7 widths', '3 of the 7 widths')
    >>> count_words(1, 1, "widths"), count_words(0, 1, "widths")
    ('the one width', 'not the one width')
    """
    if n == 1:
        return f"the one {noun.rstrip('s')}" if k == 1 else f"not the one {noun.rstrip('s')}"
    if k == 0:
        return f"none of the {n} {noun}"
    if k == n:
        return f"all {n} {noun}"
    return f"{k} of the {n} {noun}"


def widths_text(widths) -> str:
    """Widths as words.

    >>> widths_text([]), widths_text([16]), widths_text([10, 16]), widths_text([4, 10, 16])
    ('no width', 'N = 16', 'N = 10 and 16', 'N = 4, 10 and 16')
    """
    widths = [int(w) for w in widths]
    if not widths:
        return "no width"
    if len(widths) == 1:
        return f"N = {widths[0]}"
    return f"N = {', '.join(map(str, widths[:-1]))} and {widths[-1]}"


def agreement_text(n_agree: int, n_points: int, n_sigma: float, largest: float) -> str:
    """How the census's mean number of attractors compares with the exact Kac-Rice mean.

    >>> agreement_text(12, 12, 3, 1.8)
    'The census agrees with the exact Kac-Rice mean at all 12 widths and depths (every gap within 3 combined standard errors; the largest is 1.8).'
    >>> agreement_text(11, 12, 3, 4.2)
    'The census agrees with the exact Kac-Rice mean at 11 of the 12 widths and depths (gaps within 3 combined standard errors); the largest gap is 4.2 standard errors.'
    >>> agreement_text(0, 2, 3, 9.0)
    'The census agrees with the exact Kac-Rice mean at none of the 2 widths and depths (gaps within 3 combined standard errors); the largest gap is 9 standard errors.'
    """
    where = count_words(n_agree, n_points, "widths and depths")
    if n_agree == n_points:
        return (f"The census agrees with the exact Kac-Rice mean at {where} (every gap within {n_sigma:g} combined "
                f"standard errors; the largest is {largest:.2g}).")
    return (f"The census agrees with the exact Kac-Rice mean at {where} (gaps within {n_sigma:g} combined standard "
            f"errors); the largest gap is {largest:.2g} standard errors.")


def convergence_text(n_configs: int, n_converged: int, max_rounds: int, starts: float) -> str:
    """Whether the attractor counts converged in their starts.

    >>> convergence_text(24, 24, 3, 58.2)
    'In all 24 configurations, doubling the Newton starts stopped moving the mean number of attractors and the share of multistable networks (by less than a quarter of a standard error) after at most 3 rounds, about 58 Newton starts per network.'
    >>> convergence_text(24, 22, 6, 120.0)
    'In 22 of the 24 configurations, doubling the Newton starts stopped moving the mean number of attractors and the share of multistable networks (by less than a quarter of a standard error) after at most 6 rounds, about 120 Newton starts per network; in the others the rounds reached their cap, and their counts are lower bounds.'
    """
    where = count_words(n_converged, n_configs, "configurations")
    text = (f"In {where}, doubling the Newton starts stopped moving the mean number of attractors and the share of "
            f"multistable networks (by less than a quarter of a standard error) after at most {max_rounds} rounds, "
            f"about {starts:.0f} Newton starts per network")
    if n_converged == n_configs:
        return text + "."
    return text + "; in the others the rounds reached their cap, and their counts are lower bounds."


def part_verdict(humps: int, tested: int) -> str:
    """The status word of one reading of the claim, from how many curves show a significant hump.

    >>> part_verdict(0, 7), part_verdict(2, 7), part_verdict(7, 7), part_verdict(0, 0)
    ('not detected', 'partly', 'reproduces', 'not testable here')
    """
    if tested == 0:
        return "not testable here"
    if humps == 0:
        return "not detected"
    return "reproduces" if humps == tested else "partly"


def peak_text(peaks: dict) -> str:
    """Where the share of multistable networks peaks, width by width.

    >>> peak_text({2: 1, 4: 1, 10: 4, 16: 8})
    'its peak moves from L = 1 at N = 2 to L = 8 at N = 16'
    >>> peak_text({2: 1, 4: 1})
    'its peak stays at L = 1 at every width'
    >>> peak_text({10: 8, 16: 4})
    'its peak is at L = 8 at N = 10 and at L = 4 at N = 16'
    """
    widths = sorted(peaks)
    depths = [peaks[w] for w in widths]
    if len(set(depths)) == 1:
        return f"its peak stays at L = {depths[0]} at every width"
    if all(a <= b for a, b in zip(depths, depths[1:])):
        return f"its peak moves from L = {depths[0]} at N = {widths[0]} to L = {depths[-1]} at N = {widths[-1]}"
    return "its peak is " + " and ".join(f"at L = {d} at N = {w}" for w, d in zip(widths, depths))


def claim_verdict(mean_word: str, multi_word: str, multi_widths, all_word: str) -> tuple[str, str]:
    """The chapter's status word and its one-sentence finding (at most 25 words), from the three readings.

    >>> claim_verdict("not detected", "not detected", [], "not detected")
    ('not detected', 'No reading of Q rises and falls significantly: the mean number of attractors climbs towards 1 with depth.')
    >>> claim_verdict("not detected", "partly", [16], "not detected")
    ('partly', 'The share of multistable networks rises and falls with depth at N = 16; the mean number of attractors only climbs towards 1.')
    >>> claim_verdict("not detected", "not detected", [], "reproduces")
    ('partly', 'All fixed points rise and fall with depth; the mean number of attractors only climbs towards 1.')
    >>> claim_verdict("reproduces", "reproduces", [4, 10], "reproduces")
    ('reproduces', 'Every reading of Q rises and falls with depth.')
    """
    words = (mean_word, multi_word, all_word)
    if all(w == "reproduces" for w in words):
        return "reproduces", "Every reading of Q rises and falls with depth."
    tail = "the mean number of attractors only climbs towards 1." if mean_word == "not detected" else \
        "the mean number of attractors rises and falls too."
    if multi_word in ("partly", "reproduces"):
        return "partly", (f"The share of multistable networks rises and falls with depth at {widths_text(multi_widths)}; "
                          f"{tail}")
    if all_word in ("partly", "reproduces"):
        return "partly", f"All fixed points rise and fall with depth; {tail}"
    if mean_word in ("partly", "reproduces"):
        return "partly", "The mean number of attractors rises and falls with depth; multistability does not, significantly."
    return "not detected", ("No reading of Q rises and falls significantly: the mean number of attractors climbs "
                            "towards 1 with depth.")


def how_sure_text(alpha: float, n_curves: int, detectable: dict, networks: dict) -> str:
    """The tests behind the verdict, their level and what they could detect.

    >>> how_sure_text(0.025, 15, {10: 0.041, 16: 0.062}, {10: 1000, 16: 400})
    'Intersection-union hump tests, 15 curves, family-wise level 0.025 (Holm); the share with Q ≥ 2 could show a hump of 0.041 at N = 10 (1000 networks per depth) and 0.062 at N = 16 (400 networks per depth) with power 0.8.'
    >>> how_sure_text(0.025, 3, {}, {})
    'Intersection-union hump tests, 3 curves, family-wise level 0.025 (Holm).'
    """
    text = f"Intersection-union hump tests, {n_curves} curves, family-wise level {alpha:g} (Holm)"
    if not detectable:
        return text + "."
    parts = [f"{detectable[w]:.2g} at N = {w} ({networks[w]} networks per depth)" for w in sorted(detectable)]
    return text + "; the share with Q ≥ 2 could show a hump of " + " and ".join(parts) + " with power 0.8."


def regime_text(widths, depths, kr_widths) -> str:
    """Where the finding holds.

    >>> regime_text([2, 4, 10, 16], [1, 2, 4, 8, 16, 64], [2, 4, 8, 10, 16, 24, 32])
    'Cauchy weights and biases, tanh, weight scale 4/N: attractors counted at widths 2 to 16, depths 1 to 64; their mean by Kac-Rice at widths 2 to 32.'
    """
    return (f"Cauchy weights and biases, tanh, weight scale 4/N: attractors counted at widths {min(widths)} to "
            f"{max(widths)}, depths {min(depths)} to {max(depths)}; their mean by Kac-Rice at widths {min(kr_widths)} "
            f"to {max(kr_widths)}.")


def mean_attractor_text(n_widths: int, n_rising: int, n_humps: int, top_excess: float) -> str:
    """What the exact Kac-Rice means say about a hump in the mean number of attractors.

    >>> mean_attractor_text(7, 7, 0, 0.009)
    'The exact mean number of attractors is higher at the deepest L than at L = 1 at all 7 widths, and no z-test finds a hump (no interior mean lies more than 0.009 above both ends).'
    >>> mean_attractor_text(7, 6, 1, 0.05)
    'The exact mean number of attractors is higher at the deepest L than at L = 1 at 6 of the 7 widths, and the z-tests find a hump at 1 of the 7 widths (an interior mean up to 0.05 above both ends).'
    >>> mean_attractor_text(2, 2, 0, -0.01)
    'The exact mean number of attractors is higher at the deepest L than at L = 1 at all 2 widths, and no z-test finds a hump (no interior mean lies above both ends).'
    """
    rising = count_words(n_rising, n_widths, "widths")
    if n_humps:
        return (f"The exact mean number of attractors is higher at the deepest L than at L = 1 at {rising}, and the "
                f"z-tests find a hump at {count_words(n_humps, n_widths, 'widths')} (an interior mean up to "
                f"{top_excess:.2g} above both ends).")
    above = (f"no interior mean lies more than {top_excess:.2g} above both ends" if top_excess > 0 else
             "no interior mean lies above both ends")
    return (f"The exact mean number of attractors is higher at the deepest L than at L = 1 at {rising}, and no "
            f"z-test finds a hump ({above}).")


def hump_summary(statistic: str, hump_widths, n_curves: int, detectable: dict) -> str:
    """One sentence on the hump tests of one statistic over the widths (details in the table).

    >>> hump_summary("the share with Q ≥ 2", [], 4, {2: 0.05, 4: 0.05, 10: 0.041, 16: 0.062})
    'The share with Q ≥ 2 shows no significant hump at any of the 4 widths; these samples detect humps of 0.041 to 0.062 with power 0.8.'
    >>> hump_summary("the share with Q ≥ 2", [16], 4, {2: 0.05, 16: 0.06})
    'The share with Q ≥ 2 shows a significant hump at N = 16 (1 of the 4 widths).'
    >>> hump_summary("the mean of Q_all", [], 1, {4: float("inf")})
    'The mean of Q_all shows no significant hump, and this sample could not detect one of any size with power 0.8.'
    >>> hump_summary("the mean of Q_all", [], 1, {4: 0.5})
    'The mean of Q_all shows no significant hump; this sample detects a hump of 0.5 with power 0.8.'
    """
    head = statistic[:1].upper() + statistic[1:]
    if hump_widths:
        return f"{head} shows a significant hump at {widths_text(hump_widths)} ({count_words(len(hump_widths), n_curves, 'widths')})."
    finite = sorted(v for v in detectable.values() if v != float("inf"))
    if not finite:
        return f"{head} shows no significant hump, and this sample could not detect one of any size with power 0.8."
    if n_curves == 1:
        return f"{head} shows no significant hump; this sample detects a hump of {finite[0]:.2g} with power 0.8."
    span = f"{finite[0]:.2g}" if finite[0] == finite[-1] else f"{finite[0]:.2g} to {finite[-1]:.2g}"
    return (f"{head} shows no significant hump at any of the {n_curves} widths; these samples detect humps of "
            f"{span} with power 0.8.")


def iteration_text(missed: dict) -> str:
    """How many attractors per network iteration alone misses, by depth (mean Q - Q_iteration).

    >>> iteration_text({1: 0.12, 2: 0.05, 64: 0.0})
    'Iteration alone misses 0.12 attractors per network at L = 1, down to 0 at L = 64: a bias that changes with depth.'
    >>> iteration_text({1: 0.0, 8: 0.0})
    'Iteration alone found every attractor here.'
    """
    if max(missed.values()) == 0:
        return "Iteration alone found every attractor here."
    top = max(missed, key=missed.get)
    low = min(missed, key=missed.get)
    return (f"Iteration alone misses {missed[top]:.2g} attractors per network at L = {top}, down to {missed[low]:.2g} "
            f"at L = {low}: a bias that changes with depth.")
