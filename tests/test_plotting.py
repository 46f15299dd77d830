import numpy as np
import pytest

pytest.importorskip("myst_nb")

from fpkit.plotting import glue, glued  # noqa: E402


def test_glue_keeps_plain_values_for_glued():
    glue("t_number", np.float64(0.25))
    assert glued("t_number") == 0.25 and type(glued("t_number")) is float
    glue("t_text", "partly: 3 of 4", markdown=False)
    assert glued("t_text") == "partly: 3 of 4"


def test_glue_refuses_what_cannot_render():
    with pytest.raises(ValueError, match="not finite"):
        glue("t_nan", float("nan"))
    with pytest.raises(ValueError, match=r"contains '\$'"):
        glue("t_math", "at $L = 2$")
    with pytest.raises(KeyError, match="nothing was glued under 't_missing'"):
        glued("t_missing")
