"""One figure style for the book, and the helpers the chapters share.

* :func:`chapter_setup` - the book's seaborn style, warnings as errors, what a chapter prints first;
* :func:`book_figure`, :func:`glue_figure` - figures made for the book's text column, numbered and
  captioned by ``{glue:figure}``, with a full-resolution image a reader can open;
* :func:`book_table`, :func:`format_significant` - tables that fit the column (few columns, three
  significant digits, no index), the full data as a CSV download;
* :func:`glue_claim` - a chapter's status word and one-sentence finding, for its answer box and the
  introduction's claim table (:data:`CLAIM_STATUSES`);
* :func:`law_palette` - one colour per weight law, the same in every chapter;
* :func:`plot_bootstrap_bands` - curves of :func:`fpkit.stats.bootstrap_curve` with their bands;
* :func:`plot_basin_map` - a basin map of :func:`fpkit.engine.basin_map` with its fixed points;
* :func:`glue`, :func:`glued` - numbers for the prose.

Sizes are physical: a figure ``w`` inches wide is meant to be shown ``96 w`` CSS pixels wide (CSS
has 96 px to the inch). The book's text column is :data:`COLUMN_WIDTH_PX` = 688 CSS px wide in a
1280 px window, so a figure of at most :data:`MAX_FIGURE_WIDTH` = 7.5 in is shown at 0.96 of its
physical size or more, and a font of :data:`MIN_FONT_SIZE` = 9 pt stays at least 8.6 pt.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CLAIM_STATUSES", "COLUMN_WIDTH_PX", "CSS_PX_PER_INCH", "FIGURE_WIDTH", "FIGURE_ZOOM", "MAX_BASIN_LABEL",
           "MAX_FIGURE_WIDTH", "MAX_FINDING_WORDS", "MAX_PANELS_PER_ROW", "MAX_TABLE_COLUMNS", "MIN_FONT_SIZE", "BookTable", "GluedFigure",
           "GluedText", "Provenance", "book_figure", "book_table", "chapter_setup", "format_significant", "glue",
           "glue_claim", "glue_figure", "glued", "law_palette", "plot_basin_map", "plot_bootstrap_bands"]

#: CSS pixels per inch, the CSS reference pixel; a figure ``w`` inches wide has a physical width of ``96 w`` px.
CSS_PX_PER_INCH = 96
#: Width of the book's text column in CSS px at a 1280 px window (sphinx-book-theme).
COLUMN_WIDTH_PX = 688
#: Default width of a figure in inches; 672 CSS px, shown at its physical size in the column.
FIGURE_WIDTH = 7.0
#: Widest figure in inches the helpers accept; 720 CSS px, shown at 688 / 720 = 0.96 of its physical size.
MAX_FIGURE_WIDTH = 7.5
#: Smallest font in points, at the figure's physical size, that :func:`glue_figure` accepts.
MIN_FONT_SIZE = 9.0
#: Image pixels per CSS pixel of a glued figure; 2 is sharp on dense screens and when enlarged.
FIGURE_ZOOM = 2
#: Panels per row of :func:`book_figure`; three panels of 2.3 in are the narrowest that stay legible.
MAX_PANELS_PER_ROW = 3
#: Columns of :func:`book_table` (the full data goes to its CSV download).
MAX_TABLE_COLUMNS = 8
#: Words of a claim's one-sentence finding (:func:`glue_claim`).
MAX_FINDING_WORDS = 25

#: The status words of the introduction's claim table, with their meaning (the table's legend).
CLAIM_STATUSES = {
    "reproduces": "the book's data support the claim as stated, in the regime stated",
    "partly": "part of the claim holds and part does not, or it holds in part of the regime only; "
              "the sentence says which",
    "not detected": "the book looked for the effect and did not find it at its sample size; the chapter "
                    "states the smallest effect it could have detected",
    "not testable here": "what the abstracts specify, or what the book can compute, does not allow a test",
}

#: Font sizes (pt) of the book's style: every text of a figure is at least MIN_FONT_SIZE at its physical size.
_BOOK_RC = {
    "font.size": 10.0, "axes.titlesize": 10.0, "axes.labelsize": 10.0, "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0, "legend.fontsize": 9.0, "legend.title_fontsize": 9.0, "figure.titlesize": 10.5,
    "figure.dpi": CSS_PX_PER_INCH, "savefig.dpi": CSS_PX_PER_INCH * FIGURE_ZOOM,
    "figure.figsize": (FIGURE_WIDTH, 3.4), "mathtext.fontset": "dejavusans",
}

#: Colours by law label, shared by all chapters so a law looks the same everywhere.
_LAW_COLOURS = {
    "Gaussian": "#1f77b4",
    "Cauchy": "#d62728",
}


class Provenance(dict):
    """What produced a page: ``fpkit`` version, ``source`` hash and ``backend``; prints as one line."""

    def __repr__(self) -> str:
        return f"fpkit {self['fpkit']}, source {self['source']}, {self['backend']} backend"

    __str__ = __repr__


def chapter_setup() -> Provenance:
    """Set the book's figure style and make numerical warnings errors in a chapter.

    The style: seaborn's whitegrid with the colorblind palette, fonts of 9-10.5 pt (legible at a
    figure's physical size, see the module doc), 96 dpi on screen, and inline figures at twice
    that resolution with their physical width attached (``retina``), so the book shows them at
    their physical size and links each to its full-resolution image.

    Returns the facts a chapter prints in its first cell (fpkit version and source hash,
    backend) so that a rebuilt page shows which code produced it.
    """
    import matplotlib
    import matplotlib.pyplot  # noqa: F401  (activates the inline backend in a kernel before the rc below)
    import seaborn as sns

    from . import __version__, source_hash
    from .backend import backend_name

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update(_BOOK_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - a chapter always runs in IPython
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        set_matplotlib_formats("retina")
    # A RuntimeWarning (overflow, invalid value) in a chapter is a bug: fail the build.
    warnings.simplefilter("error", RuntimeWarning)
    return Provenance(fpkit=__version__, source=source_hash(), backend=backend_name())


def book_figure(nrows: int = 1, ncols: int = 1, *, width: float = FIGURE_WIDTH, height: float | None = None,
                **subplots_kw):
    """A figure sized for the book's text column, its panels in a grid (constrained layout).

    Parameters
    ----------
    nrows, ncols : int
        The grid of panels; at most :data:`MAX_PANELS_PER_ROW` (3) per row: more panels go into
        more rows.
    width : float
        Physical width in inches, at most :data:`MAX_FIGURE_WIDTH` (7.5); the default 7.0 is shown
        at its physical size in the column.
    height : float, optional
        Physical height in inches (up to 9). Default: ``nrows`` times a panel height of three
        quarters of a panel's width, between 2.2 and 3.4 in.
    **subplots_kw
        Passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``sharey``, ``gridspec_kw``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : matplotlib.axes.Axes or array of them, shape (nrows, ncols) squeezed as by ``subplots``

    Examples
    --------
    >>> fig, (ax_left, ax_right) = book_figure(ncols=2)
    >>> tuple(round(float(x), 2) for x in fig.get_size_inches())
    (7.0, 2.62)
    """
    import matplotlib.pyplot as plt

    from . import _validate as v

    nrows = v.check_int(nrows, "nrows", minimum=1, maximum=6)
    ncols = v.check_int(ncols, "ncols", minimum=1, maximum=MAX_PANELS_PER_ROW)
    width = v.check_real(width, "width", low=1.0, high=MAX_FIGURE_WIDTH)
    if height is None:
        height = nrows * min(max(0.75 * width / ncols, 2.2), 3.4)
    height = v.check_real(height, "height", low=1.0, high=9.0)
    subplots_kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), **subplots_kw)


class GluedFigure:
    """A figure rendered for the book: a PNG at :data:`FIGURE_ZOOM` times the CSS resolution whose
    display width is its physical width (the width in the image's metadata and in its ``pHYs``
    resolution agree), so myst-nb shows it at its physical size and Sphinx links it to the image.
    """

    def __init__(self, png: bytes, width_px: int, name: str):
        self.png, self.width_px, self.name = png, width_px, name

    def _repr_png_(self):
        return self.png, {"width": self.width_px}

    def __repr__(self) -> str:
        return f"figure {self.name} ({self.width_px / CSS_PX_PER_INCH:.2f} in wide)"


def _illegible_texts(fig) -> list[str]:
    """The visible texts of ``fig`` (drawn first) smaller than MIN_FONT_SIZE, as 'text' (size pt),
    and the annotations (texts placed in axes or on the figure: a heat map's cell values) that
    cover each other by more than a fifth of the smaller one, as 'text' / 'text'."""
    from matplotlib.text import Text

    visible = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    problems = [f"{t.get_text()[:40]!r} ({t.get_fontsize():g} pt)" for t in visible
                if t.get_fontsize() < MIN_FONT_SIZE - 1e-9]
    notes = [t for t in [*fig.texts, *(t for ax in fig.axes for t in ax.texts)] if t in visible]
    boxes = np.array([t.get_window_extent().extents for t in notes]).reshape(-1, 4)  # any canvas's renderer
    low, high = boxes[:, :2], boxes[:, 2:]
    side = np.clip(np.minimum(high[:, None], high[None]) - np.maximum(low[:, None], low[None]), 0, None)
    area = np.prod(high - low, axis=1)
    covered = np.triu(side.prod(axis=2) > 0.2 * np.minimum(area[:, None], area[None]), k=1)
    problems += [f"{notes[i].get_text()[:20]!r} / {notes[j].get_text()[:20]!r} overlap" for i, j in np.argwhere(covered)]
    return problems


def glue_figure(name: str, fig) -> None:
    """Glue a figure for ``{glue:figure}`` (numbered, captioned, click to enlarge) and close it.

    The figure is refused (ValueError) if a visible text is smaller than :data:`MIN_FONT_SIZE`,
    if two annotations cover each other (a heat map with a value in every small cell), or
    if it is wider than :data:`MAX_FIGURE_WIDTH` once cropped to its contents (a text outside
    the figure widens it): each would be unreadable or shrunk in the column. It is saved with its
    contents' bounding box at ``FIGURE_ZOOM * 96`` dpi (recorded in the PNG), with a display width
    of its physical width, and closed, so it appears only where the page pastes it::

        ```{glue:figure} fig-laws
        :name: fig-laws

        **What to see.** The caption ...
        ```

    Parameters
    ----------
    name : str
        Glue key (use the figure's ``:name:``, e.g. ``"fig-laws"``).
    fig : matplotlib.figure.Figure
        Best made with :func:`book_figure`.

    Nothing is returned, so the cell shows nothing: the glued :class:`GluedFigure` is the PNG
    bytes and ``width_px``, its physical width in CSS px.
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from myst_nb import glue as _glue

    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r:.60}")
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    buffer = io.BytesIO()
    dpi = CSS_PX_PER_INCH * FIGURE_ZOOM
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04, metadata={"Software": None})
    problems = _illegible_texts(fig)
    if problems:
        raise ValueError(f"figure {name!r} is unreadable in the book's column (texts below {MIN_FONT_SIZE:g} pt or "
                         f"on top of each other): {', '.join(problems[:6])}; keep the fonts of chapter_setup, give "
                         "texts room, put a heat map's values in a table")
    png = buffer.getvalue()
    width_px = int.from_bytes(png[16:20], "big")  # the IHDR chunk: width, then height
    width_in = width_px / dpi
    if width_in > MAX_FIGURE_WIDTH + 0.01:
        raise ValueError(f"figure {name!r} is {width_in:.2f} in wide with its contents (at most {MAX_FIGURE_WIDTH:g} in "
                         "fit the column): make it narrower or move its legend inside")
    glued_figure = GluedFigure(png, round(width_px / FIGURE_ZOOM), name)
    _glue(name, glued_figure, display=False)
    plt.close(fig)


