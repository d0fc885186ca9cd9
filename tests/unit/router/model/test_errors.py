"""Every error the router declares derives from the one root, so a caller can catch them all."""

from __future__ import annotations


def test_every_error_derives_from_the_single_root() -> None:
    import router.model.errors as errors
    from venues.errors import CrossrouteError

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CrossrouteError)
