"""Guards: a pointer or NULL whose NULL-ness a number tells.

clang keeps `found = p != NULL` (or "discard this packet") in a register of its own on
each path and tests it later instead of the pointer: Inspektor Gadget's socket filters
set `skb_val = NULL, flag = 1` on one path and `skb_val = lookup(...), flag = 0` on
another, and read through `skb_val` under `if (flag == 0)` after the paths met and ran
on.  The kernel follows each path apart; a join keeps `skb_val` a pointer or NULL and
`flag` in [0, 1], and loses which goes with which.

A guard keeps it: `(v, f) -> (null_lo, null_hi, set_lo, set_hi)` says that on every path
to this point, where v is NULL the number f is in [null_lo, null_hi], and where v is a
pointer f is in [set_lo, set_hi].  The two ranges may meet, but not be one: gtp-guard's
parser returns XDP_PASS or XDP_DROP where its rule is NULL and the rule's action byte
(0-255) where it is not, and its caller reads the rule once the code is past
XDP_REDIRECT, where no NULL return lies.  Ranges apart are kept first (of at most
`_FLAGS_PER_POINTER` numbers).  Guards are made where
paths meet (`joined_guards`: each path's v is NULL, a pointer, or guarded itself), kept
in the zone (bpfjit.verifier.zone: forgotten with either variable or when f moves,
given to a copy of f), and used at a conditional jump (`sides`): once f's range meets
one side only, v is NULL or a pointer, as its NULL test would make it
(bpfjit.verifier.branches).  A widening keeps a guard only where it did not change, so
loop heads settle.
"""

from __future__ import annotations

from typing import Callable

from .domain import MEM_OR_NULL, NULLABLE, SCALAR, SOCKETS, STACK_OR_NULL, Value

__all__ = ["joined_guards", "drop_guards", "copy_guards", "sides", "describe_guards",
           "exit_guards", "joined_exit_guards", "returned_guard",
           "GUARDED", "joined_len_floors", "joined_exit_floors", "len_floor", "moved_floors"]

# what a guard may tell of: the pointers or NULL but sockets (whose references a NULL
# test also settles, bpfjit.verifier.sockets)
GUARDED = frozenset(NULLABLE) - SOCKETS
_FLAGS_PER_POINTER = 4          # numbers kept as guards of one pointer, at most

Range = tuple[int, int]


def drop_guards(guards: dict, x: int) -> None:
    """Variable x takes another value: its guards, as pointer or as number, are gone."""
    for key in [k for k in guards if x in k]:
        del guards[key]


def copy_guards(guards: dict, x: int, y: int, c: int) -> None:
    """x := y + c: a number y that guards a pointer guards it as x too (moved by c)."""
    for (v, f), (nlo, nhi, slo, shi) in list(guards.items()):
        if f == y and v != x:
            guards[(v, x)] = (nlo + c, nhi + c, slo + c, shi + c)


def sides(guard: tuple[int, int, int, int], f: Value) -> tuple[bool, bool]:
    """(whether v may be NULL, whether it may be a pointer) where f holds `f`."""
    nlo, nhi, slo, shi = guard
    return f.smin <= nhi and nlo <= f.smax, f.smin <= shi and slo <= f.smax


def joined_guards(joined, states: list, pointers: list[int], numbers: list[int],
                  widening: bool = False) -> dict:
    """The guards that hold where `states` meet as `joined` (States; `pointers`: its
    variables that are a pointer or NULL of a GUARDED kind, `numbers` its scalars not
    constant).  Widening (states = old, new): only the old state's guards that the new
    one leaves as they were."""
    out = {}
    for v in pointers:
        value = joined.value_of(v)
        base = NULLABLE[value.kind]
        null = value.frame if value.kind == MEM_OR_NULL else 0     # (NULL, or NULL moved)
        paths = [_path(st, v, base, null) for st in states]
        if None in paths:
            continue
        guarded = [p for p in paths if isinstance(p, dict)]
        candidates = numbers if not guarded else \
            [f for f in numbers if all(f in p for p in guarded)]
        apart, meeting = [], []
        for f in candidates:
            if f == v:
                continue
            guard = _joined(states, paths, f)
            if guard is None or (widening and states[0].zone.guards.get((v, f)) != guard):
                continue
            (apart if _apart(guard) else meeting).append((f, guard))
            if len(apart) == _FLAGS_PER_POINTER:
                break
        for f, guard in (apart + meeting)[:_FLAGS_PER_POINTER]:
            out[(v, f)] = guard
    return out


