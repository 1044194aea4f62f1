"""records.frozen builds the model's records without compiled code: each must behave as the
dataclass(frozen=True) it replaces (construction, defaults, repr, equality, hash, immutability,
and the dataclasses functions the model and the tests use on them)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from app.model.kernel import records
from app.model.kernel.records import frozen, mutable
from app.model.scenarios.loader import load_all
from app.model.kernel.state import Cpu, HeapObject, Origin, Violation, World


def _pair(compiled_eq: bool = False):  # type: ignore[no-untyped-def]
    """The same class twice: once a real frozen dataclass, once records.frozen."""

    def body(field) -> type:  # type: ignore[no-untyped-def]
        class Rec:
            a: int
            b: str
            c: tuple[int, ...] = ()
            hist: int = field(default=0, compare=False)
            secret: str = field(default="", repr=False)
            items: list[int] = field(default_factory=list)

        return Rec

    return dataclass(frozen=True)(body(dataclasses.field)), frozen(body(records.field), compiled_eq=compiled_eq)


CALLS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    ((1, "x"), {}),
    ((1, "x", (2, 3)), {}),
    ((1, "x", (2,), 5, "s", [7]), {}),
    ((), {"b": "y", "a": 2}),
    ((3,), {"b": "z", "hist": 9, "items": [1]}),
]


@pytest.mark.parametrize("compiled_eq", [False, True])
@pytest.mark.parametrize("args,kwargs", CALLS)
def test_construction_repr_eq_hash_match_dataclass(compiled_eq: bool, args: tuple[object, ...],
                                                   kwargs: dict[str, object]) -> None:
    real_cls, ours_cls = _pair(compiled_eq)
    real, ours = real_cls(*args, **kwargs), ours_cls(*args, **kwargs)
    assert repr(ours) == repr(real)
    assert vars(ours) == vars(real) and list(vars(ours)) == list(vars(real))  # same fields, same order
    assert dataclasses.asdict(ours) == dataclasses.asdict(real)
    assert ours == ours_cls(*args, **kwargs)
    assert ours != real and (ours == real) is False  # another class: NotImplemented both ways
    if isinstance(ours.items, list) and not ours.items:
        assert ours.items is not ours_cls(*args, **kwargs).items  # a fresh default_factory value
    # Fields with compare=False take no part; the others all do.
    assert ours == dataclasses.replace(ours, hist=ours.hist + 1)
    assert ours != dataclasses.replace(ours, a=ours.a + 1)
    assert ours != dataclasses.replace(ours, secret="other")


def test_hash_is_the_dataclass_hash() -> None:
    real_cls, ours_cls = _pair()
    real, ours = real_cls(1, "x", (2,), 4), ours_cls(1, "x", (2,), 4)
    with pytest.raises(TypeError):  # a list field: unhashable, as the dataclass
        hash(real)
    with pytest.raises(TypeError):
        hash(ours)
    o = Origin(1, 2, "f", "t", ("A1",))
    assert hash(o) == hash((1, 2, "f", "t", ("A1",)))
    heap = HeapObject(0x10, "entry", "struct zswap_entry", "zswap_entry", 80, False, "e", o, None)
    assert hash(heap) == hash((0x10, "entry", "struct zswap_entry", "zswap_entry", 80, False))


@pytest.mark.parametrize("args,kwargs,words", [
    ((), {"a": 1}, "missing required argument: 'b'"),
    ((1,), {}, "missing required argument: 'b'"),
    ((1, "x"), {"z": 1}, "unexpected keyword argument 'z'"),
    ((1, "x"), {"a": 1}, "multiple values for argument 'a'"),
    ((1, "x", (), 0, "", [], 9), {}, "takes 7 positional arguments but 8 were given"),
])
def test_bad_calls_are_refused_as_dataclass_refuses_them(args: tuple[object, ...], kwargs: dict[str, object],
                                                         words: str) -> None:
    real_cls, ours_cls = _pair()
    with pytest.raises(TypeError):
        real_cls(*args, **kwargs)
    with pytest.raises(TypeError, match=words):
        ours_cls(*args, **kwargs)


def test_frozen_and_still_a_dataclass() -> None:
    _real_cls, ours_cls = _pair()
    ours = ours_cls(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
        ours.a = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'b'"):
        del ours.b
    assert dataclasses.is_dataclass(ours)
    assert ours_cls.__dataclass_params__.frozen and ours_cls.__dataclass_params__.eq
    assert [f.name for f in dataclasses.fields(ours)] == ["a", "b", "c", "hist", "secret", "items"]
    assert ours_cls.__match_args__ == ("a", "b", "c", "hist", "secret", "items")


def test_a_required_field_after_a_default_is_refused() -> None:
    class Bad:
        a: int = 0
        b: int

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        frozen(Bad)


def test_model_records_keep_their_dataclass_behaviour() -> None:
    world = next(iter(load_all().values()))
    from app.model.scenarios.initial import initial_world

    w = initial_world(world, "old")
    assert dataclasses.replace(w, steps=5) == w  # steps and part_hashes are history, not state
    assert dataclasses.replace(w, zswap_trees=None) != w
    assert "part_hashes" not in repr(w) and repr(w).startswith("World(cpus=(Cpu(id=1, ")
    cpu = w.cpu(1)
    assert Cpu(cpu.id, cpu.actor, cpu.pc, cpu.stack, cpu.locals) == cpu  # state and result defaulted
    v = Violation(kind="leak", cpu=None, step_id=None, object=1, detail="d", at=3)
    assert v == Violation("leak", None, None, 1, "d") and v.frames == ()
    assert isinstance(World.__dataclass_fields__, dict)


def test_dataclasses_functions_see_the_same_fields() -> None:
    real_cls, ours_cls = _pair()
    describe = [(f.name, f.type, f.default, f.default_factory, f.compare, f.repr, f.init)
                for f in dataclasses.fields(real_cls)]
    assert [(f.name, f.type, f.default, f.default_factory, f.compare, f.repr, f.init)
            for f in dataclasses.fields(ours_cls)] == describe
    ours = ours_cls(1, "x", (2,), 3, "s", [4])
    assert records.replace(ours, b="y") == dataclasses.replace(ours, b="y") == ours_cls(1, "y", (2,), 3, "s", [4])
    with pytest.raises(TypeError):
        records.replace(ours, nope=1)


def test_a_mutable_record_compares_by_value_and_is_unhashable() -> None:
    class Result:
        world: int
        notes: list[str]
        local: bool = False

    real_cls = dataclass(type("Result", (), {"__annotations__": dict(Result.__annotations__), "local": False,
                                             "__module__": __name__}))
    ours_cls = mutable(Result)
    ours, real = ours_cls(1, ["a"]), real_cls(1, ["a"])
    assert ours == ours_cls(1, ["a"], False) and ours != ours_cls(1, ["a"], True)
    assert repr(ours) == repr(real).replace(real_cls.__qualname__, ours_cls.__qualname__)
    ours.world = 2  # not frozen
    assert ours.world == 2
    with pytest.raises(TypeError):
        hash(ours)
    assert dataclasses.fields(ours_cls)[0].name == "world"
