"""backends.irtext, the llvm backend's IR builder: the text it prints (checked against
IR written by hand), that LLVM reads it and computes what the IR says, and what the
lowering saves with it (registers not reloaded within a block)."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit import engines

pytestmark = pytest.mark.skipif("llvm" not in engines(), reason="llvm engine unavailable")

from bpfjit.backends import irtext as ir  # noqa: E402

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)


def test_a_function_prints_as_written_by_hand():
    module = ir.Module("m")
    module.triple = "x86_64-unknown-linux-gnu"
    fn = ir.Function(module, ir.FunctionType(I64, [I64, ir.PointerType()]), "f")
    fn.attributes.add("nounwind")
    fn.args[1].add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x = b.add(fn.args[0], ir.Constant(I64, 1), name="x")
    again = b.add(x, x, name="x")                  # a name taken: made unique
    b.store(again, fn.args[1], align=8)
    b.ret(again)
    assert str(module) == (
        '; ModuleID = "m"\n'
        'target triple = "x86_64-unknown-linux-gnu"\n'
        '\n'
        'define i64 @"f"(i64 %".1", ptr noalias %".2") nounwind\n'
        '{\n'
        '"entry":\n'
        '  %"x" = add i64 %".1", 1\n'
        '  %"x.1" = add i64 %"x", %"x"\n'
        '  store i64 %"x.1", ptr %".2", align 8\n'
        '  ret i64 %"x.1"\n'
        '}\n'
        '\n')


def test_phis_branch_weights_and_insertion_before_an_instruction():
    module = ir.Module("m")
    fn = ir.Function(module, ir.FunctionType(I64, [I64]), "g")
    entry, done = fn.append_basic_block("entry"), fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    small = b.icmp_unsigned("<", fn.args[0], ir.Constant(I64, 10), name="small")
    with b.if_then(small, likely=False):
        doubled = b.shl(fn.args[0], ir.Constant(I64, 1), name="doubled")
    then = b.block
    b.branch(done)
    b.position_at_end(done)
    result = b.phi(I64, name="result")
    result.add_incoming(fn.args[0], entry)
    result.add_incoming(doubled, then)
    jump = b.ret(result)
    b.position_before(jump)                      # inserted between the phi and the ret
    b.add(result, result, name="between")
    text = str(module)
    assert '%"result" = phi' in text.split('%"between"')[0]
    assert "ret i64" in text.split('%"between"')[1]
    assert '%"small" = icmp ult i64 %".1", 10\n' \
           '  br i1 %"small", label %".2", label %".3", !prof !0\n' in text
    assert '%"result" = phi i64 [%".1", %"entry"], [%"doubled", %".3"]\n' in text
    assert text.endswith('!0 = !{!"branch_weights", i32 1, i32 99}\n')


def test_a_struct_is_returned_in_a_calling_convention_its_calls_name():
    # the llvm backend's subprograms: {r0, budget} back, GHC's convention on both sides
    module = ir.Module("m")
    pair_type = ir.StructType([I64, I64])
    callee = ir.Function(module, ir.FunctionType(pair_type, [I64]), "pair")
    callee.linkage, callee.calling_convention = "internal", "ghccc"
    b = ir.IRBuilder(callee.append_basic_block("entry"))
    first = b.insert_value(ir.poison(pair_type), callee.args[0], 0, name="first")
    b.ret(b.insert_value(first, ir.Constant(I64, 7), 1, name="both"))
    caller = ir.Function(module, ir.FunctionType(I64, [I64]), "sum")
    b = ir.IRBuilder(caller.append_basic_block("entry"))
    both = b.call(callee, [caller.args[0]], name="r")
    b.ret(b.add(b.extract_value(both, 0), b.extract_value(both, 1)))
    text = str(module)
    assert 'define internal ghccc {i64, i64} @"pair"(i64 %".1")' in text
    assert '%"first" = insertvalue {i64, i64} poison, i64 %".1", 0' in text
    assert '%"r" = call ghccc {i64, i64} @"pair"(i64 %".1")' in text
    assert _jit(text, "sum", 1)(35) == 35 + 7


def test_metadata_nodes_are_numbered_once_each():
    module = ir.Module("m")
    weights = ir.MetaDataString(module, "branch_weights")
    first = module.add_metadata([weights, ir.Constant(I32, 1), ir.Constant(I32, 2)])
    again = module.add_metadata([weights, ir.Constant(I32, 1), ir.Constant(I32, 2)])
    other = module.add_debug_info("DIFile", {"filename": "a.bpf", "directory": "."})
    distinct = module.add_debug_info("DIFile", {"filename": "a.bpf", "directory": "."},
                                     is_distinct=True)
    assert (first.ref, again.ref, other.ref, distinct.ref) == ("!0", "!0", "!1", "!2")
    assert str(module).endswith(
        '!0 = !{!"branch_weights", i32 1, i32 2}\n'
        '!1 = !DIFile(filename: "a.bpf", directory: ".")\n'
        '!2 = distinct !DIFile(filename: "a.bpf", directory: ".")\n')


def test_llvm_reads_the_text_and_computes_what_it_says():
    """(x * 3 + 7) >> 1 with x = 11 is 20; 32-bit wrap of 0xFFFFFFFF + 2 is 1."""
    module = ir.Module("m")
    fn = ir.Function(module, ir.FunctionType(I64, [I64]), "calc")
    b = ir.IRBuilder(fn.append_basic_block())
    r = b.lshr(b.add(b.mul(fn.args[0], ir.Constant(I64, 3)), ir.Constant(I64, 7)),
               ir.Constant(I64, 1))
    wrapped = b.zext(b.add(ir.Constant(I32, 0xFFFFFFFF), ir.Constant(I32, 2)), I64)
    b.ret(b.add(b.mul(r, ir.Constant(I64, 1000)), wrapped))
    assert _jit(str(module), "calc", 1)(11) == 20 * 1000 + 1


def test_a_register_is_loaded_once_per_block():
    """r2 is read three times in one block and r1 twice after being set: one load of
    r2's alloca, none of r1's."""
    from bpfjit.backends.llvm import build_image
    from bpfjit.verifier import verify
    prog = bpfjit.assemble("mov %r1, %r2\nadd %r1, %r2\nadd %r1, %r2\n"
                           "mov %r0, %r1\nadd %r0, %r1\nexit")
    _, extra = build_image(verify(prog, helpers={}, cache=False), frozenset(), keep_ir=True)
    body = extra["ir"].split('@"bpf_sub_0"', 1)[1].split("\n}\n", 1)[0]
    assert body.count('load i64, ptr %"r2"') == 1
    assert body.count('load i64, ptr %"r1"') == 0


@pytest.mark.parametrize("length,expected", [(0, 0), (5, 30), (7, 42)])
def test_register_reuse_keeps_the_value(engine, length, expected):
    """r0 = 2 * (r2 + r2 + r2) = 6 * r2, r2 being the buffer's length."""
    prog = bpfjit.assemble("mov %r1, %r2\nadd %r1, %r2\nadd %r1, %r2\n"
                           "mov %r0, %r1\nadd %r0, %r1\nexit")
    assert bpfjit.compile(prog, engine)(bytearray(length)) == expected


