"""The model's records: dataclasses built from closures, without compiled code or the dataclasses
module at start-up.

`dataclasses.dataclass(frozen=True)` writes each class's __init__, __repr__, __eq__, __hash__,
__setattr__ and __delattr__ as source text and compiles it with exec() when the class is defined,
and the bytecode cache cannot keep that: about 0.4 ms a class, 12 ms of every `python -m app`
command for the thirty records the model defines; importing dataclasses costs 8 ms more (it
imports inspect, ast, dis and tokenize). `frozen` makes the same classes from closures (issue 12):
positional or keyword construction with defaults and default factories, the same repr, equality
over the compared fields of the same class, a hash of the same tuple (the same hash values),
FrozenInstanceError on assignment or deletion. They are still dataclasses to whoever asks:
dataclasses.fields(), replace(), asdict() and is_dataclass() work, from real dataclasses.Field
objects built the first time one is asked for (by which time the asker has imported dataclasses).
tests/model/test_records.py holds each behaviour to a real dataclass's.
"""
from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # no default given


class Field:
    """What `field()` records about one field, as dataclasses.field does (the options the model uses)."""

    __slots__ = ("default", "default_factory", "compare", "repr")

    def __init__(self, default: Any, default_factory: Any, compare: bool, repr: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING,
          compare: bool = True, repr: bool = True) -> Any:
    """dataclasses.field, for records (typed Any so that `x: int = field(default=0)` checks)."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, compare, repr)


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """obj -> (obj.a, obj.b, ...): the tuple the generated __eq__ and __hash__ build."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)  # several names: already a tuple, built in C


def _fields_of(cls: type) -> dict[str, Field]:
    """The class's annotated fields in order, each with its options; the class attributes left as
    dataclass leaves them (the default value, or nothing)."""
    fields: dict[str, Field] = {}
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "InitVar", "typing.ClassVar", "dataclasses.")):
            raise TypeError(f"{cls.__name__}.{name}: records support plain fields only")
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(value, MISSING, True, True)
        if spec.default is MISSING and name in cls.__dict__:
            delattr(cls, name)
        elif isinstance(value, Field):
            setattr(cls, name, spec.default)
        if isinstance(spec.default, (list, dict, set)):  # shared between instances: refused, as dataclass does
            raise ValueError(f"mutable default {type(spec.default)} for field {name} is not allowed: "
                             "use default_factory")
        fields[name] = spec
    defaulted = False
    for name, spec in fields.items():
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        if defaulted and not has_default:  # what dataclass refuses too
            raise TypeError(f"non-default argument {name!r} follows default argument")
        defaulted = defaulted or has_default
    return fields


def _init(cls: type, fields: dict[str, Field]) -> Callable[..., None]:
    names = tuple(fields)
    known = frozenset(names)
    count = len(names)
    # name -> () -> default value, for the fields that have one (a default_factory is called
    # for every instance, as the generated __init__ does).
    defaults: dict[str, Callable[[], Any]] = {}
    for name, spec in fields.items():
        if spec.default is not MISSING:
            defaults[name] = (lambda value: lambda: value)(spec.default)
        elif spec.default_factory is not MISSING:
            defaults[name] = spec.default_factory
    required = count - len(defaults)  # defaults come last (_fields_of)
    qualname = f"{cls.__qualname__}.__init__()"
    # For each number of positional arguments, the trailing fields left to their defaults
    # (without a default_factory, the same values every time: one dict, copied in).
    plain = all(spec.default_factory is MISSING for spec in fields.values())
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


def _compiled_eq(names: tuple[str, ...]) -> Callable[[Any, Any], Any]:
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


def _compiled_init(fields: dict[str, Field]) -> Callable[..., None] | None:
    """A mutable record's __init__ as dataclass generates it (plain assignments), compiled: three
    times as fast as the generic one, and the engine builds a StepResult at every step. None
    when a field has a default_factory (the generic __init__ serves)."""
    if any(spec.default_factory is not MISSING for spec in fields.values()):
        return None
    params = ", ".join(name if spec.default is MISSING else f"{name}=_default_{name}" for name, spec in fields.items())
    body = "".join(f"    self.{name} = {name}\n" for name in fields) or "    pass\n"
    namespace: dict[str, Any] = {f"_default_{name}": spec.default for name, spec in fields.items()}
    exec(f"def __init__(self, {params}):\n{body}", namespace)  # noqa: S102 - from the class's own field names
    return namespace["__init__"]  # type: ignore[no-any-return]


