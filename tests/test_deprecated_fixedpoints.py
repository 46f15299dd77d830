"""The deprecated module fpkit.fixedpoints: every old name still works and warns, naming where it lives now."""

import importlib
import warnings

import pytest

import fpkit.engine
from fpkit import fixedpoints


@pytest.mark.parametrize("name", fixedpoints.MOVED)
def test_each_old_name_warns_and_is_the_engine_object(name):
    with pytest.warns(DeprecationWarning, match=rf"fpkit\.fixedpoints\.{name} is deprecated; import it from fpkit\.engine"):
        obj = getattr(fixedpoints, name)
    assert obj is getattr(fpkit.engine, name)


def test_from_import_warns_per_name_and_points_at_the_caller():
    with pytest.warns(DeprecationWarning) as record:
        from fpkit.fixedpoints import find_fixed_points, uniform_starts  # noqa: F401
    assert sorted(str(w.message).split()[0] for w in record) == ["fpkit.fixedpoints.find_fixed_points",
                                                                 "fpkit.fixedpoints.uniform_starts"]
    assert all(w.filename == __file__ for w in record)


def test_importing_the_module_alone_does_not_warn_and_unknown_names_fail():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(fixedpoints)
        assert fixedpoints.__all__ == []
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        fixedpoints.nonsense  # noqa: B018
    assert "find_fixed_points" in dir(fixedpoints)
