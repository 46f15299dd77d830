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
