"""LLVM IR as text: the types, values and builder the llvm backend lowers BPF into.

The same shape as llvmlite.ir (a module of functions of blocks, an IRBuilder with one
method per instruction), with only what the backend uses, written for speed: each
instruction is formatted once, when it is built, and the module is printed by joining
lines.  llvmlite.ir builds a tree of objects and formats it again on `str()`; for the
IR of a typical program that took ~75% of the IR stage (about 4 ms of a 40 ms compile,
and 7 of a fuzzed program's 38).  LLVM itself (llvmlite.binding, in the compile
worker) parses the text.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["IntType", "PointerType", "VoidType", "FunctionType", "ArrayType", "StructType",
           "FunctionPointer", "poison", "Constant", "Module", "Function", "Block", "GlobalVariable",
           "InlineAsm", "MetaDataString", "DIToken", "CallInstr", "IRBuilder"]


def _name(name: str) -> str:
    """A local or global name as LLVM reads it: quoted (as llvmlite.ir writes them)."""
    return '"' + name.replace('"', "\\22") + '"'


# ---- types ---------------------------------------------------------------------------------

class Type:
    """An IR type; equal when spelled the same."""

    __slots__ = ("text",)

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class IntType(Type):
    __slots__ = ("width",)

    def __init__(self, width: int):
        self.width, self.text = width, f"i{width}"


class PointerType(Type):
    """The opaque `ptr`."""

    __slots__ = ()

    def __init__(self):
        self.text = "ptr"


class FunctionPointer(PointerType):
    """A `ptr` that remembers the function type it points to, for indirect calls."""

    __slots__ = ("pointee",)

    def __init__(self, function_type: "FunctionType"):
        super().__init__()
        self.pointee = function_type


class VoidType(Type):
    __slots__ = ()

    def __init__(self):
        self.text = "void"


class FunctionType(Type):
    __slots__ = ("return_type", "args")

    def __init__(self, return_type: Type, args):
        self.return_type, self.args = return_type, tuple(args)
        self.text = f"{return_type} ({', '.join(a.text for a in self.args)})"


class ArrayType(Type):
    __slots__ = ("element", "count")

    def __init__(self, element: Type, count: int):
        self.element, self.count = element, count
        self.text = f"[{count} x {element}]"


class _StructType(Type):
    __slots__ = ("elements",)

    def __init__(self, elements):
        self.elements = tuple(elements)
        self.text = "{" + ", ".join(e.text for e in self.elements) + "}"


StructType = _StructType          # a literal struct: `{i64, i64}`

_VOID, _PTR, _I1 = VoidType(), PointerType(), IntType(1)


# ---- values ---------------------------------------------------------------------------------

class Value:
    """Something an instruction can use: its type and how an operand names it."""

    __slots__ = ("type", "ref")

    def __init__(self, type_: Type, ref: str):
        self.type, self.ref = type_, ref

    def __str__(self) -> str:            # a typed operand: `i64 %x`
        return f"{self.type.text} {self.ref}"


class Constant(Value):
    """An integer (or a null pointer, for None) of `type_`."""

    __slots__ = ("constant",)

    def __init__(self, type_: Type, value):
        self.type, self.constant = type_, value
        self.ref = "null" if value is None else str(value)


def poison(type_: Type) -> Value:
    """The value of `type_` with nothing in it yet (what `insertvalue` starts from)."""
    return Value(type_, "poison")


class Argument(Value):
    __slots__ = ("attributes",)

    def __init__(self, type_: Type, ref: str):
        super().__init__(type_, ref)
        self.attributes: list[str] = []

    def add_attribute(self, attribute: str) -> None:
        self.attributes.append(attribute)


class GlobalVariable(Value):
    """An external byte whose address the linker fills in (`@name = external global i8`)."""

    __slots__ = ("name", "value_type", "linkage")

    def __init__(self, module: "Module", value_type: Type, name: str):
        super().__init__(_PTR, "@" + _name(name))
        self.name, self.value_type, self.linkage = name, value_type, "external"
        module.globals.append(self)

    def ptrtoint(self, type_: Type) -> Value:
        """The address as an integer (a constant expression)."""
        return Value(type_, f"ptrtoint (ptr {self.ref} to {type_.text})")

    def render(self) -> str:
        return f"{self.ref} = {self.linkage} global {self.value_type.text}"


class InlineAsm:
    """Inline assembly, called like a function."""

    def __init__(self, function_type: FunctionType, asm: str, constraint: str,
                 side_effect: bool = False):
        self.function_type = function_type
        effect = "sideeffect " if side_effect else ""
        self.ref = f'asm {effect}"{asm}", "{constraint}"'


def _md_string(text: str) -> str:
    return '!"' + text + '"'


class MetaDataString:
    def __init__(self, module: "Module", text: str):
        self.ref = _md_string(text)


class DIToken:
    """A bare word among debug-info fields (an enumerator: `DW_LANG_C99`)."""

    def __init__(self, value: str):
        self.value = value


class _Metadata:
    __slots__ = ("ref",)

    def __init__(self, ref: str):
        self.ref = ref


def _metadata_operand(value) -> str:
    if isinstance(value, str):
        return _md_string(value)
    if isinstance(value, Value):
        return f"{value.type.text} {value.ref}"
    return value.ref                 # metadata (a node, a string)


def _di_field(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, DIToken):
        return value.value
    return value.ref


# ---- instructions ---------------------------------------------------------------------------

class Instr(Value):
    """One instruction: its text without the metadata, which may be set after."""

    __slots__ = ("text", "metadata")

    def __init__(self, type_: Type, ref: str | None, text: str):
        self.type, self.ref, self.text, self.metadata = type_, ref, text, None

    def set_metadata(self, kind: str, node) -> None:
        if self.metadata is None:
            self.metadata = {}
        self.metadata[kind] = node

    def render(self) -> str:
        text = self.body()
        if self.metadata:
            text += "".join(f", !{k} {v.ref}" for k, v in self.metadata.items())
        return text

    def body(self) -> str:
        return self.text


class CallInstr(Instr):
    __slots__ = ("callee",)


class _Alloca(Instr):
    __slots__ = ("align",)

    def body(self) -> str:
        return self.text if self.align is None else f"{self.text}, align {self.align}"


class _Phi(Instr):
    __slots__ = ("incoming",)

    def add_incoming(self, value: Value, block: "Block") -> None:
        self.incoming.append(f"[{value.ref}, %{block.name}]")

    def body(self) -> str:
        return self.text + ", ".join(self.incoming)


_TERMINATORS = ("br ", "ret ", "unreachable", "switch ")


class Block:
    """A basic block: a label and its instructions."""

    __slots__ = ("function", "name", "instructions")

    def __init__(self, function: "Function", name: str):
        self.function, self.name, self.instructions = function, name, []

    @property
    def is_terminated(self) -> bool:
        return bool(self.instructions) and self.instructions[-1].text.startswith(_TERMINATORS)

    def render(self) -> str:
        return self.name + ":\n" + "\n".join("  " + i.render() for i in self.instructions)


class Function(Value):
    """A function: a declaration until it has blocks."""

    __slots__ = ("module", "name", "function_type", "args", "blocks", "attributes",
                 "linkage", "calling_convention", "metadata", "_names", "_count")

    def __init__(self, module: "Module", function_type: FunctionType, name: str):
        super().__init__(_PTR, "@" + _name(name))
        self.module, self.name, self.function_type = module, name, function_type
        self.args = [Argument(t, f'%".{i}"') for i, t in enumerate(function_type.args, 1)]
        self._count = len(self.args)
        self.blocks: list[Block] = []
        self.attributes: set[str] = set()          # function attributes, printed sorted
        self.linkage = ""
        self.calling_convention = ""           # "" is C's; its calls must name the same
        self.metadata: dict = {}
        self._names: set[str] = set()
        module.functions.append(self)

    @property
    def is_declaration(self) -> bool:
        return not self.blocks

    def set_metadata(self, kind: str, node) -> None:
        self.metadata[kind] = node

    def local(self, name: str) -> str:
        """A new local name: `name` (made unique) or the next number."""
        if not name:
            self._count += 1
            return f'".{self._count}"'
        if name in self._names:
            n = 1
            while f"{name}.{n}" in self._names:
                n += 1
            name = f"{name}.{n}"
        self._names.add(name)
        return _name(name)

    def append_basic_block(self, name: str = "") -> Block:
        block = Block(self, self.local(name))
        self.blocks.append(block)
        return block

    def render(self) -> str:
        ret = self.function_type.return_type.text
        linkage = "".join(word + " " for word in (self.linkage, self.calling_convention)
                          if word)
        if not self.blocks:
            params = ", ".join(" ".join([a.type.text, *a.attributes]) for a in self.args)
            tail = "".join(" " + a for a in sorted(self.attributes))
            return f"declare {ret} {self.ref}({params}){tail}"
        params = ", ".join(" ".join([a.type.text, *a.attributes, a.ref]) for a in self.args)
        tail = "".join(" " + a for a in sorted(self.attributes))
        tail += "".join(f" !{k} {v.ref}" for k, v in self.metadata.items())
        body = "\n".join(b.render() for b in self.blocks)
        return f"define {linkage}{ret} {self.ref}({params}){tail}\n{{\n{body}\n}}"


# intrinsic name -> (its type's overloaded parameters -> its function type)
_INTRINSICS = {
    "llvm.memset": lambda ptr, size: FunctionType(_VOID, [ptr, IntType(8), size, _I1]),
    "llvm.memcpy": lambda dst, src, size: FunctionType(_VOID, [dst, src, size, _I1]),
    "llvm.memmove": lambda dst, src, size: FunctionType(_VOID, [dst, src, size, _I1]),
    "llvm.bswap": lambda ty: FunctionType(ty, [ty]),
}


class Module:
    def __init__(self, name: str = ""):
        self.name = name
        self.triple = ""
        self.functions: list[Function] = []
        self.globals: list[GlobalVariable] = []
        self._metadata: list[str] = []              # "!N = ..." lines
        self._metadata_index: dict[str, _Metadata] = {}
        self._named: dict[str, list[_Metadata]] = {}
        self._intrinsics: dict[str, Function] = {}

    def declare_intrinsic(self, name: str, types) -> Function:
        full = name + "".join("." + ("p0" if isinstance(t, PointerType) else t.text)
                              for t in types)
        fn = self._intrinsics.get(full)
        if fn is None:
            fn = self._intrinsics[full] = Function(self, _INTRINSICS[name](*types), full)
        return fn

    def _node(self, text: str, distinct: bool = False) -> _Metadata:
        """Metadata node `text`, numbered; the same node once (unless distinct)."""
        node = None if distinct else self._metadata_index.get(text)
        if node is None:
            node = _Metadata(f"!{len(self._metadata)}")
            self._metadata.append(f"{node.ref} = {'distinct ' if distinct else ''}{text}")
            if not distinct:
                self._metadata_index[text] = node
        return node

    def add_metadata(self, operands) -> _Metadata:
        return self._node("!{" + ", ".join(_metadata_operand(o) for o in operands) + "}")

    def add_debug_info(self, kind: str, operands: dict, is_distinct: bool = False) -> _Metadata:
        fields = ", ".join(f"{k}: {_di_field(v)}" for k, v in operands.items())
        return self._node(f"!{kind}({fields})", is_distinct)

    def add_named_metadata(self, name: str, element=None) -> None:
        nodes = self._named.setdefault(name, [])
        if element is not None:
            nodes.append(self.add_metadata(element) if isinstance(element, list) else element)

    def __str__(self) -> str:
        lines = [f'; ModuleID = "{self.name}"', f'target triple = "{self.triple}"', ""]
        lines += [g.render() for g in self.globals]
        lines += [f.render() + "\n" for f in self.functions]     # a blank line after each
        lines += [f"!{name} = !{{{', '.join(n.ref for n in nodes)}}}"
                  for name, nodes in self._named.items()]
        lines += self._metadata
        return "\n".join(lines) + "\n"


# ---- the builder -----------------------------------------------------------------------------

_ICMP = {"==": "eq", "!=": "ne"}
_UNSIGNED = {"<": "ult", "<=": "ule", ">": "ugt", ">=": "uge", **_ICMP}
_SIGNED = {"<": "slt", "<=": "sle", ">": "sgt", ">=": "sge", **_ICMP}


class IRBuilder:
    """Appends instructions to a block (or inserts them before one instruction)."""

    def __init__(self, block: Block | None = None):
        self.block: Block | None = None
        self._at: int | None = None            # insertion index; None: at the end
        self.debug_metadata = None
        if block is not None:
            self.position_at_end(block)

    @property
    def function(self) -> Function:
        return self.block.function

    @property
    def module(self) -> Module:
        return self.block.function.module

    def position_at_end(self, block: Block) -> None:
        self.block, self._at = block, None

    def position_at_start(self, block: Block) -> None:
        self.block, self._at = block, 0

    def position_before(self, instr: Instr) -> None:
        for block in self.block.function.blocks if self.block else ():
            if instr in block.instructions:
                self.block, self._at = block, block.instructions.index(instr)
                return
        raise ValueError("the instruction is in no block of this function")

    def _insert(self, instr: Instr) -> Instr:
        if self.debug_metadata is not None:
            instr.set_metadata("dbg", self.debug_metadata)
        if self._at is None:
            self.block.instructions.append(instr)
        else:
            self.block.instructions.insert(self._at, instr)
            self._at += 1
        return instr

    def _ref(self, name: str) -> str:
        """A new local value's name, as operands spell it."""
        return "%" + self.block.function.local(name)

    def _value(self, type_: Type, text: str, name: str = "") -> Instr:
        ref = self._ref(name)
        return self._insert(Instr(type_, ref, f"{ref} = {text}"))

    # ---- arithmetic ----------------------------------------------------------------------

    def _binary(op: str):
        def emit(self, lhs: Value, rhs: Value, name: str = "") -> Instr:
            return self._value(lhs.type, f"{op} {lhs.type.text} {lhs.ref}, {rhs.ref}", name)
        emit.__name__ = op
        return emit

    add, sub, mul = _binary("add"), _binary("sub"), _binary("mul")
    udiv, sdiv, urem, srem = _binary("udiv"), _binary("sdiv"), _binary("urem"), _binary("srem")
    and_, or_, xor = _binary("and"), _binary("or"), _binary("xor")
    shl, lshr, ashr = _binary("shl"), _binary("lshr"), _binary("ashr")
    del _binary

    def neg(self, value: Value, name: str = "") -> Instr:
        return self._value(value.type, f"sub {value.type.text} 0, {value.ref}", name)

    def not_(self, value: Value, name: str = "") -> Instr:
        return self._value(value.type, f"xor {value.type.text} {value.ref}, -1", name)

    def icmp_unsigned(self, op: str, lhs: Value, rhs: Value, name: str = "") -> Instr:
        return self._value(_I1, f"icmp {_UNSIGNED[op]} {lhs.type.text} {lhs.ref}, {rhs.ref}",
                           name)

    def icmp_signed(self, op: str, lhs: Value, rhs: Value, name: str = "") -> Instr:
        return self._value(_I1, f"icmp {_SIGNED[op]} {lhs.type.text} {lhs.ref}, {rhs.ref}",
                           name)

    def select(self, cond: Value, lhs: Value, rhs: Value, name: str = "") -> Instr:
        return self._value(lhs.type, f"select i1 {cond.ref}, {lhs.type.text} {lhs.ref}, "
                                     f"{rhs.type.text} {rhs.ref}", name)

    def _cast(op: str):
        def emit(self, value: Value, type_: Type, name: str = "") -> Instr:
            return self._value(type_, f"{op} {value.type.text} {value.ref} to {type_.text}",
                               name)
        emit.__name__ = op
        return emit

    trunc, zext, sext = _cast("trunc"), _cast("zext"), _cast("sext")
    inttoptr, ptrtoint = _cast("inttoptr"), _cast("ptrtoint")
    del _cast

    # ---- memory --------------------------------------------------------------------------

    def alloca(self, type_: Type, size: Value | None = None, name: str = "") -> Instr:
        ref = self._ref(name)
        count = "" if size is None else f", {size.type.text} {size.ref}"
        instr = _Alloca(_PTR, ref, f"{ref} = alloca {type_.text}{count}")
        instr.align = None
        return self._insert(instr)

    def load(self, ptr: Value, name: str = "", align: int | None = None,
             typ: Type | None = None) -> Instr:
        aligned = "" if align is None else f", align {align}"
        return self._value(typ, f"load {typ.text}, ptr {ptr.ref}{aligned}", name)

    def store(self, value: Value, ptr: Value, align: int | None = None) -> Instr:
        aligned = "" if align is None else f", align {align}"
        return self._insert(Instr(_VOID, None,
                                  f"store {value.type.text} {value.ref}, ptr {ptr.ref}{aligned}"))

    def gep(self, ptr: Value, indices, inbounds: bool = False, name: str = "",
            source_etype: Type | None = None) -> Instr:
        where = ", ".join(f"{i.type.text} {i.ref}" for i in indices)
        flag = "inbounds " if inbounds else ""
        return self._value(_PTR, f"getelementptr {flag}{source_etype.text}, ptr {ptr.ref}, "
                                 f"{where}", name)

    def cmpxchg(self, ptr: Value, cmp: Value, val: Value, ordering: str,
                failordering: str | None = None, name: str = "") -> Instr:
        pair = _StructType([val.type, _I1])
        return self._value(pair, f"cmpxchg ptr {ptr.ref}, {cmp.type.text} {cmp.ref}, "
                                 f"{val.type.text} {val.ref} {ordering} "
                                 f"{failordering or ordering}", name)

    def atomic_rmw(self, op: str, ptr: Value, val: Value, ordering: str,
                   name: str = "") -> Instr:
        return self._value(val.type, f"atomicrmw {op} ptr {ptr.ref}, {val.type.text} "
                                     f"{val.ref} {ordering}", name)

    def insert_value(self, agg: Value, value: Value, index: int, name: str = "") -> Instr:
        return self._value(agg.type, f"insertvalue {agg.type.text} {agg.ref}, "
                                     f"{value.type.text} {value.ref}, {index}", name)

    def extract_value(self, agg: Value, index: int, name: str = "") -> Instr:
        return self._value(agg.type.elements[index],
                           f"extractvalue {agg.type.text} {agg.ref}, {index}", name)

    def phi(self, type_: Type, name: str = "") -> _Phi:
        ref = self._ref(name)
        instr = _Phi(type_, ref, f"{ref} = phi {type_.text} ")
        instr.incoming = []
        return self._insert(instr)

    # ---- calls and control flow ---------------------------------------------------------

    def call(self, fn, args, name: str = "", attrs=()) -> CallInstr:
        # a function or inline asm; else a loaded function pointer, whose type knows
        ftype = fn.function_type if isinstance(fn, (Function, InlineAsm)) else fn.type.pointee
        ret = ftype.return_type
        cconv = getattr(fn, "calling_convention", "")
        text = f"call {cconv + ' ' if cconv else ''}{ret.text} {fn.ref}({', '.join(f'{a.type.text} {a.ref}' for a in args)})"
        if attrs:
            text += " " + " ".join(attrs)
        if ret.text == "void":
            instr = CallInstr(ret, None, text)
        else:
            ref = self._ref(name)
            instr = CallInstr(ret, ref, f"{ref} = {text}")
        instr.callee = fn
        return self._insert(instr)

    def branch(self, target: Block) -> Instr:
        return self._insert(Instr(_VOID, None, f"br label %{target.name}"))

    def cbranch(self, cond: Value, then: Block, otherwise: Block) -> Instr:
        return self._insert(Instr(_VOID, None, f"br i1 {cond.ref}, label %{then.name}, "
                                               f"label %{otherwise.name}"))

    def ret(self, value: Value) -> Instr:
        return self._insert(Instr(_VOID, None, f"ret {value.type.text} {value.ref}"))

    def ret_void(self) -> Instr:
        return self._insert(Instr(_VOID, None, "ret void"))

    def unreachable(self) -> Instr:
        return self._insert(Instr(_VOID, None, "unreachable"))

    @contextmanager
    def if_then(self, pred: Value, likely: bool | None = None):
        """The body runs when `pred` holds; the builder ends after it (in a new block)."""
        fn = self.block.function
        then, after = fn.append_basic_block(), fn.append_basic_block()
        br = self.cbranch(pred, then, after)
        if likely is not None:
            weights = (99, 1) if likely else (1, 99)
            br.set_metadata("prof", self.module.add_metadata(
                [MetaDataString(self.module, "branch_weights"),
                 Constant(IntType(32), weights[0]), Constant(IntType(32), weights[1])]))
        self.position_at_end(then)
        yield
        if not self.block.is_terminated:
            self.branch(after)
        self.position_at_end(after)