def _random_function(ns, ops: list[tuple[str, int, int]]):
    """A function f(a, b) -> i64 built with the IR module `ns` (irtext or llvmlite.ir):
    each op combines two earlier values; divisions and shifts are made safe first."""
    i32, i64 = ns.IntType(32), ns.IntType(64)
    module = ns.Module("random")
    fn = ns.Function(module, ns.FunctionType(i64, [i64, i64]), "f")
    b = ns.IRBuilder(fn.append_basic_block("entry"))
    values = list(fn.args) + [ns.Constant(i64, 0x8000_0000_0000_0000), ns.Constant(i64, 7)]
    for op, i, j in ops:
        x, y = values[i % len(values)], values[j % len(values)]
        if op in ("add", "sub", "mul", "and_", "or_", "xor"):
            r = getattr(b, op)(x, y)
        elif op in ("shl", "lshr", "ashr"):
            r = getattr(b, op)(x, b.and_(y, ns.Constant(i64, 63)))
        elif op in ("udiv", "urem"):
            r = getattr(b, op)(x, b.or_(y, ns.Constant(i64, 1)))
        elif op in ("sdiv", "srem"):              # by a positive divisor: never 0 or -1
            safe = b.or_(b.and_(y, ns.Constant(i64, 2**63 - 1)), ns.Constant(i64, 1))
            r = getattr(b, op)(x, safe)
        elif op.startswith("icmp"):               # "icmp_signed <=": 1 or 2 by it
            method, predicate = op.split()
            r = b.select(getattr(b, method)(predicate, x, y), ns.Constant(i64, 1),
                         ns.Constant(i64, 2))
        elif op == "narrow":                      # 32-bit add, zero- or sign-extended back
            n = b.add(b.trunc(x, i32), b.trunc(y, i32))
            r = b.zext(n, i64) if j % 2 else b.sext(n, i64)
        else:
            r = b.neg(x) if j % 2 else b.not_(x)
        values.append(r)
    folded = values[2]
    for v in values[4:]:                          # every value reaches the result
        folded = b.add(b.mul(folded, ns.Constant(i64, 0x9E3779B97F4A7C15)), v)
    b.ret(folded)
    return module


