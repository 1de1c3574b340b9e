from __future__ import annotations

import pytest

from lookout import _internal


def test_optional_dependency_names_the_extra_to_install() -> None:
    with (
        pytest.raises(
            ModuleNotFoundError,
            match=r"the X sink needs no_such_module_here: "
            r"pip install 'lookout\[x\]'",
        ) as caught,
        _internal.optional_dependency("x", "the X sink"),
    ):
        import no_such_module_here  # type: ignore[import-not-found]  # noqa: F401
    assert caught.value.name == "no_such_module_here"


def test_internal_errors_are_swallowed_and_logged_outside_tests(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_internal, "RAISE_INTERNAL_ERRORS", False)
    with _internal.swallow_internal_errors("doing something"):
        raise RuntimeError("bug")
    assert "internal error while doing something" in caplog.text
    monkeypatch.setattr(_internal, "RAISE_INTERNAL_ERRORS", True)
    with pytest.raises(RuntimeError), _internal.swallow_internal_errors("doing it again"):
        raise RuntimeError("bug")
