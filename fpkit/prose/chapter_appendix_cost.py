"""The sentences of the appendix *What the engine costs*, as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["census_cost_text", "census_pages_text", "page_label", "pages_text", "slope_text", "times_text"]


def page_label(stem):
    """A page of the book by its file stem, as the appendix's table names it.

    >>> page_label("04_q_of_l"), page_label("05b_kac_rice"), page_label("appendix_hump_test")
    ('chapter 4', 'chapter 5b', 'appendix: hump test')
    >>> page_label("intro")
    'intro'
    """
    prefix, _, rest = stem.partition("_")
    if prefix[:1].isdigit():
        return f"chapter {prefix.lstrip('0') or '0'}"
    if prefix == "appendix" and rest:
        return f"appendix: {rest.replace('_', ' ')}"
    return stem


def pages_text(labels):
    """Page labels as a list in words.

    >>> pages_text([])
    'no page'
    >>> pages_text(["chapter 4"])
    'chapter 4'
    >>> pages_text(["chapter 4", "chapter 7"])
    'chapter 4 and chapter 7'
    >>> pages_text(["chapter 4", "chapter 7", "appendix: cost"])
    'chapter 4, chapter 7 and appendix: cost'
    """
    labels = [str(x) for x in labels]
    if not labels:
        return "no page"
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def census_pages_text(labels, share, minutes):
    """The pages that run a census and their share of the book's full-size time, as one sentence.

    >>> census_pages_text([], 0.0, 31.4)
    'No page of the book runs a census: all of its recorded 31 minutes go to other computations.'
    >>> census_pages_text(["chapter 4"], 0.23, 31.4)
    "One page runs a census (chapter 4), with 23 % of the book's recorded 31 minutes."
    >>> census_pages_text(["chapter 4", "chapter 3"], 0.45, 31.4)
    "2 pages run a census (chapter 4 and chapter 3), with 45 % of the book's recorded 31 minutes."
    """
    if not labels:
        return (f"No page of the book runs a census: all of its recorded {minutes:.0f} minutes go to "
                "other computations.")
    count = "One page runs" if len(labels) == 1 else f"{len(labels)} pages run"
    return (f"{count} a census ({pages_text(labels)}), with {100 * share:.0f} % of the book's recorded "
            f"{minutes:.0f} minutes.")


def times_text(ratio, *, within=0.05):
    """How fast one method ran against another, from the ratio of their times (other / this).

    Within ``within`` of 1 the two count as equally fast: timings of one run do not resolve less.

    >>> times_text(41.7)
    '42 times faster than'
    >>> times_text(1.62)
    '1.6 times faster than'
    >>> times_text(1.03)
    'about as fast as'
    >>> times_text(0.5)
    '2.0 times slower than'
    """
    ratio = float(ratio)
    if abs(ratio - 1) <= within:
        return "about as fast as"
    faster = ratio > 1
    factor = ratio if faster else 1 / ratio
    digits = 0 if factor >= 10 else 1
    return f"{factor:.{digits}f} times {'faster' if faster else 'slower'} than"


def slope_text(slope, law, *, within=0.15):
    """A measured slope of the time per step against the slope of the products' law.

    >>> slope_text(1.93, 2)
    '1.93, close to the law of the products, 2'
    >>> slope_text(1.41, 2)
    '1.41, below the law of the products, 2'
    >>> slope_text(1.30, 1)
    '1.30, above the law of the products, 1'
    """
    slope = float(slope)
    if abs(slope - law) <= within:
        where = "close to"
    else:
        where = "below" if slope < law else "above"
    return f"{slope:.2f}, {where} the law of the products, {law:g}"


def census_cost_text(ratio):
    """What the census costs on the example, from the ratio of its time to the attractor search's.

    >>> census_cost_text(4.8)
    'the search with the census took 4.8 times as long as the attractor search: the census was 79 % of the time of a network that gets one.'
    >>> census_cost_text(25.6)
    'the search with the census took 26 times as long as the attractor search: the census was 96 % of the time of a network that gets one.'
    >>> census_cost_text(1.02)
    'the search with the census took about as long as the attractor search: the census added no measurable time.'
    >>> census_cost_text(0.9)
    'the search with the census took about as long as the attractor search: the census added no measurable time.'
    """
    ratio = float(ratio)
    if ratio <= 1.05:
        return ("the search with the census took about as long as the attractor search: "
                "the census added no measurable time.")
    times = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
    return (f"the search with the census took {times} times as long as the attractor search: "
            f"the census was {100 * (1 - 1 / ratio):.0f} % of the time of a network that gets one.")
