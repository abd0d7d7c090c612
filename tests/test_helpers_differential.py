"""Random calls of every kernel helper from XDP and tc programs, arguments chosen by
the helper's signature (right kinds, hostile values): every engine must give the same
result, the same packet and the same error (type and pc).  A seeded, bounded slice."""

import random
from pathlib import Path

import pytest

import bpfjit
from bpfjit.helpers import KERNEL_HELPERS

ELF = Path(__file__).parent / "elf"
VALUES = [0, 1, 4, 8, 14, 20, 64, 255, 4096, -1, -8, -32, -256, 0x7FFFFFFF, -0x80000000]
DATA = {"xdp": 0, "skb": 76}          # where each context keeps `data`


def random_program(rng: random.Random, kind: str) -> str:
    lines = ["mov %r6, %r1", f"ldxw %r7, [%r1+{DATA[kind]}]", "stdw [%r10-8], 0",
             "stdw [%r10-16], 0"]
    for _ in range(rng.randint(1, 4)):
        helper = rng.choice(sorted(KERNEL_HELPERS))
        kinds = KERNEL_HELPERS[helper].signature.args
        for reg in range(1, 6):
            arg = kinds[reg - 1] if reg <= len(kinds) else "any"
            if arg == "ctx":
                lines.append(f"mov %r{reg}, %r6")
            elif arg in ("mem", "out", "key", "value", "mem_or_null"):
                lines.append(f"mov %r{reg}, %r10\nadd %r{reg}, {rng.choice([-16, -12, -8])}")
            elif arg == "map":
                lines.append(f"lddw %r{reg}, map_by_fd({rng.randint(0, 1)})")
            elif arg == "size":
                lines.append(f"mov %r{reg}, {rng.choice([0, 1, 4, 8, 16, 64, 4096, -1])}")
            else:
                lines.append(f"mov %r{reg}, {rng.choice(VALUES)}")
        lines.append(f"call {helper}")
    lines.append("mov %r0, 2\nexit")
    return "\n".join(lines)


def program(source: str, kind: str) -> bpfjit.Program:
    """The program with the maps of events.o, freshly loaded: each engine starts alike."""
    env = bpfjit.load_elf(ELF / "events.o").env
    env.clock = lambda: 10 ** 9
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context=kind,
                          prog_type="xdp" if kind == "xdp" else "sched_cls")


def outcome(prog, engine: str, kind: str):
    ctx = (bpfjit.XdpContext if kind == "xdp" else bpfjit.SkbContext)(bytes(range(60)))
    try:
        r0 = bpfjit.compile(prog, engine)(ctx)
    except bpfjit.BpfError as exc:        # messages may name addresses: type and pc
        return type(exc).__name__, str(exc).split(":")[0]
    maps = {name: (bytes(m.arena), getattr(m, "records", None)) for name, m in prog.maps.items()}
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
