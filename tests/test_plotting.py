import io
import warnings

import numpy as np
import pytest

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from fpkit.plotting import glue, glued, law_palette, plot_basin_map, plot_bootstrap_bands  # noqa: E402


def test_glue_keeps_plain_values_for_glued():
    pytest.importorskip("myst_nb")
    glue("t_number", np.float64(0.25))
    assert glued("t_number") == 0.25 and type(glued("t_number")) is float
    glue("t_text", "partly: 3 of 4", markdown=False)
    assert glued("t_text") == "partly: 3 of 4"


def test_glue_refuses_what_cannot_render():
    pytest.importorskip("myst_nb")
    with pytest.raises(ValueError, match="not finite"):
        glue("t_nan", float("nan"))
    with pytest.raises(ValueError, match=r"contains '\$'"):
        glue("t_math", "at $L = 2$")
    with pytest.raises(KeyError, match="nothing was glued under 't_missing'"):
        glued("t_missing")


def test_law_palette_fixes_the_laws_whatever_the_case():
    pal = law_palette(["Cauchy", "gaussian", "Student-t", "alpha-stable"])
    assert pal["Cauchy"] == "#d62728" and pal["gaussian"] == "#1f77b4"
    assert law_palette(["cauchy"])["cauchy"] == pal["Cauchy"]
    others = [to_rgba(pal["Student-t"]), to_rgba(pal["alpha-stable"])]
    assert others[0] != others[1] and all(c not in (to_rgba("#d62728"), to_rgba("#1f77b4")) for c in others)


def test_bootstrap_bands_draw_each_group_in_its_law_colour():
    curves = pd.DataFrame({"weights": ["Cauchy"] * 3 + ["Gaussian"] * 3, "L": [4, 1, 2] * 2,
                           "mean": [3.0, 1.0, 2.0, 1.0, 1.0, 1.0], "low": [2.5, 0.5, 1.5, 0.9, 0.9, 0.9],
                           "high": [3.5, 1.5, 2.5, 1.1, 1.1, 1.1]})
    fig, ax = plt.subplots()
    plot_bootstrap_bands(ax, curves, "L", hue="weights", label="{hue}, N = 10", xticks=[1, 2, 4], log_x=True)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["Cauchy, N = 10", "Gaussian, N = 10"]
    assert lines[0].get_xdata().tolist() == [1, 2, 4] and lines[0].get_ydata().tolist() == [1.0, 2.0, 3.0]
    assert to_rgba(lines[0].get_color()) == to_rgba("#d62728") and to_rgba(lines[1].get_color()) == to_rgba("#1f77b4")
    assert len(ax.collections) == 2  # one band per group
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.5 and band[:, 1].max() == 3.5
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    fig2, ax2 = plt.subplots()
    plot_bootstrap_bands(ax2, curves[curves["weights"] == "Cauchy"], "L", color="k")
    assert len(ax2.get_lines()) == 1 and ax2.get_lines()[0].get_label().startswith("_")  # no legend entry
    with pytest.raises(ValueError, match="high"):
        plot_bootstrap_bands(ax2, curves.drop(columns="high"), "L")
    plt.close("all")



def _curves():
    from fpkit.stats import bootstrap_curve

    table = pd.DataFrame({"L": [1, 1, 2, 2, 3, 3], "Q": [1.0, 2.0, 3.0, 3.0, 1.0, 2.0]})
    return bootstrap_curve(table, "L", "Q", n_resamples=20, seed=0).assign(law="Cauchy")


def _one_cell(curves, column, value):
    out = curves.copy()
    out[column] = out[column].astype(object)
    out.loc[out.index[0], column] = value
    return out


