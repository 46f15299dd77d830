"""The sentences of chapter 7 (*Heavy tails from training?*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["attractor_verdict", "carries_over_text", "cause_verdict", "claim_verdict", "comparison_text",
           "estimators_text", "heavy_text", "heavy_verdict",
           "how_sure_text", "onset_text", "regime_text", "regimes_text", "runs_text", "saturation_text",
           "settling_text", "tail_kind_text", "trend_text", "values_text"]


def _count(n, one, many):
    """``n`` and a noun, singular or plural.

    >>> _count(1, "run", "runs"), _count(0, "run", "runs")
    ('1 run', '0 runs')
    """
    return f"{n} {one if n == 1 else many}"


def runs_text(statuses):
    """What became of the runs of a sweep, from each run's status.

    >>> runs_text(["trained"] * 30)
    'All 30 runs trained (their training loss fell).'
    >>> runs_text(["trained"] * 22 + ["no_progress"] * 6 + ["diverged"] * 2)
    'Of the 30 runs, 22 trained (their training loss fell), 6 made no progress and 2 diverged.'
    >>> runs_text(["trained"] * 8 + ["no_progress"] * 4)
    'Of the 12 runs, 8 trained (their training loss fell) and 4 made no progress.'
    >>> runs_text(["trained"] * 11 + ["diverged"])
    'Of the 12 runs, 11 trained (their training loss fell) and 1 diverged.'
    >>> runs_text(["no_progress"] * 2)
    'None of the 2 runs trained: 2 made no progress.'
    """
    statuses = list(statuses)
    n_runs, n_trained = len(statuses), statuses.count("trained")
    n_no_progress, n_diverged = statuses.count("no_progress"), statuses.count("diverged")
    if n_trained == n_runs:
        return f"All {n_runs} runs trained (their training loss fell)."
    parts = [f"{n_no_progress} made no progress" if n_no_progress else "", f"{n_diverged} diverged" if n_diverged else ""]
    parts = [p for p in parts if p]
    if n_trained == 0:
        return f"None of the {n_runs} runs trained: {' and '.join(parts)}."
    parts.insert(0, f"{n_trained} trained (their training loss fell)")
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Of the {n_runs} runs, {listed}."


def estimators_text(n_agree, n_runs, threshold, esd_min, n_esd_below2):
    """How the other two estimators read the runs that Hill's estimator reads.

    >>> estimators_text(12, 12, 2.0, 1.29, 8)
    'The power-law fit agrees with Hill’s estimator on which side of 2 a run’s heaviest layer lies in all 12 runs. The spectrum exponent goes down to 1.29, and below 2 (WeightWatcher’s “very heavy-tailed”) in 8 runs; with 64 eigenvalues per layer it separates random Gaussian and Cauchy matrices only roughly (the table).'
    >>> estimators_text(40, 45, 2.0, 2.31, 0).split(". ")[1]
    'The spectrum exponent goes down to 2.31, and below 2 (WeightWatcher’s “very heavy-tailed”) in no run; with 64 eigenvalues per layer it separates random Gaussian and Cauchy matrices only roughly (the table).'
    >>> estimators_text(40, 45, 1.7, 2.31, 1).split(". ")[0]
    'The power-law fit agrees with Hill’s estimator on which side of 1.7 a run’s heaviest layer lies in 40 of the 45 runs'
    """
    agree = f"all {n_runs} runs" if n_agree == n_runs else f"{n_agree} of the {n_runs} runs"
    below = "no run" if n_esd_below2 == 0 else _count(n_esd_below2, "run", "runs")
    return (f"The power-law fit agrees with Hill’s estimator on which side of {threshold:g} a run’s heaviest layer lies "
            f"in {agree}. "
            f"The spectrum exponent goes down to {esd_min:.2f}, and below 2 (WeightWatcher’s “very heavy-tailed”) in "
            f"{below}; with 64 eigenvalues per layer it separates random Gaussian and Cauchy matrices only roughly "
            "(the table).")


def regimes_text(final, threshold):
    """Where the heaviest layer ends below the threshold, per optimiser.

    ``final``: one row per run with ``optimizer``, ``hill_min``, ``status``, ``lr`` and ``batch_size``.

    >>> final = pd.DataFrame({"optimizer": ["sgd", "sgd", "sgd", "adam"], "hill_min": [1.5, 1.8, 4.0, 4.2],
    ...                       "status": ["trained", "no_progress", "trained", "trained"],
    ...                       "lr": [3.0, 30.0, 0.3, 0.01], "batch_size": [1, 4, 1, 1]})
    >>> regimes_text(final, 2.0)
    'sgd: 2 of 3 runs (step sizes 3, 30; batch sizes 1, 4), of which 1 trained and 1 made no progress; adam: none of 1 run'
    >>> regimes_text(final.iloc[:1], 2.0)
    'sgd: 1 of 1 run (step size 3; batch size 1), which trained'
    >>> regimes_text(final.iloc[1:2], 2.0)
    'sgd: 1 of 1 run (step size 30; batch size 4), which made no progress'
    """
    parts = []
    for opt, g in final.groupby("optimizer", sort=False):
        heavy = g[g["hill_min"] < threshold]
        if heavy.empty:
            parts.append(f"{opt}: none of {_count(len(g), 'run', 'runs')}")
            continue
        lrs, sizes = sorted(heavy["lr"].unique()), sorted(heavy["batch_size"].unique())
        where = (f"step size{'s' if len(lrs) > 1 else ''} {', '.join(f'{x:g}' for x in lrs)}; "
                 f"batch size{'s' if len(sizes) > 1 else ''} {', '.join(str(int(b)) for b in sizes)}")
        trained = int((heavy["status"] == "trained").sum())
        if len(heavy) == 1:
            fate = "which trained" if trained else "which made no progress"
        else:
            fate = f"of which {trained} trained and {len(heavy) - trained} made no progress"
        parts.append(f"{opt}: {len(heavy)} of {_count(len(g), 'run', 'runs')} ({where}), {fate}")
    return "; ".join(parts)


def trend_text(rho, p, level):
    """The Spearman correlation of the final tail index with step size / batch size, in words.

    >>> trend_text(-0.61, 0.0004, 0.05)
    'Across the runs the final tail index falls as the ratio of step size to batch size grows (Spearman correlation -0.61, p = 0.0004), the direction the theory of heavy tails in SGD predicts.'
    >>> trend_text(0.5, 0.01, 0.05)
    'Across the runs the final tail index rises with the ratio of step size to batch size (Spearman correlation 0.50, p = 0.01), against the direction the theory of heavy tails in SGD predicts.'
    >>> trend_text(-0.16, 0.6, 0.05)
    'Across the runs the final tail index has no significant monotone trend with the ratio of step size to batch size (Spearman correlation -0.16, p = 0.6, level 0.05): heavy tails appear at some large ratios, not along the whole range.'
    """
    stat = f"Spearman correlation {rho:.2f}, p = {p:.1g}"
    if p <= level and rho < 0:
        return (f"Across the runs the final tail index falls as the ratio of step size to batch size grows ({stat}), "
                "the direction the theory of heavy tails in SGD predicts.")
    if p <= level:
        return (f"Across the runs the final tail index rises with the ratio of step size to batch size ({stat}), "
                "against the direction the theory of heavy tails in SGD predicts.")
    return (f"Across the runs the final tail index has no significant monotone trend with the ratio of step size to "
            f"batch size ({stat}, level {level:g}): heavy tails appear at some large ratios, not along the whole "
            "range.")


def settling_text(n_settled, n_runs, n_falling, n_rising, previous_step):
    """Whether the heaviest layer's index still moved over the last checkpoint interval.

    >>> settling_text(12, 12, 0, 0, 354)
    'Between step 354 and the last step the index of every run changed by less than its own standard error: it has settled.'
    >>> settling_text(5, 12, 7, 0, 354)
    'Between step 354 and the last step the index of 5 of the 12 runs changed by less than its own standard error; in the other 7 it is still falling.'
    >>> settling_text(0, 12, 9, 3, 354)
    'Between step 354 and the last step the index of none of the 12 runs changed by less than its own standard error; in 9 it is still falling, in 3 rising.'
    >>> settling_text(10, 12, 0, 2, 354)
    'Between step 354 and the last step the index of 10 of the 12 runs changed by less than its own standard error; in the other 2 it is still rising.'
    """
    head = f"Between step {previous_step} and the last step the index of"
    if n_settled == n_runs:
        return f"{head} every run changed by less than its own standard error: it has settled."
    which = "none" if n_settled == 0 else str(n_settled)
    if n_falling and n_rising:
        moving = f"in {n_falling} it is still falling, in {n_rising} rising"
    else:
        moving = f"in the other {n_falling or n_rising} it is still {'falling' if n_falling else 'rising'}"
    return f"{head} {which} of the {n_runs} runs changed by less than its own standard error; {moving}."


def onset_text(first, last, early=10):
    """When the heaviest layers first fell below the threshold (checkpoint steps), in words.

    >>> onset_text(7, 2500)
    'The heavy tails set in between step 7 and step 2500 (the first checkpoint below the threshold). Where a tail is there after a handful of steps, the first few large updates made it, not the slow build-up under multiplicative noise that the theory describes.'
    >>> onset_text(354, 2500)
    'The heavy tails set in between step 354 and step 2500 (the first checkpoint below the threshold): they build up over training.'
    >>> onset_text(2500, 2500)
    'The heavy tails set in at step 2500 (the first checkpoint below the threshold): they build up over training.'
    >>> onset_text(None, None)
    ''
    """
    if first is None:
        return ""
    when = f"at step {first}" if first == last else f"between step {first} and step {last}"
    head = f"The heavy tails set in {when} (the first checkpoint below the threshold)"
    if first <= early:
        return (f"{head}. Where a tail is there after a handful of steps, the first few large updates made it, not the "
                "slow build-up under multiplicative noise that the theory describes.")
    return f"{head}: they build up over training."


def values_text(label, values, digits=2):
    """A short list ``label = key: value`` of medians per depth or width.

    >>> values_text("L", {1: 2.551, 2: 1.97, 4: 3.78})
    'L = 1: 2.55, L = 2: 1.97, L = 4: 3.78'
    >>> values_text("N", {64: 1.5}, digits=1)
    'N = 64: 1.5'
    """
    return ", ".join(f"{label} = {k}: {v:.{digits}f}" for k, v in values.items())


def heavy_text(n_heavy, n_trained, n_offdiag, threshold):
    """Which networks ended heavy-tailed, with the untrained ones flagged.

    >>> heavy_text(13, 8, 13, 2.0)
    '13 networks end with a layer whose Hill index is below 2, and in all of them the heavy tail remains without the diagonal entries. Only 8 of the 13 trained: the other 5 made no progress (their loss ended above where it started), so their tails come with saturated units, not with learning; the tables mark them.'
    >>> heavy_text(7, 6, 7, 2.0).split(": ")[1]
    'the other one made no progress (its loss ended above where it started), so its tail comes with saturated units, not with learning; the tables mark it.'
    >>> heavy_text(7, 7, 6, 2.0)
    '7 networks end with a layer whose Hill index is below 2, and in 6 of them the heavy tail remains without the diagonal entries. All 7 trained.'
    >>> heavy_text(1, 0, 0, 2.0)
    '1 network ends with a layer whose Hill index is below 2, and its heavy tail goes without the diagonal entries. It made no progress (its loss ended above where it started), so its tail comes with saturated units, not with learning.'
    >>> heavy_text(0, 0, 0, 2.0)
    'No network ends with a layer whose Hill index is below 2.'
    """
    if n_heavy == 0:
        return f"No network ends with a layer whose Hill index is below {threshold:g}."
    if n_heavy == 1:
        diagonal = f"and its heavy tail {'remains' if n_offdiag else 'goes'} without the diagonal entries."
    else:
        which = "all" if n_offdiag == n_heavy else "none" if n_offdiag == 0 else str(n_offdiag)
        diagonal = f"and in {which} of them the heavy tail remains without the diagonal entries."
    head = f"{_count(n_heavy, 'network ends', 'networks end')} with a layer whose Hill index is below {threshold:g}, {diagonal}"
    if n_trained == n_heavy:
        return f"{head} {'All ' + str(n_heavy) if n_heavy > 1 else 'It'} trained."
    if n_heavy == 1:
        return (f"{head} It made no progress (its loss ended above where it started), so its tail comes with "
                "saturated units, not with learning.")
    if n_heavy - n_trained == 1:
        return (f"{head} Only {n_trained} of the {n_heavy} trained: the other one made no progress (its loss ended "
                "above where it started), so its tail comes with saturated units, not with learning; the tables mark "
                "it.")
    return (f"{head} Only {n_trained} of the {n_heavy} trained: the other {n_heavy - n_trained} made no progress "
            "(their loss ended above where it started), so their tails come with saturated units, not with learning; "
            "the tables mark them.")


def tail_kind_text(max_ratio, cauchy_low):
    """Whether the heaviest layers reach the extremes of random Cauchy matrices.

    >>> tail_kind_text(31.5, 742.0)
    'No heavy-tailed layer reaches the extremes of random Cauchy matrices: the largest ratio stays below the 2.5 % quantile of the Cauchy ratio (742). The tails that training made are heavy in the sense of the threshold, but truncated: they leave the Gaussian law early and end long before a Cauchy law does.'
    >>> tail_kind_text(900.0, 742.0)
    'The heaviest layers reach the extremes of random Cauchy matrices: the largest ratio is above the 2.5 % quantile of the Cauchy ratio (742).'
    >>> tail_kind_text(None, 742.0)
    ''
    """
    if max_ratio is None:
        return ""
    if max_ratio < cauchy_low:
        return ("No heavy-tailed layer reaches the extremes of random Cauchy matrices: the largest ratio stays below "
                f"the 2.5 % quantile of the Cauchy ratio ({cauchy_low:.0f}). The tails that training made are heavy "
                "in the sense of the threshold, but truncated: they leave the Gaussian law early and end long before "
                "a Cauchy law does.")
    return ("The heaviest layers reach the extremes of random Cauchy matrices: the largest ratio is above the 2.5 % "
            f"quantile of the Cauchy ratio ({cauchy_low:.0f}).")


def comparison_text(control, n_greater, n_less, n_ties, p_holm):
    """One paired comparison of Q, trained against a control.

    >>> comparison_text("shuffled", 7, 0, 0, 0.031)
    'against its shuffled control, the trained network has more attractors in 7 pairs, fewer in 0 and as many in 0 (Holm-adjusted p = 0.031)'
    >>> comparison_text("i.i.d.", 1.0, 1.0, 1.0, 1.0)
    'against its i.i.d. control, the trained network has more attractors in 1 pair, fewer in 1 and as many in 1 (Holm-adjusted p = 1)'
    >>> comparison_text("shuffled", 0, 0, 0, 1.0)
    'there is no pair to compare with a shuffled control'
    """
    n_greater, n_less, n_ties = int(n_greater), int(n_less), int(n_ties)
    if n_greater + n_less + n_ties == 0:
        return f"there is no pair to compare with a {control} control"
    return (f"against its {control} control, the trained network has more attractors in "
            f"{_count(n_greater, 'pair', 'pairs')}, fewer in {n_less} and as many in {n_ties} "
            f"(Holm-adjusted p = {p_holm:.2g})")


def saturation_text(n_saturated, n_networks, n_starts):
    """Which attractor counts are lower bounds (Good-Turing unseen mass at least one half).

    >>> saturation_text(0, 40, 128)
    'No count is saturated: in every network most of the 128 starts reached an attractor that another start reached too.'
    >>> saturation_text(12, 40, 128)
    '12 of the 40 counts are saturated: in those networks at least half of the 128 starts reached an attractor no other start reached, so most attractors were not seen and Q is a lower bound (a count equal to the number of starts is the extreme case); a star marks them in the table of counts.'
    >>> saturation_text(3, 3, 32)
    'Every count is saturated: in every network at least half of the 32 starts reached an attractor no other start reached, so most attractors were not seen and Q is a lower bound (a count equal to the number of starts is the extreme case).'
    """
    tail = ("reached an attractor no other start reached, so most attractors were not seen and Q is a lower bound "
            "(a count equal to the number of starts is the extreme case)")
    if n_saturated == 0:
        return (f"No count is saturated: in every network most of the {n_starts} starts reached an attractor that "
                "another start reached too.")
    if n_saturated == n_networks:
        return f"Every count is saturated: in every network at least half of the {n_starts} starts {tail}."
    return (f"{n_saturated} of the {n_networks} counts are saturated: in those networks at least half of the "
            f"{n_starts} starts {tail}; a star marks them in the table of counts.")


def heavy_verdict(n_heavy, n_heavy_trained):
    """Part 1 of the claim: do heavy tails arise in training?

    >>> heavy_verdict(13, 8), heavy_verdict(3, 0), heavy_verdict(0, 0)
    ('arise in trained networks', 'arise only where training failed', 'do not arise')
    """
    if n_heavy_trained:
        return "arise in trained networks"
    return "arise only where training failed" if n_heavy else "do not arise"


def attractor_verdict(n_networks, p_several, level):
    """Part 2: do the heavy-tailed networks have several attractors (most with Q >= 2, sign test)?

    >>> attractor_verdict(13, 0.0001, 0.05), attractor_verdict(13, 0.3, 0.05), attractor_verdict(0, 1.0, 0.05)
    ('several', 'not detected', 'not testable')
    """
    if n_networks == 0:
        return "not testable"
    return "several" if p_several <= level else "not detected"


def cause_verdict(n_pairs, reject_shuffled, reject_iid):
    """Part 3: are the attractors due to the tails? Trained against its controls (sign tests, Holm).

    >>> cause_verdict(13, True, True), cause_verdict(13, True, False), cause_verdict(13, False, True)
    ('the learnt arrangement, not the tails', 'partly the arrangement', 'partly the arrangement')
    >>> cause_verdict(13, False, False), cause_verdict(0, False, False)
    ('not separated', 'not testable')
    """
    if n_pairs == 0:
        return "not testable"
    if reject_shuffled and reject_iid:
        return "the learnt arrangement, not the tails"
    return "partly the arrangement" if reject_shuffled or reject_iid else "not separated"


def carries_over_text(cause, truncated):
    """What the later chapters can take from this one: the cause verdict and the kind of tail.

    ``truncated``: whether every heavy-tailed layer stays below the extremes of random Cauchy matrices
    (None: no heavy-tailed layer).

    >>> carries_over_text("the learnt arrangement, not the tails", True)
    'What carries over: in trained networks of this kind the tail index alone does not say how many attractors a network has; what was learnt does. The tails that training made here are truncated, not Cauchy-like, so the heavy-tailed random networks of chapters 3 and 4 are not what training produced.'
    >>> carries_over_text("partly the arrangement", False)
    'What carries over: the tail index explains the attractors of these networks only in part. Some heavy-tailed layers reach the extremes of random Cauchy matrices.'
    >>> carries_over_text("not separated", True).split(". ")[0]
    'What carries over: controls with the same tails have as many attractors as the trained networks, so here the tails may be what matters'
    >>> carries_over_text("not testable", None)
    'Nothing carries over: no network became heavy-tailed.'
    """
    if truncated is None:
        return "Nothing carries over: no network became heavy-tailed."
    cause_part = {
        "the learnt arrangement, not the tails": "in trained networks of this kind the tail index alone does not say "
                                                 "how many attractors a network has; what was learnt does.",
        "partly the arrangement": "the tail index explains the attractors of these networks only in part.",
    }.get(cause, "controls with the same tails have as many attractors as the trained networks, so here the tails "
                 "may be what matters.")
    tail_part = ("The tails that training made here are truncated, not Cauchy-like, so the heavy-tailed random "
                 "networks of chapters 3 and 4 are not what training produced." if truncated else
                 "Some heavy-tailed layers reach the extremes of random Cauchy matrices.")
    return f"What carries over: {cause_part} {tail_part}"


def claim_verdict(heavy, attractors, cause):
    """The status word and the one-sentence finding, from the three parts' verdicts.

    >>> claim_verdict("arise in trained networks", "several", "the learnt arrangement, not the tails")
    ('partly', 'Heavy tails arise in training and those networks have several attractors, but the attractors come from what was learnt, not from the tails.')
    >>> claim_verdict("arise in trained networks", "several", "partly the arrangement")
    ('partly', 'Heavy tails arise in training and those networks have several attractors, which one of the two controls loses: the tails explain them only in part.')
    >>> claim_verdict("arise in trained networks", "several", "not separated")
    ('reproduces', 'Heavy tails arise in training, and those networks and their controls with the same tails have several attractors.')
    >>> claim_verdict("arise only where training failed", "several", "not separated")
    ('partly', 'Heavy tails arise only in runs that failed to train; those networks have several attractors.')
    >>> claim_verdict("arise in trained networks", "not detected", "not separated")
    ('not detected', 'Heavy tails arise in training, but most of those networks were not shown to have two or more attractors.')
    >>> claim_verdict("do not arise", "not testable", "not testable")
    ('not detected', 'No layer became heavy-tailed in the training regimes swept, so the attractors of such networks could not be counted.')
    """
    if heavy == "do not arise":
        return ("not detected", "No layer became heavy-tailed in the training regimes swept, so the attractors of such "
                                "networks could not be counted.")
    if attractors != "several":
        return ("not detected", "Heavy tails arise in training, but most of those networks were not shown to have "
                                "two or more attractors.")
    if heavy != "arise in trained networks":
        return "partly", "Heavy tails arise only in runs that failed to train; those networks have several attractors."
    if cause == "the learnt arrangement, not the tails":
        return ("partly", "Heavy tails arise in training and those networks have several attractors, but the "
                          "attractors come from what was learnt, not from the tails.")
    if cause == "partly the arrangement":
        return ("partly", "Heavy tails arise in training and those networks have several attractors, which one of "
                          "the two controls loses: the tails explain them only in part.")
    return ("reproduces", "Heavy tails arise in training, and those networks and their controls with the same tails "
                          "have several attractors.")


def how_sure_text(n_pairs, n_several, p_several, level, p_shuffled, p_iid, n_saturated, n_untrained):
    """The tests behind the verdict, their levels, and what limits them.

    >>> how_sure_text(13, 12, 0.0017, 0.05, 0.0002, 0.0002, 2, 5)
    'Sign test that most of the 13 heavy-tailed networks have two or more attractors (12 do; p = 0.0017, level 0.05); exact sign tests of trained against shuffled and i.i.d. controls, Holm at family-wise level 0.05 (adjusted p 0.0002 and 0.0002). 2 counts are saturated (lower bounds) and 5 of the networks did not train.'
    >>> how_sure_text(7, 7, 0.0078, 0.05, 0.031, 0.031, 0, 0)
    'Sign test that most of the 7 heavy-tailed networks have two or more attractors (7 do; p = 0.0078, level 0.05); exact sign tests of trained against shuffled and i.i.d. controls, Holm at family-wise level 0.05 (adjusted p 0.031 and 0.031). No count is saturated and every network trained.'
    >>> how_sure_text(0, 0, 1.0, 0.05, 1.0, 1.0, 0, 0)
    'No network became heavy-tailed, so no test could be made.'
    """
    if n_pairs == 0:
        return "No network became heavy-tailed, so no test could be made."
    flags = (f"{'No count is' if n_saturated == 0 else _count(n_saturated, 'count is', 'counts are')} saturated"
             f"{'' if n_saturated == 0 else ' (lower bounds)'} and "
             f"{'every network trained' if n_untrained == 0 else f'{n_untrained} of the networks did not train'}.")
    return (f"Sign test that most of the {n_pairs} heavy-tailed networks have two or more attractors ({n_several} do; "
            f"p = {p_several:.2g}, level {level:g}); exact sign tests of trained against shuffled and i.i.d. controls, "
            f"Holm at family-wise level {level:g} (adjusted p {p_shuffled:.2g} and {p_iid:.2g}). {flags}")


def regime_text(n_runs, steps, depth, depths, widths, threshold, n_starts):
    """Where the verdict holds: the networks and the regimes trained.

    >>> regime_text(45, "20 000", 2, [1, 2, 4, 8], [16, 32, 64], 2.0, 128)
    'Tanh networks trained as denoising autoencoders on 8 × 8 digits: 45 runs of 20 000 steps at depth 2 and width 64 over optimiser, step size and batch size, then depths 1 to 8 and widths 16 to 64 in the heaviest-tailed regime; heavy-tailed means a Hill index below 2; 128 starts per network.'
    >>> regime_text(12, "2 500", 2, [2], [64], 2.0, 32).split("; ")[0][-61:]
    'size, then depth 2 and width 64 in the heaviest-tailed regime'
    """
    span = lambda name, xs: (f"{name}s {min(xs)} to {max(xs)}" if len(set(xs)) > 1 else f"{name} {xs[0]}")
    return (f"Tanh networks trained as denoising autoencoders on 8 × 8 digits: {n_runs} runs of {steps} steps at "
            f"depth {depth} and width 64 over optimiser, step size and batch size, then {span('depth', depths)} and "
            f"{span('width', widths)} in the heaviest-tailed regime; heavy-tailed means a Hill index below "
            f"{threshold:g}; {n_starts} starts per network.")
