import math

import numpy as np
import pandas as pd
import pytest

from fpkit.network import NetworkConfig
from fpkit.regimes import CAUCHY_REGIME, attractor_flags, summarize_regimes
from fpkit.selection import RegimeChoice, select_regime, setting_label


def _summary(rows, L=8):
    """A summarize_regimes-like table from (activation, convention, scale, bias_law, k, n, cycles[, mean_Q])."""
    out = []
    for r in rows:
        act, conv, s, bias, k, n, cyc, *mq = r
        out.append({"activation": act, "convention": conv, "scale": s, "bias_law": bias, "L": L,
                    "mean_Q": mq[0] if mq else 1.0, "sem_Q": 0.1, "p_multi": k / n, "p_none": 0.1,
                    "cycle_fraction": cyc, "networks": n})
    return pd.DataFrame(out)


def _wilson_low(k, n, z=1.959963984540054):
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n)


def test_the_rule_picks_the_most_multistable_setting_that_passes_the_cycle_filter():
    at8 = _summary([
        ("tanh", "fan_in", 4.0, "same", 12, 24, 0.05),        # passes, 0.50
        ("tanh", "fan_in", 16.0, "same", 18, 24, 0.20),       # more multistable but too many cycles
        ("logistic", "fan_in", 4.0, "none", 7, 24, 0.02),     # passes, 0.29
        ("logistic", "sqrt_fan_in", 1.0, "same", 10, 24, 0.0999),  # passes, 0.42
    ])
    other_depth = _summary([("logistic", "fan_in", 4.0, "none", 24, 24, 0.0)], L=4)  # ignored
    choice = select_regime(pd.concat([other_depth, at8], ignore_index=True))
    assert isinstance(choice, RegimeChoice)
    assert choice.chosen == {"activation": "tanh", "convention": "fan_in", "scale": 4.0, "bias_law": "same", "L": 8}
    assert choice.n_settings == 4 and choice.n_passing == 3
    assert list(choice.ranking["p_multi"]) == pytest.approx([12 / 24, 10 / 24, 7 / 24])
    assert choice.ranking["multi_low"].iloc[0] == pytest.approx(_wilson_low(12, 24))
    assert choice.runner_up["scale"] == 1.0 and choice.tied == ()
    assert "tanh, fan_in, s = 4, bias same is chosen" in choice.reason and "3 of 4 settings" in choice.reason
    # the filter is strict: a setting exactly at the threshold is out
    assert select_regime(at8, max_cycle_fraction=0.05).chosen["activation"] == "logistic"


def test_a_fraction_from_few_networks_does_not_beat_a_slightly_smaller_one_from_many():
    table = _summary([
        ("tanh", "fan_in", 4.0, "same", 3, 5, 0.01),        # 0.60 from 5 networks: Wilson low ~0.23
        ("tanh", "fan_in", 16.0, "same", 100, 200, 0.01),   # 0.50 from 200 networks: Wilson low ~0.43
    ])
    choice = select_regime(table)
    assert choice.chosen["scale"] == 16.0
    np.testing.assert_allclose(choice.ranking["multi_low"], [_wilson_low(100, 200), _wilson_low(3, 5)])
    # by the point estimate alone the 5-network setting would have won
    assert table.loc[table["p_multi"].idxmax(), "scale"] == 4.0


def test_ties_are_broken_by_cycles_then_mean_q_then_table_order_and_named():
    tie = _summary([
        ("tanh", "fan_in", 4.0, "same", 10, 24, 0.08, 1.0),
        ("tanh", "fan_in", 16.0, "same", 10, 24, 0.03, 1.0),   # same bound, fewer cycles: chosen
        ("logistic", "fan_in", 4.0, "same", 10, 24, 0.03, 0.9),
    ])
    choice = select_regime(tie)
    assert choice.chosen["scale"] == 16.0 and choice.chosen["activation"] == "tanh"
    assert len(choice.tied) == 2 and "ties on the bound with" in choice.reason
    assert choice.separated is False  # equal counts cannot be separated
    exact = _summary([("tanh", "fan_in", 4.0, "same", 10, 24, 0.05), ("logistic", "fan_in", 4.0, "same", 10, 24, 0.05)])
    assert select_regime(exact).chosen["activation"] == "tanh"          # table order
    assert select_regime(exact.iloc[::-1]).chosen["activation"] == "logistic"


def test_an_empty_filter_chooses_nothing_and_says_so():
    table = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.35), ("logistic", "fan_in", 16.0, "none", 5, 24, 0.12)])
    choice = select_regime(table)
    assert choice.chosen is None and choice.runner_up is None and choice.n_passing == 0
    assert choice.reason.startswith("No regime is chosen")
    assert "0.12" in choice.reason and "logistic, fan_in, s = 16, bias none" in choice.reason
    assert choice.ranking.empty