@pytest.mark.parametrize("damage, error, match", [
    (lambda c: pd.concat([c, c[["low"]]], axis=1), ValueError, "curves has 2 columns named 'low'"),
    (lambda c: pd.concat([c, c[["high"]]], axis=1), ValueError, "curves has 2 columns named 'high'"),
    (lambda c: pd.concat([c, c[["L"]]], axis=1), ValueError, "x: curves has 2 columns named 'L'"),
    (lambda c: pd.concat([c, c[["law"]]], axis=1), ValueError, "hue: curves has 2 columns named 'law'"),
    (lambda c: _one_cell(c, "low", np.nan), TypeError, "curves column 'low' must hold real numbers"),
    (lambda c: _one_cell(c, "L", "x"), TypeError, "curves column 'L' must hold real numbers"),
    (lambda c: c.assign(mean=c["mean"].astype(object)), TypeError, "curves column 'mean' must hold real numbers"),
    (lambda c: c.assign(high=np.nan), ValueError, "curves column 'high' must be finite"),
    (lambda c: c.assign(L=np.inf), ValueError, "curves column 'L' must be finite"),
    (lambda c: c.assign(high=c["high"] * 1j), TypeError, "curves column 'high' must hold real numbers"),
    (lambda c: _one_cell(c, "law", None), ValueError, "curves column 'law' \\(hue\\) has missing values"),
    (lambda c: _one_cell(c, "law", 3), TypeError, "curves column 'law' \\(hue\\) must hold values of one orderable"),
])
def test_bootstrap_bands_name_a_damaged_curves_table(damage, error, match):
    """Found by others' fuzz: a duplicated column failed inside pandas or matplotlib, a NaN or text cell (object
    dtype) raised "ufunc 'isfinite' not supported", complex values a ComplexWarning."""
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=match):
            plot_bootstrap_bands(ax, damage(_curves()), "L", hue="law")
        assert not ax.get_lines()  # refused before drawing
        plot_bootstrap_bands(ax, _curves(), "L", hue="law")  # the undamaged table draws
    assert len(ax.get_lines()) == 1
    plt.close(fig)

def test_basin_map_colours_and_points():
    labels = np.array([[-2, -1, 0], [1, 2, 0], [0, 0, 1]])
    fig, ax = plt.subplots()
    image = plot_basin_map(ax, labels, (-1, 1, -1, 1), stable=[[0.5, 0.5], [-0.5, 0.5]], unstable=[[0.0, 0.0]])
    rgba = image.cmap(image.norm(labels))
    import seaborn as sns

    set2 = sns.color_palette("Set2", 8)
    assert tuple(rgba[0, 0]) == to_rgba("0.6") and tuple(rgba[0, 1]) == to_rgba("black")
    for k in (0, 1, 2):
        assert all(tuple(rgba[i, j]) == to_rgba(set2[k]) for i, j in zip(*np.nonzero(labels == k)))
    assert image.get_extent() == [-1, 1, -1, 1]
    assert [len(c.get_offsets()) for c in ax.collections] == [2, 1]
    with pytest.raises(ValueError, match="integer"):
        plot_basin_map(ax, labels.astype(float), (0, 1, 0, 1))
    with pytest.raises(ValueError, match=">= -2"):
        plot_basin_map(ax, labels - 5, (0, 1, 0, 1))
    plt.close("all")


def test_glued_text_reads_the_same_as_text_and_as_markdown():
    """{glue:text} reads text/plain, {glue:md} reads text/markdown: a glued string must give the
    text under both (IPython's Markdown object gave its repr as plain text)."""
    from IPython.core.formatters import format_display_data

    from fpkit.plotting import GluedText

    data, _ = format_display_data(GluedText("partly: 3 of **4**"))
    assert data["text/plain"] == "partly: 3 of **4**"
    assert data["text/markdown"] == "partly: 3 of **4**"
    with pytest.raises(TypeError, match="text must be a str"):
        GluedText(3)


# ------------------------------------------------------------------ figures and tables for the column

def _capture_glue(monkeypatch):
    """Record what fpkit.plotting glues (myst_nb.glue), instead of displaying it."""
    myst_nb = pytest.importorskip("myst_nb")
    glued_values = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued_values.__setitem__(name, value))
    return glued_values


