"""The sentences of chapter 8 (*Applications: restoring damaged digits*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["claim_verdict", "code_verdict", "codes_text", "iteration_text", "how_sure_text", "means_text", "memory_text",
           "regime_text", "restore_verdict", "tests_text", "trend_text"]


def iteration_text(att_psnr, one_pass_psnr, train_distance, train_memorised):
    """What iterating the generalising network to its attractor does, and why.

    >>> iteration_text(7.6, 15.4, 0.62, 0.0)
    'Iterating to the attractor makes things worse than one pass (7.6 dB against 15.4 dB). The reason: the attractors of this network are not digits. Started from a clean training digit, the iteration ends at RMS distance 0.62 from it (median; the pixel range is 1.6), and a fraction 0.00 of training digits lie within 0.05 of their attractor.'
    >>> iteration_text(16.0, 15.4, 0.03, 0.7)
    'Iterating to the attractor does better than one pass (16.0 dB against 15.4 dB). Started from a clean training digit, the iteration ends at RMS distance 0.03 from it (median; the pixel range is 1.6), and a fraction 0.70 of training digits lie within 0.05 of their attractor.'
    """
    where = (f"Started from a clean training digit, the iteration ends at RMS distance {train_distance:.2f} from it "
             f"(median; the pixel range is 1.6), and a fraction {train_memorised:.2f} of training digits lie within "
             "0.05 of their attractor.")
    if att_psnr < one_pass_psnr:
        return (f"Iterating to the attractor makes things worse than one pass ({att_psnr:.1f} dB against "
                f"{one_pass_psnr:.1f} dB). The reason: the attractors of this network are not digits. {where}")
    return f"Iterating to the attractor does better than one pass ({att_psnr:.1f} dB against {one_pass_psnr:.1f} dB). {where}"


def means_text(means):
    """Mean PSNR and accuracy of the damaged digits and of each repair, in words.

    ``means``: indexed by method (``"damaged"`` and the repairs), columns ``psnr`` and ``accuracy``.

    >>> import pandas as pd
    >>> means = pd.DataFrame({"psnr": [14.08, 20.78, 25.3, 11.1], "accuracy": [0.798, 0.882, 0.846, 0.544]},
    ...                      index=["damaged", "one pass F(x)", "attractor", "median filter"])
    >>> means_text(means)
    'PSNR 14.1 dB damaged, 20.8 dB after one pass, 25.3 dB at the attractor and 11.1 dB with the median filter (classifier accuracy 0.80, 0.88, 0.85 and 0.54)'
    """
    names = {"damaged": "damaged", "one pass F(x)": "after one pass", "attractor": "at the attractor",
             "median filter": "with the median filter"}
    psnr = [f"{means.loc[m, 'psnr']:.1f} dB {names[m]}" for m in names]
    acc = [f"{means.loc[m, 'accuracy']:.2f}" for m in names]
    return (f"PSNR {', '.join(psnr[:-1])} and {psnr[-1]} (classifier accuracy {', '.join(acc[:-1])} and "
            f"{acc[-1]})")


def memory_text(sizes, memorised, radii):
    """Per training-set size, the fraction memorised and the median basin radius.

    >>> memory_text([10, 30, 100], [0.9, 0.63, 0.0], [0.5, 0.5, 0.0])
    '10 digits: 0.90 memorised, median basin radius 0.5; 30 digits: 0.63, 0.5; 100 digits: none memorised'
    >>> memory_text([10], [1.0], [0.3])
    '10 digits: 1.00 memorised, median basin radius 0.3'
    """
    parts = []
    for i, (n, f, r) in enumerate(zip(sizes, memorised, radii)):
        if f == 0:
            parts.append(f"{n} digits: none memorised")
        else:
            parts.append(f"{n} digits: {f:.2f} memorised, median basin radius {r:g}" if i == 0 else
                         f"{n} digits: {f:.2f}, {r:g}")
    return "; ".join(parts)


def trend_text(fractions, radii):
    """Whether fewer stored digits means more of them memorised and wider basins.

    >>> trend_text([0.9, 0.63, 0.1], [0.5, 0.3, 0.1])
    'The fewer digits a network stores, the more of them become attractors and the wider their basins.'
    >>> trend_text([0.9, 0.63], [0.3, 0.5])
    'The fewer digits a network stores, the more of them become attractors; their basins are not wider.'
    >>> trend_text([0.6, 0.9], [0.5, 0.5])
    'The fraction memorised does not fall steadily with the number of stored digits here.'
    >>> trend_text([0.9], [0.5])
    ''
    """
    if len(fractions) < 2:
        return ""
    falls = all(b <= a for a, b in zip(fractions, fractions[1:]))
    narrows = all(b <= a for a, b in zip(radii, radii[1:]))
    if falls and narrows:
        return "The fewer digits a network stores, the more of them become attractors and the wider their basins."
    if falls:
        return "The fewer digits a network stores, the more of them become attractors; their basins are not wider."
    return "The fraction memorised does not fall steadily with the number of stored digits here."


def tests_text(network, better, worse, cases, level):
    """The sign tests of one network (attractor against one pass), in words.

    >>> tests_text("memorising", 7, 0, 12, 0.05)
    'For the memorising network the attractor is significantly closer to the clean digit than one pass in 7 of the 12 kinds and strengths of damage, and never significantly farther (family-wise level 0.05).'
    >>> tests_text("generalising", 0, 12, 12, 0.05)
    'For the generalising network the attractor is never significantly closer to the clean digit than one pass, and significantly farther in all 12 kinds and strengths of damage (family-wise level 0.05).'
    >>> tests_text("memorising", 4, 2, 12, 0.05)
    'For the memorising network the attractor is significantly closer to the clean digit than one pass in 4 of the 12 kinds and strengths of damage, and significantly farther in 2 (family-wise level 0.05).'
    >>> tests_text("memorising", 0, 0, 12, 0.05)
    'For the memorising network the attractor is neither significantly closer to the clean digit than one pass nor farther in any of the 12 kinds and strengths of damage (family-wise level 0.05).'
    """
    head = f"For the {network} network the attractor is"
    tail = f"(family-wise level {level:g})."
    if better == 0 and worse == 0:
        return (f"{head} neither significantly closer to the clean digit than one pass nor farther in any of the "
                f"{cases} kinds and strengths of damage {tail}")
    if better == 0:
        many = f"all {cases}" if worse == cases else f"{worse} of the {cases}"
        return (f"{head} never significantly closer to the clean digit than one pass, and significantly farther in "
                f"{many} kinds and strengths of damage {tail}")
    farther = "never significantly farther" if worse == 0 else f"significantly farther in {worse}"
    return (f"{head} significantly closer to the clean digit than one pass in {better} of the {cases} kinds and "
            f"strengths of damage, and {farther} {tail}")


def codes_text(k_good, k_max, beats_pca, n_codes):
    """The bottleneck codes: from which size the digits stay recognisable, and against PCA.

    >>> codes_text(8, 32, 3, 5)
    'The classifier keeps 90 % of its accuracy on clean digits from a code of 8 numbers on, and the nonlinear bottleneck beats PCA of the same size in PSNR for 3 of the 5 code sizes. Encoding and decoding in this sense works without any fixed point.'
    >>> codes_text(None, 32, 0, 3)
    'No code of up to 32 numbers keeps 90 % of the classifier’s accuracy on clean digits, and the nonlinear bottleneck beats PCA of the same size in PSNR for none of the 3 code sizes.'
    """
    versus = (f"the nonlinear bottleneck beats PCA of the same size in PSNR for "
              f"{'none' if beats_pca == 0 else beats_pca} of the {n_codes} code sizes")
    if k_good is None:
        return f"No code of up to {k_max} numbers keeps 90 % of the classifier’s accuracy on clean digits, and {versus}."
    return (f"The classifier keeps 90 % of its accuracy on clean digits from a code of {k_good} numbers on, and "
            f"{versus}. Encoding and decoding in this sense works without any fixed point.")


def restore_verdict(better):
    """Does iterating to the attractor restore better than one pass for some damage (sign tests, Holm)?

    >>> restore_verdict(7), restore_verdict(0)
    ('better for some damage', 'not better')
    """
    return "better for some damage" if better else "not better"


def code_verdict(p_kept, level):
    """Does a damaged stored digit keep its attractor (its code) more often than not, at the weakest damage?

    >>> code_verdict(1e-9, 0.05), code_verdict(0.4, 0.05)
    ('kept', 'not shown')
    """
    return "kept" if p_kept <= level else "not shown"


def claim_verdict(memorising, generalising, code):
    """The status word and the one-sentence finding.

    ``memorising`` and ``generalising`` are the :func:`restore_verdict` of the two networks, ``code``
    the :func:`code_verdict`.

    >>> claim_verdict("better for some damage", "not better", "kept")
    ('partly', 'Iterating to an attractor restores damaged digits better than one pass only where the network memorised them; a network that generalises has spurious attractors.')
    >>> claim_verdict("better for some damage", "better for some damage", "kept")
    ('reproduces', 'Iterating to an attractor restores damaged digits better than one pass, for networks that memorise and for networks that generalise.')
    >>> claim_verdict("better for some damage", "not better", "not shown")
    ('partly', 'Iterating to an attractor restores memorised digits better than one pass, but damaged digits were not shown to keep their attractor as a code.')
    >>> claim_verdict("not better", "not better", "kept")
    ('not detected', 'Iterating to an attractor never restored damaged digits significantly better than one pass through the network.')
    """
    if memorising != "better for some damage":
        return ("not detected", "Iterating to an attractor never restored damaged digits significantly better than one "
                                "pass through the network.")
    if code != "kept":
        return ("partly", "Iterating to an attractor restores memorised digits better than one pass, but damaged "
                          "digits were not shown to keep their attractor as a code.")
    if generalising == "better for some damage":
        return ("reproduces", "Iterating to an attractor restores damaged digits better than one pass, for networks "
                              "that memorise and for networks that generalise.")
    return ("partly", "Iterating to an attractor restores damaged digits better than one pass only where the network "
                      "memorised them; a network that generalises has spurious attractors.")


def how_sure_text(cases, level, n_memorising, n_generalising, kept, n_kept, p_kept):
    """The tests behind the verdict and their levels.

    >>> how_sure_text(12, 0.05, 19, 150, 73, 76, 1e-18)
    'Exact sign tests over the images, attractor against one pass, in both directions for each of the 12 kinds and strengths of damage, Holm at family-wise level 0.05 per network (19 memorised digits, 150 test digits); the code is kept by 73 of 76 weakly damaged digits (binomial test against one half, p below 0.001).'
    >>> how_sure_text(12, 0.05, 3, 150, 2, 4, 0.31).split("; ")[1]
    'the code is kept by 2 of 4 weakly damaged digits (binomial test against one half, p = 0.31).'
    """
    p = "p below 0.001" if p_kept < 0.001 else f"p = {p_kept:.2g}"
    return (f"Exact sign tests over the images, attractor against one pass, in both directions for each of the {cases} "
            f"kinds and strengths of damage, Holm at family-wise level {level:g} per network ({n_memorising} "
            f"memorised digits, {n_generalising} test digits); the code is kept by {kept} of {n_kept} weakly "
            f"damaged digits (binomial test against one half, {p}).")


def regime_text(depth, n_train, sizes):
    """Where the verdict holds.

    >>> regime_text(2, 1348, [10, 30, 100])
    'Tanh autoencoders of depth 2 and width 64 on 8 × 8 digits: one trained on all 1348 training digits, others on 10, 30 and 100 digits; four kinds of damage at three strengths each.'
    >>> regime_text(2, 1348, [10])
    'Tanh autoencoders of depth 2 and width 64 on 8 × 8 digits: one trained on all 1348 training digits, another on 10 digits; four kinds of damage at three strengths each.'
    """
    others = (f"another on {sizes[0]} digits" if len(sizes) == 1 else
              f"others on {', '.join(map(str, sizes[:-1]))} and {sizes[-1]} digits")
    return (f"Tanh autoencoders of depth {depth} and width 64 on 8 × 8 digits: one trained on all {n_train} training "
            f"digits, {others}; four kinds of damage at three strengths each.")
