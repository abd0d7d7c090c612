"""The code cache (bpfjit.cache): a program compiled before, in this process or another,
is neither verified nor compiled again, runs the same, and untrusted entries are never
used.

Each test has its own cache directory.  "Not verified again" is checked by making the
verifier's analysis and the backends' code generators fail if they are called.
"""

import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import bpfjit
from bpfjit import cache
from bpfjit.verifier.analysis import Analysis

ELF = Path(__file__).parent / "elf"
ROOT = Path(__file__).parent.parent
XDP_DROP, XDP_PASS = 1, 2

# r0 = the sum of the buffer's bytes (a loop with checked loads)
SUM = """
    mov %r0, 0
    mov %r3, 0
loop:
    jge %r3, %r2, done
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    add %r0, %r5
    add %r3, 1
    ja loop
done:
    exit
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BPFJIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BPFJIT_CACHE", raising=False)
    return tmp_path / "cache"


def forbid_compiling(monkeypatch):
    """Make verification and code generation raise: only a cache hit can compile."""
    def refuse(*args, **kwargs):
        raise AssertionError("compiled again instead of using the cache")
    monkeypatch.setattr(Analysis, "run", refuse)
    from bpfjit.backends import llvm, x86
    monkeypatch.setattr(llvm, "build_image", refuse)
    monkeypatch.setattr(x86, "build_image", refuse)


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name != "key")


def test_a_second_compile_of_the_same_bytecode_is_a_hit(engine, monkeypatch, own_cache):
    data = bytes(range(1, 41))                        # 1 + 2 + ... + 40 = 820
    assert bpfjit.compile(bpfjit.assemble(SUM), engine)(data) == 820
    forbid_compiling(monkeypatch)
    fresh = bpfjit.assemble(SUM)                      # a new Program: nothing in memory
    assert bpfjit.compile(fresh, engine)(data) == 820
    assert bpfjit.compile(fresh, engine)(b"\xff" * 3) == 765


def test_a_hit_in_a_new_process(own_cache):
    script = ("import bpfjit, sys\n"
              f"prog = bpfjit.assemble({SUM!r})\n"
              "print(bpfjit.compile(prog, sys.argv[1])(bytes(range(1, 41))))\n")
    env = dict(os.environ, BPFJIT_CACHE_DIR=str(own_cache))
    for engine in bpfjit.engines():
        first = subprocess.run([sys.executable, "-c", script, engine], env=env,
                               capture_output=True, text=True, check=True)
        written = len(entries(own_cache))
        second = subprocess.run([sys.executable, "-c", script, engine], env=env,
                                capture_output=True, text=True, check=True)
        assert first.stdout == second.stdout == "820\n"
        assert len(entries(own_cache)) == written          # nothing new: it was a hit


def test_a_hit_loads_no_code_generator(own_cache):
    """A compile the cache answers imports neither the llvm lowering (which builds IR
    and hands it to LLVM, in its worker process) nor PeachPy: only generating code
    needs them.  llvmlite.binding never loads in the process that runs programs."""
    script = ("import bpfjit, sys\n"
              f"prog = bpfjit.assemble({SUM!r})\n"
              "print(bpfjit.compile(prog, sys.argv[1])(bytes(range(1, 41))))\n"
              "print(sorted(m for m in ('bpfjit.backends.llvm', 'llvmlite.binding', "
              "'peachpy') if m in sys.modules))\n")
    env = dict(os.environ, BPFJIT_CACHE_DIR=str(own_cache))
    for engine in set(bpfjit.engines()) - {"interp"}:
        first = subprocess.run([sys.executable, "-c", script, engine], env=env,
                               capture_output=True, text=True, check=True)
        second = subprocess.run([sys.executable, "-c", script, engine], env=env,
                                capture_output=True, text=True, check=True)
        generator = "bpfjit.backends.llvm" if engine == "llvm" else "peachpy"
        assert first.stdout.startswith("820\n") and generator in first.stdout
        assert "llvmlite.binding" not in first.stdout
        assert second.stdout == "820\n[]\n"


def test_a_cached_program_uses_the_maps_of_its_own_load(engine, monkeypatch):
    """Map arenas are filled in when cached code is placed: a second load of the same
    object counts in its own maps, not in the first load's."""
    packet = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(8) + bytes([17]) + bytes(30)
    first = bpfjit.load_elf(ELF / "counter.o")
    bpfjit.compile(first, engine)(bpfjit.XdpContext(packet))
    forbid_compiling(monkeypatch)
    second = bpfjit.load_elf(ELF / "counter.o")
    fn = bpfjit.compile(second, engine)
    assert [fn(bpfjit.XdpContext(packet)) for _ in range(3)] == [XDP_PASS] * 3
    assert second.maps["total"].ints()[0] == 3
    assert second.maps["proto_counts"].ints()[17] == 3
    assert first.maps["total"].ints()[0] == 1


