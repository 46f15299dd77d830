"""One figure style for the book, and the helpers every chapter shares."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

__all__ = ["chapter_setup", "glue", "glued", "law_palette"]

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


def law_palette(labels: list[str]) -> dict[str, Any]:
    """Colours for law labels: fixed ones for Gaussian/Cauchy, the colorblind palette otherwise."""
    import seaborn as sns

    if isinstance(labels, str) or not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
        raise TypeError(f"labels must be a list of law labels (str); got {labels!r:.60}")
    others = [lab for lab in labels if lab not in _LAW_COLOURS]
    spare = iter(sns.color_palette("colorblind", len(others) + 4)[2:])
    return {lab: _LAW_COLOURS.get(lab) or next(spare) for lab in labels}


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


#: Every value glued in this kernel, by name (see :func:`glued`).
_GLUED: dict[str, Any] = {}


def glue(name: str, value: Any, display: bool = False, *, markdown: bool = True) -> None:
    """Glue a value for the prose (``{glue:text}`name:.2f```), as a plain Python number.

    NumPy scalars are converted first: their repr (``np.float64(1.0)``) cannot be
    formatted by ``{glue:text}``. Strings are glued as Markdown: reference them with
    ``{glue:md}`name```. Non-finite numbers are refused, so a NaN can never reach the text.
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
        from IPython.display import Markdown

        _glue(name, Markdown(value), display=display)
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
