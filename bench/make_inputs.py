"""Write the benchmark programs' input buffers (bench/programs/*.mem), deterministically."""

import random
from pathlib import Path

HERE = Path(__file__).parent / "programs"


def main() -> None:
    rng = random.Random(20261125)
    (HERE / "checksum.mem").write_bytes(rng.randbytes(1500))   # one Ethernet MTU


if __name__ == "__main__":
    main()