def read_rodata(prog: bpfjit.Program) -> bpfjit.Program:
    """r0 = the first word of the object's .rodata, which the verifier reads as a constant."""
    index = prog.maps.list.index(prog.maps[".rodata"])
    reader = bpfjit.assemble(f"lddw %r1, map_val_by_fd({index}, 0)\nldxw %r0, [%r1]\nexit")
    return bpfjit.Program(reader.insns, env=prog.env)


def test_read_only_data_is_part_of_the_key(engine, own_cache):
    """The verifier reads .rodata: a load whose .rodata was changed before compiling has a
    verdict of its own, and the cached path freezes .rodata as verifying does."""
    changed = bpfjit.load_elf(ELF / "globals.o")
    changed.maps[".rodata"][0] = struct.pack("<I", 30)
    assert bpfjit.compile(read_rodata(changed), engine)(bytes(8)) == 30
    verdicts = [p for p in entries(own_cache) if p.suffix == ".verdict"]
    plain = bpfjit.load_elf(ELF / "globals.o")
    assert bpfjit.compile(read_rodata(plain), engine)(bytes(8)) == 7     # globals.c: step
    assert len([p for p in entries(own_cache) if p.suffix == ".verdict"]) == len(verdicts) + 1
    again = bpfjit.load_elf(ELF / "globals.o")
    assert bpfjit.compile(read_rodata(again), engine)(bytes(8)) == 7     # a hit
    with pytest.raises(bpfjit.MapError, match="frozen"):
        again.maps[".rodata"][0] = struct.pack("<I", 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "foreign"])