class _AsDataclass:
    """A class's __dataclass_fields__ (or __dataclass_params__): on first access, the real
    dataclasses objects, from a twin class that dataclasses processes (public API only), stored
    on the class in place of this descriptor. Whoever asks has imported dataclasses already."""

    def __init__(self, fields: dict[str, Field], frozen: bool, attribute: str) -> None:
        self.fields = fields
        self.frozen = frozen
        self.attribute = attribute

    def __get__(self, obj: object, owner: type) -> Any:
        import dataclasses

        namespace: dict[str, Any] = {"__module__": owner.__module__, "__qualname__": owner.__qualname__,
                                     "__doc__": owner.__doc__, "__annotations__": {}}
        for name, spec in self.fields.items():
            namespace["__annotations__"][name] = owner.__dict__["__annotations__"][name]
            namespace[name] = dataclasses.field(
                default=dataclasses.MISSING if spec.default is MISSING else spec.default,
                default_factory=dataclasses.MISSING if spec.default_factory is MISSING else spec.default_factory,
                compare=spec.compare, repr=spec.repr)
        twin = dataclasses.dataclass(init=False, repr=False, eq=False)(type(owner.__name__, (), namespace))
        params = twin.__dataclass_params__  # type: ignore[attr-defined]
        params.init = params.repr = params.eq = True
        params.frozen = self.frozen
        type.__setattr__(owner, "__dataclass_fields__", twin.__dataclass_fields__)  # type: ignore[attr-defined]
        type.__setattr__(owner, "__dataclass_params__", params)
        return getattr(owner, self.attribute)


def _build(cls: type[T], frozen: bool, compiled_eq: bool) -> type[T]:
    own = dict(cls.__dict__)
    fields = _fields_of(cls)
    names = tuple(fields)
    known = frozenset(names)
    compared_names = tuple(name for name, spec in fields.items() if spec.compare)
    compared = _tuple_getter(compared_names)
    shown = tuple(name for name, spec in fields.items() if spec.repr)

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
        if type(self) is cls or name in known:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[misc]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in known:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[misc]

    methods: dict[str, Any] = {"__init__": (None if frozen else _compiled_init(fields)) or _init(cls, fields),
                               "__eq__": _compiled_eq(compared_names) if compiled_eq else __eq__}
    if frozen:
        methods.update(__setattr__=__setattr__, __delattr__=__delattr__)
        if "__hash__" not in own:
            methods["__hash__"] = __hash__
    elif "__hash__" not in own:
        methods["__hash__"] = None  # a mutable record compares by value: unhashable, as a dataclass
    if "__repr__" not in own:
        methods["__repr__"] = __repr__
    for name, method in methods.items():
        if method is not None:
            method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if "__match_args__" not in own:
        cls.__match_args__ = names  # type: ignore[attr-defined]
    if not own.get("__doc__"):
        cls.__doc__ = f"{cls.__name__}({', '.join(names)})"
    cls.__record_fields__ = names  # type: ignore[attr-defined]
    cls.__record_compared__ = compared_names  # type: ignore[attr-defined]
    for attribute in ("__dataclass_fields__", "__dataclass_params__"):
        setattr(cls, attribute, _AsDataclass(fields, frozen, attribute))
    return cls


def frozen(cls: type[T], compiled_eq: bool = False) -> type[T]:
    """@dataclass(frozen=True), built from closures (see the module's docstring). A __hash__ or
    __repr__ the class defines itself is kept, as dataclass keeps it. With ``compiled_eq``,
    __eq__ is compiled as dataclass does (for the explorer's hot records)."""
    return _build(cls, frozen=True, compiled_eq=compiled_eq)


def mutable(cls: type[T]) -> type[T]:
    """@dataclass (not frozen), built the same way: fields may be reassigned; unhashable."""
    return _build(cls, frozen=False, compiled_eq=False)


def replace(obj: T, **changes: Any) -> T:
    """dataclasses.replace for records: a new record, through __init__, with ``changes``."""
    values = {name: getattr(obj, name) for name in obj.__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return obj.__class__(**values)  # type: ignore[call-arg]


def compared_tuple(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """obj -> the tuple of its compared fields (what the class's __eq__ and __hash__ use)."""
    return _tuple_getter(cls.__record_compared__)  # type: ignore[attr-defined]
