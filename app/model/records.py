"""Frozen dataclasses whose methods are built without compiling code.

`dataclasses.dataclass(frozen=True)` writes each class's __init__, __repr__, __eq__, __hash__,
__setattr__ and __delattr__ as source text and compiles it with exec() when the class is defined,
and the bytecode cache cannot keep that: about 0.4 ms a class, 12 ms of every `python -m app`
command for the thirty records the model defines (issue 12). `frozen` makes the same classes from
closures instead: they are still dataclasses (fields(), replace() and asdict() work, every
field option the model uses is honoured) and behave as the generated methods do: positional or
keyword construction with defaults, the same repr, equality over the compared fields of the same
class, a hash of the same tuple (so the same hash values), and FrozenInstanceError on assignment
or deletion. A test compares each record's behaviour with a real frozen dataclass.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar

T = TypeVar("T")


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """obj -> (obj.a, obj.b, ...): the tuple the generated __eq__ and __hash__ build."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)  # several names: already a tuple, built in C


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    count = len(names)
    # name -> () -> default value, for the fields that have one (a default_factory is called
    # for every instance, as the generated __init__ does).
    defaults: dict[str, Callable[[], Any]] = {}
    for f in fields:
        if f.default is not MISSING:
            defaults[f.name] = (lambda value: lambda: value)(f.default)
        elif f.default_factory is not MISSING:
            defaults[f.name] = f.default_factory  # type: ignore[assignment]
    required = sum(1 for name in names if name not in defaults)  # dataclass: defaults come last
    qualname = f"{cls.__qualname__}.__init__()"
    # For each number of positional arguments, the trailing fields left to their defaults
    # (without a default_factory, the same values every time: one dict, copied in).
    plain = all(f.default_factory is MISSING for f in fields)
    tails = {given: {name: defaults[name]() for name in names[given:]} for given in range(required, count + 1)}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if not kwargs and required <= given <= count:
            # The common call: every field positional, the last ones perhaps left to defaults.
            d = self.__dict__
            d.update(zip(names, args))
            if given < count:
                d.update(tails[given] if plain else {name: defaults[name]() for name in names[given:]})
            return
        if given > count:
            raise TypeError(f"{qualname} takes {count + 1} positional arguments but {given + 1} were given")
        values = dict(zip(names, args))
        for name in kwargs:
            if name not in known:
                raise TypeError(f"{qualname} got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{qualname} got multiple values for argument {name!r}")
        values.update(kwargs)
        ordered = {}  # fields in declaration order, as the generated __init__ assigns them
        for name in names:
            if name in values:
                ordered[name] = values[name]
            elif name in defaults:
                ordered[name] = defaults[name]()
            else:
                raise TypeError(f"{qualname} missing required argument: {name!r}")
        self.__dict__.update(ordered)

    return __init__


def _compiled_eq(cls: type, names: tuple[str, ...]) -> Callable[[Any, Any], Any]:
    """The __eq__ dataclass generates, compiled: twice as fast as a generic one, and the
    explorer compares worlds and records hundreds of thousands of times a search."""
    mine = "".join(f"self.{n}," for n in names)
    theirs = "".join(f"other.{n}," for n in names)
    source = (
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return ({mine}) == ({theirs})\n"
        "    return NotImplemented\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - built from the class's own field names
    return namespace["__eq__"]  # type: ignore[no-any-return]


def frozen(cls: type[T], compiled_eq: bool = False) -> type[T]:
    """@dataclass(frozen=True) without compiled methods (see the module's docstring). A
    __hash__ or __repr__ the class defines itself is kept, as dataclass keeps it. With
    ``compiled_eq``, __eq__ is compiled as dataclass does (for the explorer's hot records)."""
    own = dict(cls.__dict__)
    if not own.get("__doc__"):  # dataclass would otherwise build one with inspect.signature()
        cls.__doc__ = f"{cls.__name__}({', '.join(own.get('__annotations__', {}))})"
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = tuple(dataclasses.fields(cls))  # type: ignore[arg-type]
    defaulted = False
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: frozen() supports init fields only")
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if defaulted and not has_default:  # what dataclass's own __init__ refuses too
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        defaulted = defaulted or has_default
    names = frozenset(f.name for f in fields)
    compared_names = tuple(f.name for f in fields if f.compare)
    compared = _tuple_getter(compared_names)
    shown = tuple(f.name for f in fields if f.repr)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(compared(self))

    @recursive_repr()
    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[misc]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[misc]

    methods: dict[str, Any] = {"__init__": _init(cls, fields),
                               "__eq__": _compiled_eq(cls, compared_names) if compiled_eq else __eq__,
                               "__setattr__": __setattr__,
                               "__delattr__": __delattr__}
    if "__hash__" not in own:
        methods["__hash__"] = __hash__
    if "__repr__" not in own:
        methods["__repr__"] = __repr__
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    # What dataclass(frozen=True) would record, for anything that reads it (e.g. a subclass).
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init = params.repr = params.eq = params.frozen = True
    return cls


def compared_tuple(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """obj -> the tuple of its compared fields (what the class's __eq__ and __hash__ use)."""
    return _tuple_getter(tuple(f.name for f in dataclasses.fields(cls) if f.compare))