def test_book_figure_fits_the_column_in_a_legible_grid():
    from fpkit.plotting import MAX_FIGURE_WIDTH, book_figure

    fig, axes = book_figure(nrows=2, ncols=3)
    assert axes.shape == (2, 3) and fig.get_layout_engine() is not None
    width, height = fig.get_size_inches()
    assert width == 7.0 and height == pytest.approx(2 * 2.2)
    assert tuple(book_figure(width=5.0)[0].get_size_inches()) == (5.0, 3.4)
    with pytest.raises(ValueError, match="ncols"):
        book_figure(ncols=4)
    with pytest.raises(ValueError, match="width"):
        book_figure(width=MAX_FIGURE_WIDTH + 0.5)
    plt.close("all")


def test_glue_figure_keeps_the_physical_size_at_twice_the_resolution(monkeypatch):
    from IPython.core.formatters import format_display_data
    from PIL import Image

    from fpkit.plotting import CSS_PX_PER_INCH, FIGURE_ZOOM, book_figure, glue_figure

    glued_values = _capture_glue(monkeypatch)
    fig, ax = book_figure(width=6.0, height=3.0)
    ax.plot([1, 2, 3], [1, 4, 9], label="squares")
    ax.set(xlabel="$x$", ylabel="$x^2$", title="a title")
    ax.legend()
    assert glue_figure("fig-test", fig) is None  # nothing for the cell to show
    assert not plt.fignum_exists(fig.number)  # closed: it appears only where {glue:figure} pastes it
    figure = glued_values["fig-test"]
    image = Image.open(io.BytesIO(figure.png))
    assert image.info["dpi"][0] == pytest.approx(CSS_PX_PER_INCH * FIGURE_ZOOM, abs=0.01)
    # the display width is the physical width: pixels / zoom; the contents of a 6 in figure
    assert figure.width_px == round(image.width / FIGURE_ZOOM)
    assert 5.5 * CSS_PX_PER_INCH < figure.width_px <= 6.0 * CSS_PX_PER_INCH + 2
    data, metadata = format_display_data(figure)
    assert metadata["image/png"] == {"width": figure.width_px} and "figure fig-test" in data["text/plain"]


def test_glue_figure_refuses_small_fonts_and_figures_wider_than_the_column(monkeypatch):
    from fpkit.plotting import book_figure, glue_figure

    _capture_glue(monkeypatch)
    fig, ax = book_figure()
    ax.set_title("tiny", fontsize=8)
    with pytest.raises(ValueError, match=r"unreadable.*'tiny' \(8 pt\)"):
        glue_figure("fig-small", fig)
    fig, ax = book_figure()
    for row in range(3):  # a heat map's values written into cells too small for them
        ax.text(0.5, 0.5 + 0.01 * row, f"0.12{row}", transform=ax.transAxes)
    with pytest.raises(ValueError, match="'0.120' / '0.121' overlap"):
        glue_figure("fig-crowded", fig)
    fig, ax = book_figure(width=7.5)
    fig.text(1.0, 0.5, "a note that sticks out on the right")  # outside the figure: the crop widens it
    with pytest.raises(ValueError, match="in wide with its contents"):
        glue_figure("fig-wide", fig)
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        glue_figure("fig-none", ax)
    plt.close("all")


def test_chapter_setup_sets_legible_fonts_and_prints_one_line():
    import matplotlib as mpl

    from fpkit.plotting import MIN_FONT_SIZE, chapter_setup

    with mpl.rc_context():
        info = chapter_setup()
        sizes = [mpl.rcParams[k] for k in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                                           "ytick.labelsize", "legend.fontsize", "legend.title_fontsize")]
        assert min(sizes) >= MIN_FONT_SIZE and mpl.rcParams["figure.dpi"] == 96
    assert set(info) == {"fpkit", "source", "backend"}
    assert repr(info) == str(info) == f"fpkit {info['fpkit']}, source {info['source']}, {info['backend']} backend"


@pytest.mark.parametrize(("value", "text"), [
    (0.12345, "0.123"), (1.5, "1.5"), (20000.0, "20000"), (0.1004, "0.100"), (-0.0123456, "-0.0123"),
    (123456.7, "123000"), (1.2e-5, "1.2e-5"), (1.234e-5, "1.23e-5"), (2e6, "2e6"), (0.0, "0"), (-0.0, "0"), (7, "7"),
    (np.int64(12345678), "12345678"), (np.float32(0.5), "0.5"), (float("nan"), "\u2013"), (float("inf"), "\u221e"),
    (-float("inf"), "-\u221e"), (0.99996, "1.00"), (999.96, "1000"),
])
def test_format_significant(value, text):
    from fpkit.plotting import format_significant

    assert format_significant(value) == text