def _apart(guard: tuple[int, int, int, int]) -> bool:
    """Whether a guard's two ranges do not meet (any test of f may settle v)."""
    nlo, nhi, slo, shi = guard
    return nhi < slo or shi < nlo


def _path(st, v: int, base: str, null: int = 0):
    """What v is on one path: "null" (the number `null`: NULL, or NULL moved), "set" (a
    pointer of the joined kind's base), the guards of v there ({f: guard}), or None (a
    pointer or NULL nothing tells)."""
    w = st.value_of(v)
    if w is None:
        return None
    if w.kind == SCALAR and w.is_const and w.umin == null:
        return "null"
    if w.kind == base:
        return "set"
    if w.kind in GUARDED and st.zone.guards:
        found = {f: g for (u, f), g in st.zone.guards.items() if u == v}
        return found or None
    return None


def _joined(states: list, paths: list, f: int) -> tuple[int, int, int, int] | None:
    """The guard of number f over every path, or None where its two sides are one range
    (no value of f tells them apart)."""
    null: Range | None = None
    pointer: Range | None = None
    for st, path in zip(states, paths):
        value = st.value_of(f)
        if value is None or value.kind != SCALAR:
            return None
        here = (value.smin, value.smax)
        if path == "null":
            null = _hull(null, here)
        elif path == "set":
            pointer = _hull(pointer, here)
        else:
            nlo, nhi, slo, shi = path[f]
            null = _hull(null, _meet((nlo, nhi), here))
            pointer = _hull(pointer, _meet((slo, shi), here))
    if null is None or pointer is None or null == pointer:
        return None
    return null + pointer


def _hull(a: Range | None, b: Range | None) -> Range | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), max(a[1], b[1])


def _meet(a: Range, b: Range) -> Range | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def describe_guards(guards: dict, name: Callable[[int], str]) -> list[str]:
    """Each guard as the verifier log shows it."""
    return [f"{name(v)} NULL when {name(f)} in [{nlo},{nhi}], not NULL when {name(f)} in "
            f"[{slo},{shi}]" for (v, f), (nlo, nhi, slo, shi) in sorted(guards.items())]


# ---- a callee's returns: how r0 tells of its callers' slots ------------------------------
#
# A parser stores a lookup's result in its caller's struct and returns a code that says
# whether it found one.  The callee's summary keeps, for each such slot, r0's range over
# the returns where the slot is NULL and over those where it is a pointer (`exit_guards`
# at each return, `joined_exit_guards` over them), and the caller gets a guard of the
# slot by r0 (`returned_guard`) when the two ranges differ.  A stack pointer or NULL
# is left out: its frame moves down one at the return.

_RETURN_GUARDED = GUARDED - {STACK_OR_NULL}
_RETURN_BASES = frozenset(NULLABLE[kind] for kind in _RETURN_GUARDED)

ExitGuard = tuple  # (r0's range where NULL or None, where a pointer or None, its kind)


def exit_guards(st, slots: dict[int, tuple[int, Value]]) -> dict[int, ExitGuard]:
    """At a return in state `st`: of the callers' slots (key -> (variable, value)),
    those NULL, a pointer, or a pointer or NULL that a guard by r0 tells of, with r0's
    ranges where each is NULL and where it is a pointer."""
    r0 = st.regs[0]
    if r0.kind != SCALAR or not slots:
        return {}
    here = (r0.smin, r0.smax)
    out = {}
    for key, (var, v) in slots.items():
        if v.kind == SCALAR and v.is_const and v.umin == 0:
            out[key] = (here, None, None)
        elif v.kind in _RETURN_BASES:
            out[key] = (None, here, v.kind)
        elif v.kind in _RETURN_GUARDED and not (v.kind == MEM_OR_NULL and v.frame):
            guard = st.zone.guards.get((var, 0)) if st.zone.guards else None
            if guard is not None:
                out[key] = (_meet(guard[:2], here), _meet(guard[2:], here), NULLABLE[v.kind])
    return out


def joined_exit_guards(old: dict[int, ExitGuard] | None, new: dict[int, ExitGuard]
                       ) -> dict[int, ExitGuard]:
    """The slots' ranges over the returns so far (`old`, None before the first) and one
    more (`new`): a slot one of them leaves out, or a pointer of another kind, is gone."""
    if old is None:
        return new
    out = {}
    for key, (null, pointer, kind) in old.items():
        if key not in new:
            continue
        more_null, more_pointer, more_kind = new[key]
        if kind and more_kind and kind != more_kind:
            continue
        out[key] = (_hull(null, more_null), _hull(pointer, more_pointer), kind or more_kind)
    return out