OPS = ["add", "sub", "mul", "and_", "or_", "xor", "shl", "lshr", "ashr", "udiv", "urem",
       "sdiv", "srem", "narrow", "negnot"] + [
    f"{method} {predicate}" for method in ("icmp_unsigned", "icmp_signed")
    for predicate in ("==", "!=", "<", "<=", ">", ">=")]


EDGE_VALUES = [0, 1, 2**64 - 1, 2**63, 2**63 - 1, 2**32 - 1, 2**31, 63, 64]


@pytest.mark.parametrize("op", OPS)
def test_each_operation_agrees_with_llvmlite_ir(op):
    """Each operation on every pair of edge values (and the constants INT_MIN and 7),
    built with irtext and with llvmlite.ir, computes the same."""
    from llvmlite import ir as llvmlite_ir
    ops = [(op, i, j) for i in range(4) for j in range(4)]
    inputs = [(a, b) for a in EDGE_VALUES for b in EDGE_VALUES]
    results = []
    for ns in (ir, llvmlite_ir):
        calc = _jit(str(_random_function(ns, ops)), "f", 2)
        results.append([calc(a, b) for a, b in inputs])
    assert results[0] == results[1]


EDGES = st.sampled_from(EDGE_VALUES)
WORDS = st.one_of(EDGES, st.integers(0, 2**64 - 1))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 40), st.integers(0, 40)),
                min_size=1, max_size=12),
       st.lists(st.tuples(WORDS, WORDS), min_size=6, max_size=6))
def test_the_same_function_built_with_llvmlite_ir_computes_the_same(ops, inputs):
    """llvmlite.ir, an independent printer of the same IR, is the oracle: both modules,
    compiled by LLVM, give the same results on the same inputs."""
    from llvmlite import ir as llvmlite_ir
    results = []
    for ns in (ir, llvmlite_ir):
        calc = _jit(str(_random_function(ns, ops)), "f", 2)
        results.append([calc(a, b) for a, b in inputs])
    assert results[0] == results[1]


_ENGINES: list = []          # MCJIT engines stay alive while their code may run


def _jit(text: str, name: str, arity: int):
    from llvmlite import binding
    binding.initialize_native_target()
    binding.initialize_native_asmprinter()
    module = binding.parse_assembly(text)
    module.verify()
    machine = binding.Target.from_default_triple().create_target_machine()
    engine = binding.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    _ENGINES.append(engine)
    return ctypes.CFUNCTYPE(ctypes.c_uint64, *[ctypes.c_uint64] * arity)(
        engine.get_function_address(name))
