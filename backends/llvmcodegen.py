"""LLVM's half of an llvm-engine compile: IR text in, an optimised x86-64 object out.

It imports nothing of bpfjit, only llvmlite.binding, so that the compile worker
(bpfjit.backends.llvm_worker) loads it alone: a worker starts in ~90 ms instead of
~150 ms, and the processes that run programs never import llvmlite.binding, which maps
a writable and executable page for its ctypes callbacks when it is imported.  The
worker's side of the protocol is `serve`: requests and replies are pickles framed by
an 8-byte little-endian length.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys

__all__ = ["generate_object", "target_machine", "serve", "FRAME", "VECTORIZE", "TRIPLE"]

VECTORIZE = "bpfjit.vectorize"      # named metadata: the module has budget-free loops
TRIPLE = "x86_64-unknown-linux-gnu"  # what bpfjit's JITs target
FRAME = struct.Struct("<Q")
llvm = None                         # llvmlite.binding, imported on first use
_MACHINES: dict[int, object] = {}


def target_machine(opt_level: int):
    """This machine's x86-64 target at `opt_level` (CPU and features of the host), made
    once per process."""
    global llvm
    if llvm is None:
        import llvmlite.binding
        llvm = llvmlite.binding
    if opt_level not in _MACHINES:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()      # inline asm (bpfjit.speculation)
        target = llvm.Target.from_default_triple()
        _MACHINES[opt_level] = target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
            opt=opt_level, reloc="pic", codemodel="small")
    return _MACHINES[opt_level]


def generate_object(ir_text: str, opt_level: int, keep_ir: bool) -> tuple[bytes, str | None]:
    """LLVM's half of a compile: optimise the IR at `opt_level` and emit an x86-64
    object (and the optimised IR, with `keep_ir`)."""
    # -O1 is the quick level: the code generator at its fastest (see below)
    machine = target_machine(0 if opt_level == 1 else opt_level)
    module = llvm.parse_assembly(ir_text)
    module.verify()
    if opt_level == 1:
        _quick(module, machine)
    elif opt_level:
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        # up to -O2, compile time matters more than the last few percent: no
        # unrolling or vectorization (they double compile time), except the loop
        # vectorizer and unroller for modules with budget-free loops (which clang -O2
        # unrolls too: corpus colsum's column walk 1.85x -> 1.31x native, csort 1.34x ->
        # 1.13x, bench/'s histogram -17%; the corpus's compile median +13%); -O3 has
        # both, and the SLP vectorizer
        full = opt_level >= 3
        vectorize = opt_level == 2 and f"!{VECTORIZE}" in ir_text
        tuning.loop_unrolling = full or vectorize
        tuning.slp_vectorization = full
        tuning.loop_vectorization = full or vectorize
        builder = llvm.create_pass_builder(machine, tuning)
        if vectorize:
            # budget-free loop copies (bpfjit.tripcount): the whole module pipeline,
            # which has the loop vectorizer (the function pipeline below has none)
            builder.getModulePassManager().run(module, builder)
        elif opt_level == 2:
            # -O2: inline what backends.llvm marked (_mark_inlining), then the -O2
            # function simplification pipeline on what is left (half the time of the
            # whole module pipeline, whose inliner and late passes gained nothing
            # measurable on bench/ here)
            inline = llvm.create_new_module_pass_manager()
            inline.add_always_inliner_pass()
            inline.add_global_dead_code_eliminate_pass()
            inline.run(module, builder)
            simplify = builder.getFunctionPassManager()
            for fn in module.functions:
                if not fn.is_declaration:
                    simplify.run(fn, builder)
        else:
            builder.getModulePassManager().run(module, builder)
    optimised = str(module) if keep_ir else None
    return machine.emit_object(module), optimised


def _quick(module, machine) -> None:
    """-O1, the quick level for large programs: inline what backends.llvm marked, then
    registers out of memory (SROA), instruction combining and CFG simplification, with
    the code generator at -O0 (fast instruction selection and register allocation).
    On a 7,231-instruction cilium program: 1.3 s, where -O2 took 6.8 s (optimisation
    3.8 s, code generation 2.7 s) and LLVM's own -O1 pipeline 5.1 s."""
    builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(
        speed_level=1))
    inline = llvm.create_new_module_pass_manager()
    inline.add_always_inliner_pass()
    inline.add_global_dead_code_eliminate_pass()
    inline.run(module, builder)
    passes = llvm.create_new_function_pass_manager()
    passes.add_sroa_pass()
    passes.add_instruction_combine_pass()
    passes.add_simplify_cfg_pass()
    for fn in module.functions:
        if not fn.is_declaration:
            passes.run(fn, builder)


def serve() -> None:
    """The compile worker: answer framed (IR, opt level, keep_ir) requests until stdin
    closes.  The protocol owns the original stdout; anything LLVM prints goes to stderr.
    Ctrl-C is the parent's to handle: the worker ends when its stdin closes, and ends
    quietly when the parent went away mid-request (a cut request, a closed reply pipe)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        header = requests.read(FRAME.size)
        if len(header) < FRAME.size:
            return
        size = FRAME.unpack(header)[0]
        body = requests.read(size)
        if len(body) < size:
            return
        ir_text, opt_level, keep_ir = pickle.loads(body)
        try:
            reply = ("ok",) + generate_object(ir_text, opt_level, keep_ir)
        except Exception as exc:        # noqa: BLE001 - reported to the parent
            reply = ("error", str(exc))
        data = pickle.dumps(reply)
        try:
            channel.write(FRAME.pack(len(data)) + data)
            channel.flush()
        except BrokenPipeError:
            os._exit(0)                 # no one to answer; nothing left to flush