def test_separation_from_the_runner_up():
    clear = select_regime(_summary([("tanh", "fan_in", 4.0, "same", 20, 24, 0.0), ("tanh", "fan_in", 1.0, "same", 5, 24, 0.0)]))
    assert clear.separated is True and clear.separation_p < 1e-4 and "is separated from" in clear.reason
    close = select_regime(_summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.0), ("tanh", "fan_in", 1.0, "same", 11, 24, 0.0)]))
    assert close.separated is False and close.separation_p > 0.3
    assert "another seed may pick the runner-up" in close.reason
    alone = select_regime(_summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.0)]))
    assert alone.separated is None and alone.separation_p is None and "only setting" in alone.reason


def test_works_on_the_output_of_summarize_regimes_and_gives_a_config():
    rng = np.random.default_rng(0)
    rows = []
    for act, scale, bias, p in [("tanh", 4.0, "same", 0.5), ("tanh", 16.0, None, 0.3), ("logistic", 4.0, "same", 0.7)]:
        for L in (4, 8):
            for _ in range(30):
                cycles = int(rng.integers(0, 30 if act == "logistic" else 5))
                rows.append({"activation": act, "convention": "fan_in", "scale": scale, "bias_law": bias, "L": L,
                             "Q": int(rng.random() < p) + 1, "cycle_starts": cycles, "not_converged_starts": 0,
                             "converged_starts": 64 - cycles, "n_starts": 64})
    summary = summarize_regimes(pd.DataFrame(rows))
    choice = select_regime(summary)
    assert choice.chosen["activation"] == "tanh"   # logistic has ~23 % of starts on cycles
    config = CAUCHY_REGIME.replace(**choice.chosen)
    assert isinstance(config, NetworkConfig) and config.L == 8
    none_bias = select_regime(summary[summary["scale"] == 16.0])
    assert none_bias.chosen["bias_law"] is None and CAUCHY_REGIME.replace(**none_bias.chosen).bias_law is None
    assert setting_label(choice.chosen) == "tanh, fan_in, s = 4, bias same"


def test_bad_arguments():
    table = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.0)])
    with pytest.raises(TypeError, match="DataFrame"):
        select_regime(table.to_dict())
    with pytest.raises(ValueError, match="lacks the columns"):
        select_regime(table.drop(columns="p_multi"))
    with pytest.raises(ValueError, match="no rows at depth L = 16"):
        select_regime(table, depth=16)
    with pytest.raises(ValueError, match="max_cycle_fraction"):
        select_regime(table, max_cycle_fraction=0.0)
    with pytest.raises(ValueError, match="confidence"):
        select_regime(table, confidence=1.0)
    with pytest.raises(ValueError, match="more than one row"):
        select_regime(pd.concat([table, table]))
    with pytest.raises(ValueError, match="p_multi"):
        select_regime(table.assign(p_multi=1.5))


# ----------------------------------------------------------------------- regression tests (issue 25)


@pytest.mark.parametrize("column, value, exc, match", [
    ("networks", 2.5, ValueError, "'networks' must hold whole numbers"),
    ("networks", np.nan, ValueError, "'networks' must be finite"),
    ("networks", "24", TypeError, "'networks' must hold real numbers"),
    ("networks", 1e300, ValueError, r"'networks' must be in \[1, 1e\+09\]"),
    ("networks", 0, ValueError, r"'networks' must be in \[1,"),
    ("cycle_fraction", -0.2, ValueError, r"'cycle_fraction' must be in \[0, 1\]"),
    ("cycle_fraction", True, TypeError, "'cycle_fraction' must hold real numbers"),
    ("mean_Q", np.nan, ValueError, "'mean_Q' must be finite"),
    ("mean_Q", -1.0, ValueError, "'mean_Q' must be in"),
    ("p_multi", np.inf, ValueError, "'p_multi' must be finite"),
    ("scale", "big", TypeError, "'scale' must hold real numbers"),
    ("L", "8", TypeError, "'L' must hold real numbers"),
    ("L", 8.5, ValueError, "'L' must hold whole numbers"),
    ("activation", [["tanh"]], TypeError, "must hold plain values"),
])
def test_summary_columns_are_checked_and_named(column, value, exc, match):
    """Each of these used to be accepted (networks = 2.5, negative cycle fractions, NaN mean Q) or to fail
    deep inside NumPy or SciPy (NaN, text or 1e300 networks)."""
    table = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.01), ("tanh", "fan_in", 16.0, "same", 5, 24, 0.02)])
    table[column] = [value] * len(table) if not isinstance(value, list) else value * len(table)
    with pytest.raises(exc, match=match) as info:
        select_regime(table)
    assert str(info.value).startswith("summary")