def test_damaged_entries_are_never_used(engine, own_cache, tmp_path, damage):
    data = bytes(range(1, 41))
    bpfjit.compile(bpfjit.assemble(SUM), engine)(data)
    stored = entries(own_cache)
    assert stored
    if damage == "foreign":
        # entries written under another directory's key (another user, another cache)
        other = tmp_path / "other"
        os.environ["BPFJIT_CACHE_DIR"] = str(other)
        bpfjit.compile(bpfjit.assemble(SUM), engine)(data)
        os.environ["BPFJIT_CACHE_DIR"] = str(own_cache)
        for path in entries(other):
            (own_cache / path.name).write_bytes(path.read_bytes())
    for path in stored:
        raw = path.read_bytes()
        if damage == "flip":
            path.write_bytes(raw[:-5] + bytes([raw[-5] ^ 0x40]) + raw[-4:])
        elif damage == "truncate":
            path.write_bytes(raw[:len(raw) // 2])
        elif damage == "empty":
            path.write_bytes(b"")
    calls = []
    original = Analysis.run

    def counted(self):
        calls.append(1)
        return original(self)
    Analysis.run = counted
    try:
        assert bpfjit.compile(bpfjit.assemble(SUM), engine)(data) == 820
    finally:
        Analysis.run = original
    assert calls == [1]                                   # verified again
    assert all(cache.load(p.suffix[1:], p.stem) is not None for p in entries(own_cache))


def test_a_directory_others_can_write_is_not_used(own_cache):
    own_cache.mkdir(mode=0o777)
    os.chmod(own_cache, 0o777)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert bpfjit.compile(bpfjit.assemble(SUM), "interp")(b"\x01\x02") == 3
    assert any("not using the code cache" in str(w.message) for w in caught)
    assert entries(own_cache) == []


def test_the_cache_can_be_turned_off(own_cache, monkeypatch):
    assert bpfjit.compile(bpfjit.assemble(SUM), "interp", cache=False)(b"\x05") == 5
    assert not own_cache.exists() or entries(own_cache) == []
    monkeypatch.setenv("BPFJIT_CACHE", "off")
    assert bpfjit.compile(bpfjit.assemble(SUM), "interp")(b"\x05") == 5
    assert not own_cache.exists() or entries(own_cache) == []


def test_the_cli_shows_and_clears_the_cache(own_cache):
    bpfjit.compile(bpfjit.assemble(SUM), "interp")(b"\x01")
    env = dict(os.environ, BPFJIT_CACHE_DIR=str(own_cache))
    shown = subprocess.run([sys.executable, "-m", "bpfjit", "cache"], env=env,
                           capture_output=True, text=True, check=True)
    assert shown.stdout.startswith(f"{own_cache}: 1 entries")
    cleared = subprocess.run([sys.executable, "-m", "bpfjit", "cache", "--clear"], env=env,
                             capture_output=True, text=True, check=True)
    assert cleared.stdout == "removed 1 entries\n"
    assert not any(own_cache.iterdir())


def test_source_digest_follows_a_changed_source_file(tmp_path, monkeypatch):
    # a copy of the package whose one file is touched: the digest must move with it
    import shutil
    import bpfjit.backends
    root = Path(bpfjit.__file__).parent
    copy = tmp_path / "bpfjit"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bpfjit, "__file__", str(copy / "__init__.py"))
    monkeypatch.setattr(bpfjit.backends, "__file__", str(copy / "__init__.py"))
    monkeypatch.setattr(cache, "_state", {})
    first = cache.source_digest()
    monkeypatch.setattr(cache, "_state", {})
    assert cache.source_digest() == first
    target = copy / "semantics.py"
    target.write_text(target.read_text() + "\n# changed\n")
    monkeypatch.setattr(cache, "_state", {})
    assert cache.source_digest() != first


def test_source_digest_follows_a_new_file_in_a_subpackage(tmp_path, monkeypatch):
    import shutil
    import bpfjit.backends
    copy = tmp_path / "bpfjit"
    shutil.copytree(Path(bpfjit.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bpfjit, "__file__", str(copy / "__init__.py"))
    monkeypatch.setattr(bpfjit.backends, "__file__", str(copy / "__init__.py"))
    monkeypatch.setattr(cache, "_state", {})
    first = cache.source_digest()
    (copy / "verifier" / "extra.py").write_text("X = 1\n")
    monkeypatch.setattr(cache, "_state", {})
    assert cache.source_digest() != first


def test_an_installed_copy_is_named_by_its_record(tmp_path):
    # a wheel install: site-packages/bpfjit plus bpfjit-<version>.dist-info/RECORD, which
    # lists each file with its hash; the digest is the RECORD's, and follows it
    import hashlib
    package = tmp_path / "bpfjit"
    package.mkdir()
    info = tmp_path / "bpfjit-9.9.dist-info"
    info.mkdir()
    record = b"bpfjit/__init__.py,sha256=AAAA,10\nbpfjit/cache.py,sha256=BBBB,20\n"
    (info / "RECORD").write_bytes(record)
    assert cache.installed_digest(str(package), "9.9") == \
        hashlib.sha256(b"RECORD\0" + record).hexdigest()
    (info / "RECORD").write_bytes(record.replace(b"BBBB", b"CCCC"))
    assert cache.installed_digest(str(package), "9.9") == \
        hashlib.sha256(b"RECORD\0" + record.replace(b"BBBB", b"CCCC")).hexdigest()
    # another version's RECORD, or one that does not list bpfjit's files: not this copy
    assert cache.installed_digest(str(package), "1.0") is None
    (info / "RECORD").write_bytes(b"__editable___bpfjit_finder.py,sha256=DDDD,30\n")
    assert cache.installed_digest(str(package), "9.9") is None


@pytest.mark.skipif(Path(bpfjit.__file__).resolve().parent.parent
                    != Path(__file__).resolve().parent.parent,
                    reason="bpfjit is imported from an installed copy, not this checkout")
def test_the_source_tree_is_not_taken_for_an_installed_copy():
    # this checkout (an editable install) has no RECORD beside its package directory
    assert cache.installed_digest(str(Path(bpfjit.__file__).parent), bpfjit.__version__) is None


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="PeachPy is not installed")
def test_peachpy_takes_its_map_routines_from_the_cache(own_cache):
    # a first process compiles a program using hash-map routines; a second one compiles
    # another program needing the same routines with LLVM's code generator forbidden
    script = ("import sys, bpfjit\n"
              "from bpfjit.backends import llvm_worker\n"
              "if sys.argv[2] == 'forbid':\n"
              "    def refuse(*args):\n"
              "        raise AssertionError('compiled the map routines again')\n"
              "    llvm_worker.generate = refuse\n"
              f"prog = bpfjit.load_elf({str(ELF / 'hash_probe.o')!r}, function=sys.argv[1])\n"
              "print(bpfjit.compile(prog, 'peachpy')(bpfjit.XdpContext(bytes(8))))\n")
    env = dict(os.environ, BPFJIT_CACHE_DIR=str(own_cache))
    first = subprocess.run([sys.executable, "-c", script, "probe_words", "allow"], env=env,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "2000\n"                  # two words, neither in the map
    assert any(e.name.endswith(".routines") for e in entries(own_cache))
    second = subprocess.run([sys.executable, "-c", script, "count_words", "forbid"], env=env,
                            capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "4\n"       # word 0 inserted (+1), then found and raised (+3)


# ---- PeachPy's templates ------------------------------------------------------------------

# a program the SUM loop's shapes cover: the same instructions, other constants of the
# same size classes (so a code-cache miss, but nothing PeachPy has not encoded)
SUM_TWICE = SUM.replace("add %r0, %r5", "add %r0, %r5\n    add %r0, %r5").replace(
    "add %r3, 1", "add %r3, 2")


def in_new_process(cache_dir: Path, options: str, text: str, **env: str) -> list[str]:
    """Compile `text` on peachpy (with `options`) in a new process using `cache_dir`; the
    words it prints: the result on bytes 1..40, whether PeachPy was imported, the code."""
    script = ("import sys, bpfjit\n"
              f"fn = bpfjit.compile(bpfjit.assemble(sys.argv[1]), 'peachpy'{options})\n"
              "print(fn(bytes(range(1, 41))), 'peachpy' in sys.modules, fn.memory.code.hex())\n")
    done = subprocess.run([sys.executable, "-c", script, text], capture_output=True, text=True,
                          env=dict(os.environ, BPFJIT_CACHE_DIR=str(cache_dir), **env))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="PeachPy is not installed")
def test_a_new_program_in_a_new_process_needs_no_peachpy(own_cache):
    # a first process compiles SUM, and keeps the templates PeachPy encoded for it; a
    # second one compiles another program of the same shapes without importing PeachPy,
    # to the same machine code as a process without the cache (constants not blinded)
    assert in_new_process(own_cache, ", blind=False", SUM)[:2] == ["820", "True"]
    assert [p.suffix for p in entries(own_cache)].count(".templates") == 1
    # every byte counted twice, on the odd offsets 0, 2, ..., 38: 2 * (1 + 3 + ... + 39)
    result, imported, code = in_new_process(own_cache, ", blind=False", SUM_TWICE)
    assert (result, imported) == (str(2 * 400), "False")
    assert in_new_process(own_cache, ", blind=False", SUM_TWICE, BPFJIT_CACHE="off") == \
        [str(2 * 400), "True", code]


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="PeachPy is not installed")
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_templates_are_encoded_again(own_cache, damage):
    in_new_process(own_cache, "", SUM)
    [path] = [p for p in entries(own_cache) if p.suffix == ".templates"]
    raw = path.read_bytes()
    path.write_bytes(raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:] if damage == "flip"
                     else raw[:len(raw) // 2])
    # PeachPy encoded the shapes again, and a sound entry is back
    assert in_new_process(own_cache, "", SUM_TWICE)[:2] == ["800", "True"]
    assert cache.load("templates", path.stem) is not None


def test_malformed_templates_are_not_learnt():
    from bpfjit.backends import x86templates
    templates = {("ADD", "rax", "b"): (b"\x48\x83\xc0\x12", ((2, 3, 1),))}
    branches = {("jmp", True): b"\xe9"}
    header, blob = x86templates._encode(templates, branches)
    assert x86templates._decode(json_round_trip(header), blob) == (templates, branches)
    # a patch past its template's end, a code slice past the blob, a missing part
    bad_patch = json_round_trip(header)
    bad_patch["templates"][0][3] = [[2, 3, 2]]
    assert x86templates._decode(bad_patch, blob) is None
    assert x86templates._decode(json_round_trip(header), blob[:3]) is None
    assert x86templates._decode({"templates": []}, blob) is None


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="PeachPy is not installed")
def test_templates_are_written_as_they_double_and_at_exit(monkeypatch):
    """The entry was read back and written whole after every build that encoded a new
    shape: a process that had met thousands (a test session) spent 140 ms of each
    compile on it.  It is written when this process has encoded at least as many as it
    held when last read or written, so 40 builds of new shapes write it at most
    log2(their templates) + 1 times; `flush`, run at exit, stores the rest."""
    from bpfjit.backends import x86asm, x86templates
    monkeypatch.setattr(x86asm, "_TEMPLATES", {})          # a process that knows nothing
    monkeypatch.setattr(x86asm, "_BRANCH_BYTES", {})
    monkeypatch.setattr(x86templates, "_state", dict(x86templates._state, stamp=None,
                                                     known=0))
    writes = []
    real_store = cache.store

    def counting_store(kind, name, header, blob=b""):
        writes.append(kind)
        real_store(kind, name, header, blob)
    monkeypatch.setattr(cache, "store", counting_store)
    for k in range(40):     # each program has shapes the ones before it did not
        d, s = divmod(k, 10)
        text = f"mov %r0, 0\nlddw %r{s}, {(k + 1) << 40}\nmov %r{d}, %r{s}\n" \
               f"lsh %r{d}, {k + 1}\nadd %r0, %r{s}\nexit"
        bpfjit.compile(bpfjit.assemble(text), "peachpy")
    count = x86asm.encoding_count()
    assert count > 40
    assert 1 <= writes.count("templates") <= count.bit_length() + 1
    x86templates.flush()
    stored = x86templates._stored()
    assert stored is not None
    assert (len(stored[0]), len(stored[1])) == tuple(map(len, x86asm.encodings()))


def json_round_trip(header: dict) -> dict:
    import json
    return json.loads(json.dumps(header))


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="PeachPy is not installed")
def test_no_templates_are_kept_when_the_cache_is_off(own_cache):
    assert in_new_process(own_cache, ", cache=False", SUM_TWICE)[0] == "800"
    assert not own_cache.exists() or entries(own_cache) == []