def format_significant(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits, as a table or a sentence shows it.

    Exact values with fewer digits are shown as they are (``1.5``, ``20000``); others keep their
    trailing zeros (``0.100``); below 0.001 and from 1e6 on in scientific notation (``1.23e-5``);
    NaN as an en dash, infinities as ``∞``. Integers are shown in full.

    Examples
    --------
    >>> [format_significant(x) for x in (0.12345, 1.5, 20000.0, 0.1004, -0.0123456, 123456.7, 1.234e-5, 0.0, 7)]
    ['0.123', '1.5', '20000', '0.100', '-0.0123', '123000', '1.23e-5', '0', '7']
    """
    from . import _validate as v

    digits = v.check_int(digits, "digits", minimum=1, maximum=15)
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be a real number; got {value!r:.60} ({type(value).__name__})")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "\u2013"
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value == 0:
        return "0"
    rounded = float(f"{value:.{digits}g}")
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -3 or exponent >= 6:
        mantissa, power = f"{rounded:.{digits - 1}e}".split("e")
        if rounded == value:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(power)}"
    text = f"{rounded:.{max(digits - 1 - exponent, 0)}f}"
    if rounded == value and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class BookTable:
    """A table for the book's column, made by :func:`book_table`; shows as HTML, prints as text."""

    def __init__(self, shown: pd.DataFrame, numeric: list[bool], csv: str | None, csv_name: str | None,
                 caption: str | None):
        self.shown, self.numeric, self.csv, self.csv_name, self.caption = shown, numeric, csv, csv_name, caption

    def _repr_html_(self) -> str:
        from html import escape

        def row(tag, values):
            opening = [f'<{tag} class="num">' if num else f"<{tag}>" for num in self.numeric]
            return "<tr>" + "".join(f"{o}{escape(str(v))}</{tag}>" for o, v in zip(opening, values)) + "</tr>"

        caption = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        body = "".join(row("td", values) for values in self.shown.itertuples(index=False))
        table = (f'<table class="fpkit-table">{caption}<thead>{row("th", self.shown.columns)}</thead>'
                 f"<tbody>{body}</tbody></table>")
        link = ""
        if self.csv is not None:
            data = base64.b64encode(self.csv.encode()).decode()
            n_rows = self.csv.count("\n") - 1
            link = (f'<p class="fpkit-table-download"><a download="{escape(self.csv_name)}" '
                    f'href="data:text/csv;base64,{data}">Download the full data ({escape(self.csv_name)}, '
                    f"{n_rows} rows)</a></p>")
        return f'<div class="fpkit-table-wrap">{table}{link}</div>'

    def __repr__(self) -> str:
        return self.shown.to_string(index=False)


def book_table(frame: pd.DataFrame, *, digits: int = 3, full: pd.DataFrame | None = None,
               csv_name: str | None = None, caption: str | None = None) -> BookTable:
    """A table that fits the book's column: at most 8 columns, numbers to ``digits`` significant
    digits (:func:`format_significant`), no index column, the full data as a CSV download.

    A named index (or a MultiIndex) becomes columns; an unnamed default index is dropped. Make
    the frame small first (select, pivot, rename columns to plain words, e.g. ``α`` rather than
    ``alpha``); the CSV keeps every column and digit of ``full`` (default: ``frame``).

    Parameters
    ----------
    frame : pandas.DataFrame
        What the page shows; at most :data:`MAX_TABLE_COLUMNS` columns (index included).
    digits : int
        Significant digits of the numbers shown.
    full : pandas.DataFrame, optional
        The data behind the table, offered as a CSV download (at full precision).
    csv_name : str, optional
        File name of the download (``.csv``); without it there is no download.
    caption : str, optional
        A caption above the table (plain text).

    Returns
    -------
    BookTable
        Displayed as the cell's result; its text form is the table as shown.
    """
    from . import _validate as v

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    if full is not None and not isinstance(full, pd.DataFrame):
        raise TypeError(f"full must be a pandas DataFrame; got {type(full).__name__}")
    digits = v.check_int(digits, "digits", minimum=1, maximum=6)
    for label, text in (("csv_name", csv_name), ("caption", caption)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{label} must be a str; got {type(text).__name__}")
    if csv_name is not None and (not csv_name.endswith(".csv") or "/" in csv_name):
        raise ValueError(f"csv_name must be a file name ending in .csv; got {csv_name!r}")
    if full is not None and csv_name is None:
        raise ValueError("full is offered as a download: give csv_name too")
    shown = _index_as_columns(frame)
    if shown.shape[1] > MAX_TABLE_COLUMNS:
        raise ValueError(f"frame has {shown.shape[1]} columns (index included); at most {MAX_TABLE_COLUMNS} fit the "
                         "book's column: show fewer and offer the rest with full= and csv_name=")
    shown = shown.copy()
    shown.columns = [" ".join(map(str, c)).strip() if isinstance(c, tuple) else str(c) for c in shown.columns]
    numeric = []
    for column in shown.columns:
        values = shown[column]
        is_number = [isinstance(_plain(x), numbers.Real) and not isinstance(_plain(x), bool) for x in values]
        shown[column] = [format_significant(x, digits) if number else str(x) for x, number in zip(values, is_number)]
        numeric.append(bool(is_number) and any(is_number))
    csv = None
    if csv_name is not None:
        data = frame if full is None else full
        csv = _index_as_columns(data).to_csv(index=False, lineterminator="\n")
    return BookTable(shown, numeric, csv, csv_name, caption)


def _index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A named index (or MultiIndex) as columns; an unnamed index dropped."""
    return frame.reset_index(drop=all(name is None for name in frame.index.names))


def glue_claim(status: str, finding: str, *, how_sure: str, regime: str) -> None:
    """Glue a chapter's answer: its answer box, its verdict and the introduction's claim table.

    Glued names: ``claim_status`` (one of the :data:`CLAIM_STATUSES` words), ``claim_finding`` (one
    plain sentence of at most :data:`MAX_FINDING_WORDS` words), ``claim_how_sure`` (the test, its
    level, its power or interval) and ``claim_regime`` (where the finding holds). All are plain
    text, no Markdown, math or code: the introduction pastes the first two from every chapter
    (cross-page glue pastes text). Build them from the numbers the verdict shows.
    """
    if not isinstance(status, str) or status not in CLAIM_STATUSES:
        raise ValueError(f"status must be one of {tuple(CLAIM_STATUSES)}; got {status!r:.60}")
    for label, text in (("finding", finding), ("how_sure", how_sure), ("regime", regime)):
        if not isinstance(text, str) or not text.strip():
            raise TypeError(f"{label} must be a non-empty str; got {text!r:.60}")
        markup = sorted({c for c in text if c in "$`*_[]\\<>#"})
        if markup:
            raise ValueError(f"{label} is pasted as plain text: no Markdown, math or code ({' '.join(markup)}); "
                             f"got {text!r}")
    words = len(finding.split())
    if words > MAX_FINDING_WORDS:
        raise ValueError(f"finding has {words} words; at most {MAX_FINDING_WORDS} fit the claim table: {finding!r}")
    glue("claim_status", status)
    glue("claim_finding", finding)
    glue("claim_how_sure", how_sure)
    glue("claim_regime", regime)


def law_palette(labels) -> dict[str, Any]:
    """Colours for law labels: fixed ones for Gaussian and Cauchy, the colorblind palette otherwise.

    Labels are matched without regard to case (``"cauchy"`` and ``"Cauchy"`` get the same
    colour); the returned dict is keyed by the labels as given.

    Examples
    --------
    >>> law_palette(["Cauchy", "gaussian"])
    {'Cauchy': '#d62728', 'gaussian': '#1f77b4'}
    """
    import seaborn as sns

    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
        raise TypeError(f"labels must be a list of law labels (str); got {labels!r:.60}")
    labels = list(labels)
    if not all(isinstance(x, str) for x in labels):
        raise TypeError(f"labels must be a list of law labels (str); got {labels!r:.60}")
    fixed = {k.lower(): c for k, c in _LAW_COLOURS.items()}
    others = [lab for lab in labels if str(lab).lower() not in fixed]
    spare = iter(sns.color_palette("colorblind", len(others) + 4)[2:])
    return {lab: fixed.get(str(lab).lower()) or next(spare) for lab in labels}


def plot_bootstrap_bands(ax, curves, x: str, *, hue: str | None = None, color=None, label=None,
                         xticks=None, log_x: bool = False, marker_size: float = 4):
    """Draw curves of :func:`fpkit.stats.bootstrap_curve` as lines with their confidence bands.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    curves : pandas.DataFrame
        Columns ``x``, ``mean``, ``low``, ``high`` (finite real numbers) and ``hue`` (values of one
        orderable kind, none missing), each exactly once: one row per point.
    x : str
        The column on the horizontal axis.
    hue : str, optional
        One curve per value of this column; its colours come from :func:`law_palette` (laws
        keep their colours), unless ``color`` is given.
    color : colour, optional
        One colour for every curve (anything :func:`matplotlib.colors.is_color_like` accepts).
    label : str, optional
        Legend label; a format string with ``{hue}`` for the group's value (and no other
        field). Default: the group's value (no label without ``hue``).
    xticks : sequence of finite reals, optional
        Tick positions on the x axis, labelled with their values (minor ticks off).
    log_x : bool
        Logarithmic x axis.
    marker_size : float >= 0
        Marker size in points.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import is_color_like

    from . import _validate as v
    from .stats.tables import check_column, check_orderable, check_unique_column

    _check_axes(ax)
    if not isinstance(curves, pd.DataFrame):
        raise TypeError(f"curves must be a pandas DataFrame (from bootstrap_curve); got {type(curves).__name__}")
    for name, column in (("x", x), ("hue", hue)):
        if column is None and name == "hue":
            continue
        if not isinstance(column, str):
            raise TypeError(f"{name} must be a column name (str); got {column!r:.60}")
        if column not in curves.columns:
            raise ValueError(f"{name} = {column!r} is not a column of curves; columns: {list(curves.columns)}")
        check_unique_column(curves, column, f"{name}: curves")
    missing = [c for c in ("mean", "low", "high") if c not in curves.columns]
    if missing:
        raise ValueError(f"curves lacks the columns {missing}; columns: {list(curves.columns)}")
    for column in dict.fromkeys((x, "mean", "low", "high")):  # real, finite numbers (x: a position on the axis)
        check_column(curves, column, "curves")
    if hue is not None:
        if curves[hue].isna().any():
            raise ValueError(f"curves column {hue!r} (hue) has missing values (NaN/None); their rows would not be drawn")
        check_orderable(curves[hue], f"curves column {hue!r} (hue)")
    if color is not None and not is_color_like(color):
        raise ValueError(f"color must be a matplotlib colour; got {color!r:.60}")
    if label is not None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a str (a format string with {{hue}}); got {label!r:.60}")
        try:
            label.format(hue="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"label must be a format string with at most the field {{hue}}; got {label!r:.60} "
                             f"({type(exc).__name__}: {exc})") from None
    if xticks is not None:
        xticks = v.check_array(xticks, "xticks", ndim=1).tolist()
    log_x = v.check_bool(log_x, "log_x")
    marker_size = v.check_real(marker_size, "marker_size", low=0.0)
    groups = list(curves.groupby(hue, sort=True)) if hue else [(None, curves)]
    palette = law_palette([str(g) for g, _ in groups]) if hue else {}
    for group, c in groups:
        c = c.sort_values(x)
        colour = color if color is not None else palette.get(str(group), "C0")
        text = (label or "{hue}").format(hue=group) if (hue or label) else None
        ax.plot(c[x], c["mean"], "o-", color=colour, label=text, ms=marker_size)
        ax.fill_between(c[x], c["low"], c["high"], color=colour, alpha=0.2, lw=0)
    if log_x:
        ax.set_xscale("log")
    if xticks is not None:
        ax.set_xticks(xticks, [f"{t:g}" for t in xticks])
        ax.minorticks_off()
    return ax


def _check_axes(ax) -> None:
    """A TypeError naming ``ax`` unless it is a matplotlib Axes."""
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")


#: Basin-map colours: not converged (-1) black, cycles (-2) grey, attractor k the k-th of Set2.
_NOT_CONVERGED, _CYCLE = "black", "0.6"

#: Attractor labels of :func:`plot_basin_map` are below this (the colour map has an entry per label).
MAX_BASIN_LABEL = 2**16


def plot_basin_map(ax, labels, extent, *, stable=None, unstable=None, palette: str = "Set2"):
    """Draw a basin map of :func:`fpkit.engine.basin_map` with the fixed points on it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    labels : int array, shape (resolution, resolution)
        ``labels[i_b, i_a]``: the attractor each pixel's orbit reaches (0, 1, ..., below
        :data:`MAX_BASIN_LABEL`), -1 where it did not settle, -2 where it ended on a cycle.
    extent : (left, right, bottom, top)
        The square the map covers, in the coordinates of the plot (finite reals).
    stable, unstable : arrays (K, 2), optional
        Fixed points in the same coordinates (finite): stable ones as white dots, unstable ones
        as black crosses.
    palette : str
        Seaborn palette name of the attractors' colours (attractor k gets the k-th of its first
        8 colours, cyclically).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    import seaborn as sns
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from . import _validate as v

    _check_axes(ax)
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 2-D integer array; got {labels.dtype} of shape {labels.shape}")
    if labels.size and labels.min() < -2:
        raise ValueError(f"labels must be >= -2 (-2 cycle, -1 not settled); got {labels.min()}")
    if labels.size and labels.max() >= MAX_BASIN_LABEL:
        raise ValueError(f"labels must be < {MAX_BASIN_LABEL} (attractor indices, a colour map entry each); "
                         f"got {labels.max()}")
    extent = v.check_array(extent, "extent", ndim=1)
    if extent.size != 4:
        raise ValueError(f"extent must be (left, right, bottom, top); got {extent.size} numbers")
    points = []
    for name, pts in (("stable", stable), ("unstable", unstable)):
        pts = None if pts is None else v.check_array(pts, name, ndim=2)
        if pts is not None and pts.shape[1] != 2:
            raise ValueError(f"{name} must have shape (K, 2); got {pts.shape}")
        points.append(pts)
    if not isinstance(palette, str):
        raise TypeError(f"palette must be a seaborn palette name (str); got {palette!r:.60}")
    try:
        colours = sns.color_palette(palette, 8)
    except ValueError as exc:
        raise ValueError(f"palette {palette!r} is not a seaborn palette ({exc})") from None
    k = max(int(labels.max()) + 1, 1) if labels.size else 1
    cmap = ListedColormap([_CYCLE, _NOT_CONVERGED] + [colours[i % len(colours)] for i in range(k)])
    norm = BoundaryNorm(np.arange(-2.5, k), cmap.N)
    image = ax.imshow(labels, origin="lower", extent=tuple(extent.tolist()), cmap=cmap, norm=norm,
                      interpolation="nearest")
    for pts, style in zip(points, (dict(c="white", edgecolor="black", s=40), dict(c="black", marker="x", s=40))):
        if pts is not None and len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], zorder=3, **style)
    return image


def _plain(value: Any) -> Any:
    """NumPy scalars and 0-d arrays to Python numbers (glue needs a literal repr)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


class GluedText:
    """A string glued for the prose, with the same text under both MIME types myst-nb reads.

    ``text/markdown`` (``{glue:md}``) and ``text/plain`` (``{glue:text}``) both give the text
    itself (IPython's ``Markdown`` object gives its repr as plain text, which a ``{glue:text}``
    reference would paste into the page).
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


#: Every value glued in this kernel, by name (see :func:`glued`).
_GLUED: dict[str, Any] = {}


def glue(name: str, value: Any, display: bool = False, *, markdown: bool = True) -> None:
    """Glue a value for the prose (``{glue:text}`name:.2f```), as a plain Python number.

    NumPy scalars are converted first: their repr (``np.float64(1.0)``) cannot be
    formatted by ``{glue:text}``. Strings are glued as :class:`GluedText`: ``{glue:md}`name```
    renders them as Markdown, ``{glue:text}`name``` pastes the same text (never an object's repr). Non-finite numbers are refused, so a NaN can never reach the text.
    The value is also kept for :func:`glued`. ``markdown=False`` glues a string as plain text,
    which other pages can paste with ``{glue:text}`chapter.md::name:s``` (myst-nb pastes plain
    text, not Markdown, across documents).
    """
    from myst_nb import glue as _glue

    from . import _validate as v

    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r:.60}")
    display = v.check_bool(display, "display")
    markdown = v.check_bool(markdown, "markdown")
    if isinstance(value, str) and not markdown:
        _glue(name, value, display=display)
        _GLUED[name] = value
        return
    if isinstance(value, str):
        if "$" in value:
            raise ValueError(f"glued text {name!r} contains '$': math does not render inside glued text; "
                             "write it as plain text")
        _glue(name, GluedText(value), display=display)
        _GLUED[name] = value
        return
    value = _plain(value)
    if isinstance(value, complex) or (isinstance(value, np.ndarray) and value.dtype.kind == "c"):
        raise TypeError(f"glue value {name!r} is complex: {value}; glue a real number")
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"glue value {name!r} is not finite: {value}")
    _glue(name, value, display=display)
    _GLUED[name] = value


def glued(name: str) -> Any:
    """The value glued under ``name`` earlier in this kernel.

    Chapters build their one-line verdict (glued as ``claim_status`` and pasted into the
    introduction's claim table) from the very numbers their prose shows, so the two cannot drift.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    try:
        return _GLUED[name]
    except KeyError:
        raise KeyError(f"nothing was glued under {name!r} in this kernel; glued so far: {sorted(_GLUED)}") from None