def test_format_significant_refuses_what_is_not_a_number():
    from fpkit.plotting import format_significant

    for bad in ("1.5", True, None, 1 + 2j):
        with pytest.raises(TypeError, match="value must be a real number"):
            format_significant(bad)
    with pytest.raises(ValueError, match="digits"):
        format_significant(1.0, digits=0)


def test_book_table_trims_to_the_column_and_offers_the_full_data():
    import base64
    import re

    from fpkit.plotting import MAX_TABLE_COLUMNS, book_table

    full = pd.DataFrame({"law": ["Cauchy", "Gaussian <b>"], "alpha": [1.0, 2.0], "estimate": [1.0123456, 2.98765],
                         "n": [10, 20]})
    table = book_table(full.set_index("law"), full=full, csv_name="estimates.csv", caption="Estimates")
    html = table._repr_html_()
    assert "Gaussian &lt;b&gt;" in html and "<caption>Estimates</caption>" in html
    header = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
    assert header == ["law", "alpha", "estimate", "n"]  # the named index is a column, no other index
    assert re.findall(r'<td class="num">(.*?)</td>', html) == ["1", "1.01", "10", "2", "2.99", "20"]
    data = re.search(r'href="data:text/csv;base64,([^"]+)"', html).group(1)
    assert pd.read_csv(io.StringIO(base64.b64decode(data).decode())).equals(full)  # every digit, every row
    assert repr(table).splitlines()[0].split() == ["law", "alpha", "estimate", "n"]
    unnamed = book_table(full.iloc[[1, 0]][["alpha", "n"]])  # an unnamed index (here shuffled) is dropped
    assert re.findall(r"<th(?: [^>]*)?>(.*?)</th>", unnamed._repr_html_()) == ["alpha", "n"]
    assert "download" not in unnamed._repr_html_()
    wide = pd.DataFrame(np.zeros((2, MAX_TABLE_COLUMNS + 1)))
    with pytest.raises(ValueError, match="9 columns"):
        book_table(wide)
    with pytest.raises(ValueError, match="csv_name"):
        book_table(full, full=full)
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        book_table(full.to_dict())


def test_glue_claim_glues_a_status_word_and_a_short_plain_sentence(monkeypatch):
    from fpkit.plotting import CLAIM_STATUSES, glue_claim

    glued_values = _capture_glue(monkeypatch)
    sure, regime = "Kolmogorov-Smirnov tests at family-wise level 0.05.", "Four samplers."
    glue_claim("partly", "The samplers draw the laws they name; the tail index is measured up to α = 1.5.",
               how_sure=sure, regime=regime)
    assert str(glued_values["claim_status"]) == "partly"
    assert str(glued_values["claim_finding"]).startswith("The samplers draw")
    assert (str(glued_values["claim_how_sure"]), str(glued_values["claim_regime"])) == (sure, regime)
    assert glued("claim_status") == "partly"
    assert set(CLAIM_STATUSES) == {"reproduces", "partly", "not detected", "not testable here"}
    with pytest.raises(ValueError, match="status must be one of"):
        glue_claim("established", "The samplers work.", how_sure=sure, regime=regime)
    with pytest.raises(ValueError, match="26 words"):
        glue_claim("partly", " ".join(["word"] * 26), how_sure=sure, regime=regime)
    for markup in ("Q_all is 3.", "It holds for $N = 2$.", "See **this**."):
        with pytest.raises(ValueError, match="finding is pasted as plain text"):
            glue_claim("partly", markup, how_sure=sure, regime=regime)
    with pytest.raises(ValueError, match="how_sure is pasted as plain text"):
        glue_claim("partly", "Fine.", how_sure="p < 0.05 for `N_BIG`", regime=regime)
    with pytest.raises(TypeError, match="regime must be a non-empty str"):
        glue_claim("partly", "Fine.", how_sure=sure, regime="")
