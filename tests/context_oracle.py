"""The running kernel as the oracle of a context's access rules: every offset and size of
a load and a store of a context, verified here and loaded there (tests/test_sock_ops.py,
tests/test_sk_msg.py, tests/test_sockopt.py)."""

from __future__ import annotations

import bpfjit
from bpfjit import bpfsys
from bpfjit.isa import Kind

_SUFFIX = {1: "b", 2: "h", 4: "w", 8: "dw"}


def kernel_loads(code: bytes, prog_type: str, attach: str | None = None) -> bool | None:
    """Whether the running kernel's verifier accepts `code` as `prog_type` (of hook
    `attach`) (None: this process may not load programs)."""
    if "kernel" not in bpfjit.engines(kernel=True):
        return None
    try:
        bpfsys.close(bpfsys.prog_load(code, prog_type, attach=attach))
    except bpfjit.VerifierError:
        return False
    return True


def kernel_allows_helper(helper: int, prog_type: str, attach: str | None = None) -> bool:
    """Whether the running kernel lets a program of `prog_type` (hook `attach`) call
    `helper` (its zeroed arguments may be refused for other reasons: allowed)."""
    text = "\n".join(f"mov %r{r}, 0" for r in range(1, 6)) + f"\ncall {helper}\nmov %r0, 1\nexit"
    try:
        bpfsys.close(bpfsys.prog_load(bpfjit.assemble(text).to_bytes(), prog_type,
                                      attach=attach))
    except bpfjit.VerifierError as exc:
        return "cannot use helper" not in str(exc) and "unknown func" not in str(exc)
    return True


def helpers_the_kernel_lacks(prog: bpfjit.Program, prog_type: str) -> list[int]:
    """The helpers `prog` calls that the running kernel's build does not give a program
    of `prog_type` (a kernel may leave some out: Linux 6.18.44-fc has no
    bpf_xdp_adjust_meta for XDP, which mainline gives)."""
    called = sorted({insn.imm for _, insn in prog
                     if insn.kind is Kind.CALL and insn.src == 0})
    return [h for h in called if not kernel_allows_helper(h, prog_type)]


def kernel_loads_program(prog: bpfjit.Program, prog_type: str,
                         functions: tuple[int, ...] = ()) -> bool | None:
    """kernel_loads for a program with maps: each of its maps made empty in the kernel
    (by its spec, flags included: an LPM trie wants BPF_F_NO_PREALLOC) and given to it; `functions`: its subprograms' first pcs (callbacks
    want them described in BTF)."""
    if "kernel" not in bpfjit.engines(kernel=True):
        return None
    from bpfjit.backends.kerneljit import _with_map_fds
    fds = [bpfsys.map_create(m.spec.type, m.spec.key_size, m.spec.value_size,
                             m.spec.max_entries, flags=m.spec.flags) for m in prog.maps.list]
    try:
        bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), fds), prog_type,
                                      functions=functions))
    except bpfjit.VerifierError:
        return False
    finally:
        for fd in fds:
            bpfsys.close(fd)
    return True


def disagreements(context: str, prog_type: str, end: int, not_given: set[int],
                  attach: str | None = None) -> list[tuple[int, int, str]]:
    """The (offset, size, access) below `end` that bpfjit's verifier decides otherwise
    than the kernel's (for programs of hook `attach`), but the 8-byte loads at
    `not_given` (pointers bpfjit does not give: refused here, accepted there)."""
    found = []
    for offset in range(end):
        for size, suffix in _SUFFIX.items():
            for access in (f"ldx{suffix} %r2, [%r1+{offset}]",
                           f"mov %r2, 0\nstx{suffix} [%r1+{offset}], %r2"):
                prog = bpfjit.Program(bpfjit.assemble(f"{access}\nmov %r0, 1\nexit").insns,
                                      context=context, prog_type=prog_type,
                                      attach_type=attach)
                try:
                    bpfjit.verify(prog, cache=False)
                    mine = True
                except bpfjit.VerifierError:
                    mine = False
                given = not (offset in not_given and size == 8 and access.startswith("ldx"))
                if mine != (kernel_loads(prog.to_bytes(), prog_type, attach) and given):
                    found.append((offset, size, access))
    return found
