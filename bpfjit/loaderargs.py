"""What a loader gives an object file besides its bytes: map sizes, constants, maps.

Loaders fill in what an object leaves to them.  libbpf sizes maps (`max_entries`),
sets the values of the symbols an object leaves undefined (`constants`), and gives a
map that already exists in place of one the object declares (a pinned map, or
`bpf_map__reuse_fd`: one map shared by the programs of several objects).  Some loaders
resolve a map by name where the object only refers to it (aws-network-policy-agent's
tc programs use the connection table and event ring their events object defines,
declaring them as uninitialised variables).  A map of maps may leave its inner
definition to the loader (libbpf's `bpf_map__set_inner_map_fd`, cilium/ebpf's
`MapSpec.InnerMap`: github/glb-director's forwarding tables): `inner_maps` gives it.
bpfjit.elf takes each as a checked dict; this module checks them.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import ElfError
from .maps import Map, MapSpec, ProgArray
from .maps.base import MAP_TYPE_NAMES

__all__ = ["checked_max_entries", "checked_constants", "checked_maps", "check_reusable",
           "checked_inner_maps", "inner_spec", "parse_inner_map"]

_INNER_FIELDS = ("type", "key_size", "value_size", "max_entries")
_TYPE_IDS = {name: kind for kind, name in MAP_TYPE_NAMES.items()}
_MAPS_OF_MAPS = (12, 13)


def checked_max_entries(given: dict[str, int] | None) -> dict[str, int]:
    """`max_entries`: map name -> a positive number of entries."""
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
            for k, v in given.items()):
        raise ElfError(f"max_entries must be a dict of map name -> positive int, not "
                       f"{given!r}")
    return dict(given)


def checked_constants(given: dict[str, int] | None) -> dict[str, int]:
    """`constants`: symbol name -> a 64-bit value."""
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            and -(1 << 63) <= v < 1 << 64 for k, v in given.items()):
        raise ElfError(f"constants must be a dict of symbol name -> int (64 bits), not "
                       f"{given!r}")
    return dict(given)


def checked_maps(given: dict[str, Map] | None) -> dict[str, Map]:
    """`maps`: map name -> a bpfjit map (another program's `.maps[name]`, or one made
    with bpfjit.maps.make_map) that the object's programs use in place of their own."""
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, Map) for k, v in given.items()):
        raise ElfError(f"maps must be a dict of map name -> bpfjit map (a program's "
                       f".maps[name]), not {given!r}")
    for name, the_map in given.items():
        if the_map.spec.inner is not None or isinstance(the_map, ProgArray):
            raise ElfError(f"maps: {name!r} is a {the_map.spec.type_name} map, whose entries "
                           f"belong to the object that made it; bpfjit shares no map of "
                           f"maps or program array between objects")
    return dict(given)


def check_reusable(object_name: str, declared: MapSpec, given: Map) -> None:
    """A map given for one the object declares must be of its definition (as libbpf's
    reuse of a pinned map checks): type, key and value size, entries, flags."""
    mine, theirs = declared, given.spec
    fields = ("type_name", "key_size", "value_size", "max_entries", "flags")
    differ = [f for f in fields if getattr(mine, f) != getattr(theirs, f)]
    if differ:
        said = ", ".join(f"{f.replace('_name', '')} {getattr(mine, f)} (given "
                         f"{getattr(theirs, f)})" for f in differ)
        raise ElfError(f"{object_name}: maps: the map given for {declared.name!r} is not of "
                       f"its definition: {said}")


def checked_inner_maps(given: dict | None) -> dict[str, MapSpec]:
    """`inner_maps`: map of maps name -> its inner maps' definition, a MapSpec or a dict
    of `type` (a name such as "array", or the kernel's number), `key_size`,
    `value_size`, `max_entries` and optionally `flags`."""
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(isinstance(k, str) for k in given):
        raise ElfError(f"inner_maps must be a dict of map name -> inner map definition, "
                       f"not {given!r}")
    return {name: inner_spec(name, definition) for name, definition in given.items()}


def parse_inner_map(text: str) -> tuple[str, dict]:
    """`NAME=TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]` (the command line's
    --inner-map; TYPE a name or a number, the numbers in any base Python reads) as
    (NAME, an `inner_maps` definition); ValueError for any other form."""
    name, _, definition = text.partition("=")
    kind, *numbers = definition.split(":")
    if not name or len(numbers) not in (3, 4):
        raise ValueError(text)
    fields = ("key_size", "value_size", "max_entries", "flags")
    return name, {"type": int(kind, 0) if kind[:1].isdigit() else kind,
                  **dict(zip(fields, (int(n, 0) for n in numbers)))}


def inner_spec(outer: str, definition) -> MapSpec:
    """The MapSpec of one `inner_maps` entry (unnamed, as an inner definition is)."""
    if isinstance(definition, MapSpec):
        spec = replace(definition, name="", initial=None, read_only=False, inner=None,
                       values=())
    elif isinstance(definition, dict):
        spec = _spec_of_dict(outer, definition)
    else:
        raise ElfError(f"inner_maps: {outer!r} takes a MapSpec or a dict of "
                       f"{', '.join(_INNER_FIELDS)} (and flags), not {definition!r}")
    if spec.type in _MAPS_OF_MAPS:
        raise ElfError(f"inner_maps: {outer!r}: an inner map cannot itself be a map of maps "
                       f"(the kernel refuses it)")
    return spec


def _spec_of_dict(outer: str, definition: dict) -> MapSpec:
    missing = [f for f in _INNER_FIELDS if f not in definition]
    unknown = sorted(set(definition) - {*_INNER_FIELDS, "flags"})
    if missing or unknown:
        said = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "") if part)
        raise ElfError(f"inner_maps: {outer!r}: {said} (it takes "
                       f"{', '.join(_INNER_FIELDS)} and optionally flags)")
    kind = definition["type"]
    if isinstance(kind, str):
        if kind not in _TYPE_IDS:
            raise ElfError(f"inner_maps: {outer!r}: no map type {kind!r} (the kernel's are "
                           f"{', '.join(_TYPE_IDS)})")
        kind = _TYPE_IDS[kind]
    numbers = [kind] + [definition[f] for f in _INNER_FIELDS[1:]] + [definition.get("flags", 0)]
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32
               for v in numbers):
        raise ElfError(f"inner_maps: {outer!r}: type, sizes, entries and flags are "
                       f"32-bit numbers, not {definition!r}")
    return MapSpec("", *numbers)
