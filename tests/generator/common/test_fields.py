"""generator.common.fields.known_keys: one rule and one message for every config read from JSON."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from generator.common.fields import known_keys


@dataclass
class _Config:
    lr: float = 0.1
    steps: int = 10


class _Oops(ValueError):
    pass


def test_known_keys_pass_through_as_a_copy() -> None:
    data = {"lr": 0.5}
    out = known_keys(data, _Config, _Oops, "settings")
    assert out == data and out is not data


@pytest.mark.parametrize(("known", "where", "message"), [
    (_Config, "", "unknown settings stesp, zz; known: lr, steps"),
    (("lr", "steps", "name"), "run.json", "unknown settings stesp, zz in run.json; known: lr, name, steps"),
])
def test_unknown_keys_raise_the_callers_error_naming_them(known, where, message) -> None:
    with pytest.raises(_Oops) as exc:
        known_keys({"zz": 1, "lr": 1, "stesp": 3}, known, _Oops, "settings", where)
    assert str(exc.value) == message
