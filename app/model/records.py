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
            defaults[f.name] = f.default_factory
    qualname = f"{cls.__qualname__}.__init__()"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > count:
            raise TypeError(f"{qualname} takes {count + 1} positional arguments but {len(args) + 1} were given")
        values = dict(zip(names, args))
        if kwargs:
            for name in kwargs:
                if name not in known:
                    raise TypeError(f"{qualname} got an unexpected keyword argument {name!r}")
                if name in values:
                    raise TypeError(f"{qualname} got multiple values for argument {name!r}")
            values.update(kwargs)
        if len(values) < count or kwargs:
            # Fields in declaration order, as the generated __init__ assigns them.
            ordered = {}
            for name in names:
                if name in values:
                    ordered[name] = values[name]
                elif name in defaults:
                    ordered[name] = defaults[name]()
                else:
                    raise TypeError(f"{qualname} missing required argument: {name!r}")
            values = ordered
        self.__dict__.update(values)

    return __init__


def frozen(cls: type[T]) -> type[T]:
    """@dataclass(frozen=True) without compiled methods (see the module's docstring). A
    __hash__ or __repr__ the class defines itself is kept, as dataclass keeps it."""
    own = dict(cls.__dict__)
    if not own.get("__doc__"):  # dataclass would otherwise build one with inspect.signature()
        cls.__doc__ = f"{cls.__name__}({', '.join(own.get('__annotations__', {}))})"
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = tuple(dataclasses.fields(cls))  # type: ignore[arg-type]
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: frozen() supports init fields only")
    names = frozenset(f.name for f in fields)
    compared = _tuple_getter(tuple(f.name for f in fields if f.compare))
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

    methods: dict[str, Any] = {"__init__": _init(cls, fields), "__eq__": __eq__, "__setattr__": __setattr__,
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
