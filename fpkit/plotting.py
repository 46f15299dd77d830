"""One figure style for the book, and the helpers the chapters share.

* :func:`chapter_setup` - the book's seaborn style, warnings as errors, what a chapter prints first;
* :func:`law_palette` - one colour per weight law, the same in every chapter;
* :func:`plot_bootstrap_bands` - curves of :func:`fpkit.stats.bootstrap_curve` with their bands;
* :func:`plot_basin_map` - a basin map of :func:`fpkit.engine.basin_map` with its fixed points;
* :func:`glue`, :func:`glued` - numbers for the prose.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_BASIN_LABEL", "GluedText", "chapter_setup", "glue", "glued", "law_palette", "plot_basin_map", "plot_bootstrap_bands"]

#: Colours by law label, shared by all chapters so a law looks the same everywhere.
_LAW_COLOURS = {
    "Gaussian": "#1f77b4",
    "Cauchy": "#d62728",
}


def chapter_setup() -> dict[str, str]:
    """Set the book's seaborn style and make numerical warnings errors in a chapter.

    Returns the facts a chapter prints in its first cell (fpkit version and source hash,
    backend) so that a rebuilt page shows which code produced it.
    """
    import matplotlib
    import seaborn as sns

    from . import __version__, source_hash
    from .backend import backend_name

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "figure.figsize": (8.0, 4.0)})
    # A RuntimeWarning (overflow, invalid value) in a chapter is a bug: fail the build.
    warnings.simplefilter("error", RuntimeWarning)
    return {"fpkit": __version__, "source": source_hash(), "backend": backend_name()}


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
        Columns ``x``, ``mean``, ``low``, ``high`` (and ``hue``): one row per point.
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
    missing = [c for c in ("mean", "low", "high") if c not in curves.columns]
    if missing:
        raise ValueError(f"curves lacks the columns {missing}; columns: {list(curves.columns)}")
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
