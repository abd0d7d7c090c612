"""References where paths meet: one pointer, one name (bpfjit.verifier.sockets, .records).

A reference is named by the call that took it.  Two paths may hold different ones in
the same register or slot (`sk = tcp ? bpf_skc_lookup_tcp(...) : bpf_sk_lookup_udp(...)`,
which clang merges into one register); before their states are joined, each path's
references there are renamed to the lowest, so the join keeps one pointer holding one
reference that one bpf_sk_release gives back."""

from __future__ import annotations

from .domain import Value, replace

__all__ = ["unify_refs"]


def unify_refs(states: list) -> list:
    """Paths that hold different references in the same register or slot (`sk = tcp ?
    bpf_skc_lookup_tcp(...) : bpf_sk_lookup_udp(...)`) with each reference renamed to
    the lowest one there, so that the join keeps one pointer holding one reference
    (unless a path already holds that name for another: then the join makes the value
    unusable, and its reference is never given back)."""
    if not any(st.refs for st in states):
        return states
    places = [(i, None) for i in range(11)]
    common = set(states[0].spills).intersection(*(st.spills for st in states[1:]))
    places += [(None, key) for key in sorted(common)]
    names: list[dict[int, int]] = [{} for _ in states]
    for reg, key in places:
        held = []
        for st in states:
            v = st.regs[reg] if reg is not None else st.spills[key]
            held.append(abs(v.ref) if v.ref else 0)
        present = {r for r in held if r}
        if len(present) < 2:
            continue
        target = min(present)
        for i, r in enumerate(held):
            if r and r != target and target not in states[i].refs:
                names[i].setdefault(r, target)
    return [_renamed(st, n) if n else st for st, n in zip(states, names)]


def _renamed(st, names: dict[int, int]):
    """A copy whose references are renamed (old -> new)."""
    def rename(v: Value) -> Value:
        if v.ref and abs(v.ref) in names:
            new = names[abs(v.ref)]
            return replace(v, ref=new if v.ref > 0 else -new)
        return v
    st = st.copy()
    st.regs = [rename(v) for v in st.regs]
    st.spills = {key: rename(v) for key, v in st.spills.items()}
    st.refs = frozenset(names.get(r, r) for r in st.refs)
    return st
