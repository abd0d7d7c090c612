"""Random calls of every kernel helper from XDP and tc programs, arguments chosen by
the helper's signature (right kinds, a map it may take, hostile values): every engine
must give the same result, packet, maps and error (type and pc).  A seeded, bounded
slice."""

import random

import pytest

import bpfjit
from bpfjit.helpers import KERNEL_HELPERS
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

# the maps programs get: one of each kind the helpers take
SPECS = [MapSpec("records", 27, 0, 0, 4096), MapSpec("samples", 4, 4, 4, 1),
         MapSpec("array", 2, 4, 8, 4), MapSpec("hash", 1, 4, 8, 4),
         MapSpec("queue", 22, 0, 8, 4), MapSpec("lru", 9, 4, 8, 2),
         MapSpec("ports", 14, 4, 4, 4), MapSpec("jumps", 3, 4, 4, 2)]
VALUES = [0, 1, 4, 8, 14, 20, 64, 255, 4096, -1, -8, -32, -256, 0x7FFFFFFF, -0x80000000]
DATA = {"xdp": 0, "skb": 76}          # where each context keeps `data`


def fitting_maps(helper: int) -> list[int]:
    """Indices of the maps this helper may take (as the verifier requires)."""
    spec = KERNEL_HELPERS[helper]
    out = []
    for i, map_spec in enumerate(SPECS):
        allowed = make_map(map_spec).PROGRAM_HELPERS
        types = spec.signature.map_types
        if (types is None or map_spec.type in types) and (allowed is None
                                                          or spec.name in allowed):
            out.append(i)
    return out


# the helpers drawn: those whose arguments the generator fills (not a callback's
# subprogram: bpf_loop and for_each_map_elem have tests of their own; not the socket
# lookups, whose reference a program must give back: tests/test_sk_lookup.py; not
# those taking only maps not drawn here, as socket maps)
DRAWN = sorted(h for h, spec in KERNEL_HELPERS.items()
               if not {"callback", "timer_callback", "sock_common", "sock_release"}
               & set(spec.signature.args)
               and spec.signature.result not in ("sock_or_null", "sock_common_or_null")
               and (spec.signature.contexts is None
                    or {"xdp", "skb"} & spec.signature.contexts)
               and ("map" not in spec.signature.args or fitting_maps(h)))


def random_program(rng: random.Random, kind: str) -> str:
    lines = ["mov %r6, %r1", f"ldxw %r7, [%r1+{DATA[kind]}]", "stdw [%r10-8], 0",
             "stdw [%r10-16], 0"]
    for _ in range(rng.randint(1, 4)):
        helper = rng.choice(DRAWN)
        kinds = KERNEL_HELPERS[helper].signature.args
        for reg in range(1, 6):
            arg = kinds[reg - 1] if reg <= len(kinds) else "any"
            if arg == "ctx":
                lines.append(f"mov %r{reg}, %r6")
            elif arg in ("mem", "out", "key", "value", "mem_or_null"):
                lines.append(f"mov %r{reg}, %r10\nadd %r{reg}, {rng.choice([-16, -12, -8])}")
            elif arg == "map":
                lines.append(f"lddw %r{reg}, map_by_fd({rng.choice(fitting_maps(helper))})")
            elif arg == "size":
                lines.append(f"mov %r{reg}, {rng.choice([0, 1, 4, 8, 16, 64, 4096, -1])}")
            else:
                lines.append(f"mov %r{reg}, {rng.choice(VALUES)}")
        lines.append(f"call {helper}")
    lines.append("mov %r0, 2\nexit")
    return "\n".join(lines)


def program(source: str, kind: str) -> bpfjit.Program:
    """The program with fresh maps (device 3 in ports[0]): each engine starts alike."""
    maps = [make_map(spec) for spec in SPECS]
    maps[6][0] = 3
    env = KernelEnv(MapTable(maps))
    env.clock = lambda: 10 ** 9
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context=kind,
                          prog_type="xdp" if kind == "xdp" else "sched_cls")


def outcome(prog, engine: str, kind: str):
    ctx = (bpfjit.XdpContext if kind == "xdp" else bpfjit.SkbContext)(bytes(range(60)))
    try:
        r0 = bpfjit.compile(prog, engine)(ctx)
    except bpfjit.BpfError as exc:        # messages may name addresses: type and pc
        return type(exc).__name__, str(exc).split(":")[0]
    maps = {name: (bytes(m.arena), getattr(m, "records", None), sorted(m))
            for name, m in prog.maps.items()}
    return r0, ctx.packet, getattr(ctx, "metadata", b""), ctx.redirect, maps


@pytest.mark.parametrize("seed", range(4))
def test_every_engine_agrees_on_random_helper_calls(seed):
    rng = random.Random(seed)
    ran = 0
    for _ in range(120):
        kind = rng.choice(["xdp", "skb"])
        source = random_program(rng, kind)
        prog = program(source, kind)
        try:
            bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))
        except bpfjit.VerifierError:
            continue                         # a helper not for this program type
        results = [outcome(program(source, kind), engine, kind)
                   for engine in bpfjit.engines()]
        assert all(r == results[0] for r in results), source
        ran += 1
    assert ran >= 30                         # the slice really runs programs