def test_duplicate_column_names_are_refused():
    table = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.01)])
    with pytest.raises(ValueError, match="summary has 2 columns named 'p_multi'"):
        select_regime(pd.concat([table, table[["p_multi"]]], axis=1))


def _per_network(n=4):
    return pd.DataFrame({"activation": "tanh", "convention": "fan_in", "scale": 4.0, "bias_law": None,
                         "L": np.repeat([1, 2], n), "Q": np.tile([0, 1, 2, 3], 2 * n // 4),
                         "converged_starts": 60, "cycle_starts": 3, "not_converged_starts": 1})


@pytest.mark.parametrize("column, value, exc, match", [
    ("Q", "2", TypeError, "table column 'Q' must hold real numbers"),
    ("Q", np.inf, ValueError, "table column 'Q' must be finite"),
    ("Q", -1, ValueError, r"table column 'Q' must be in \[0, inf\]"),
    ("Q", 1.5, ValueError, "table column 'Q' must hold whole numbers"),
    ("cycle_starts", np.nan, ValueError, "table column 'cycle_starts' must be finite"),
    ("converged_starts", True, TypeError, "table column 'converged_starts' must hold real numbers"),
])
def test_per_network_tables_are_checked_by_attractor_flags_and_summarize_regimes(column, value, exc, match):
    """Text counts failed inside pandas' arithmetic, infinite Q warned inside NumPy's std, NaN counts gave NaN
    fractions; now the table's column is named."""
    bad = _per_network().assign(**{column: value})
    for call in (attractor_flags, summarize_regimes):
        with pytest.raises(exc, match=match):
            call(bad)


def test_summarize_regimes_names_duplicate_and_unorderable_columns_and_zero_starts():
    t = _per_network()
    with pytest.raises(ValueError, match="table has 2 columns named 'Q'"):
        summarize_regimes(pd.concat([t, t[["Q"]]], axis=1))
    with pytest.raises(ValueError, match="by: table has 2 columns named 'L'"):
        summarize_regimes(pd.concat([t, t[["L"]]], axis=1))
    with pytest.raises(TypeError, match=r"table column 'L' \(by\) must hold values of one orderable kind"):
        summarize_regimes(t.assign(L=t["L"].astype(object).where(t["L"] == 1, "two")))
    with pytest.raises(ValueError, match="at least one start per network"):
        attractor_flags(t.assign(converged_starts=0, cycle_starts=0, not_converged_starts=0))
    # one network per group: sem_Q is NaN (documented), everything else is a number
    one = summarize_regimes(t.iloc[[0, 4]])
    assert one["sem_Q"].isna().all() and one.drop(columns="sem_Q").notna().all().all()
    assert one["networks"].tolist() == [1, 1] and one["bias_law"].tolist() == ["none", "none"]


def test_setting_labels_of_a_table_are_the_labels_of_its_rows():
    from fpkit.selection import setting_labels

    t = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.01), ("logistic", "sqrt_fan_in", 16.0, None, 5, 24, 0.2)])
    labels = setting_labels(t.set_index(pd.Index([5, 9])))
    assert labels.index.tolist() == [5, 9] and labels.name == "setting"
    assert labels.tolist() == ["tanh, fan_in, s = 4, bias same", "logistic, sqrt_fan_in, s = 16, bias none"]
    assert labels.tolist() == [setting_label(r) for _, r in t.iterrows()]  # a missing bias law reads "none"
    with pytest.raises(ValueError, match="none of the setting columns"):
        setting_labels(t[["L", "Q"]] if "Q" in t else t[["L"]])
    with pytest.raises(TypeError, match="DataFrame"):
        setting_labels(t.to_dict())


def test_a_depth_beyond_int64_is_refused_not_cast():
    """Found by the random fuzz: L = 1e300 in the summary warned inside NumPy's cast to int64."""
    table = _summary([("tanh", "fan_in", 4.0, "same", 12, 24, 0.01)])
    with pytest.raises(ValueError, match=r"summary column 'L' must be in \[1, 1e\+09\]"):
        select_regime(table.assign(L=1e300))


def test_a_bias_law_column_of_only_missing_values_reads_none():
    """Found by the random fuzz: a float column of NaN (no network had biases) made pandas warn that filling
    it with text will raise in a future version."""
    import warnings

    t = _per_network().assign(bias_law=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flags = attractor_flags(t)
    assert flags["bias_law"].tolist() == ["none"] * len(t)
    assert attractor_flags(_per_network().assign(bias_law="same"))["bias_law"].eq("same").all()