def returned_guard(exit_guard: ExitGuard, v: Value) -> tuple[int, int, int, int] | None:
    """The guard by r0 that a caller's slot holding `v` after the call gets from the
    callee's returns, if r0 tells anything of it."""
    null, pointer, kind = exit_guard
    if null is None or pointer is None or null == pointer or v.kind not in _RETURN_GUARDED \
            or NULLABLE[v.kind] != kind or (v.kind == MEM_OR_NULL and v.frame):
        return None
    return null + pointer


# ---- len floors: a number that tells how long the buffer was checked to be -------------
#
# clang parses a header per protocol (TCP 20 bytes, UDP 8) at one offset, each path
# checking its own length, and uses it after the paths met, under a test of the
# protocol: `f -> ((lo, hi, m), ...)` says that on every path to this point where the
# number f was in [lo, hi], len >= m (ranges apart, sorted).  Made where paths meet
# (`joined_len_floors`), used after a branch narrows f (`len_floor`), kept in the zone
# (forgotten with f or len, moved with f, given to a copy of f).

_FLOOR_RANGES = 8               # ranges kept for one number, at most


def joined_len_floors(joined, states: list, numbers: list[int], widening: bool = False
                      ) -> dict:
    """The len floors that hold where `states` meet as `joined` (of its `numbers`, the
    scalars not constant); widening (states = old, new): the old ones left unchanged."""
    out = {}
    for f in numbers:
        entries: list[tuple[int, int, int]] = []
        for st in states:
            w = st.value_of(f)
            if w is None or w.kind != SCALAR:
                break
            entries += _path_floors(st, f, w)
        else:
            merged = _disjoint(entries)
            if merged is None or len(merged) < 2 or \
                    max(m for _, _, m in merged) <= joined.min_len:
                continue
            if widening and states[0].zone.lenfloors.get(f) != merged:
                continue
            out[f] = merged
    return out


def joined_exit_floors(floors: tuple | None, st) -> tuple | None:
    """A subprogram's len floors of r0 (Summary.r0_floors) once its return in state
    `st` joins the returns before it (`floors`; None before the first): None where r0
    is not a number or its ranges do not stay few."""
    w = st.regs[0]
    if w.kind != SCALAR:
        return None
    return _disjoint(list(floors or ()) + _path_floors(st, 0, w))


def _path_floors(st, f: int, w: Value) -> list[tuple[int, int, int]]:
    """What one path says: its own floors for f within f's range there, the rest of
    that range at its min len."""
    own = st.zone.lenfloors.get(f) if st.zone.lenfloors else None
    if not own:
        return [(w.smin, w.smax, st.min_len)]
    out, at = [], w.smin
    for lo, hi, m in own:
        lo, hi = max(lo, w.smin), min(hi, w.smax)
        if lo > hi:
            continue
        if at < lo:
            out.append((at, lo - 1, st.min_len))
        out.append((lo, hi, max(m, st.min_len)))
        at = hi + 1
    if at <= w.smax:
        out.append((at, w.smax, st.min_len))
    return out


def _disjoint(entries: list[tuple[int, int, int]]) -> tuple | None:
    """Overlapping ranges merged (the least floor of the two), sorted; None past
    _FLOOR_RANGES ranges or for a range without bounds."""
    merged: list[list[int]] = []
    for lo, hi, m in sorted(entries):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
            merged[-1][2] = min(merged[-1][2], m)
        else:
            merged.append([lo, hi, m])
    if len(merged) > _FLOOR_RANGES:
        return None
    return tuple((lo, hi, m) for lo, hi, m in merged)


def len_floor(floors: tuple, f: Value) -> int | None:
    """The least len the floors give where f holds `f`: the least floor of the ranges f
    may be in, if every value of f lies in one (else None)."""
    covered, least, at = True, None, f.smin
    for lo, hi, m in floors:
        if hi < f.smin or lo > f.smax:
            continue
        if lo > at:
            covered = False
        least = m if least is None else min(least, m)
        at = max(at, hi + 1)
    if at <= f.smax:
        covered = False
    return least if covered else None


def moved_floors(floors: tuple, c: int) -> tuple:
    """The floors of f + c."""
    return tuple((lo + c, hi + c, m) for lo, hi, m in floors)
