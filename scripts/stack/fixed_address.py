"""Every Lambda bootstrap the stack test built is linked at a fixed address (ELF type EXEC), as the functions' build
script asks (docs/adr/0002-fixed-address-functions.md); the local server's binary, linked position-independent
(type DYN), is read too, to show the check tells the two apart.

Usage: fixed_address.py <edl-local binary> <bootstrap.zip or function binary>...
"""

from __future__ import annotations

import struct
import sys

from no_dev_code import bootstrap_of

ELF_TYPES = {1: "REL", 2: "EXEC (fixed address)", 3: "DYN (position-independent)", 4: "CORE"}


def elf_type(data: bytes) -> int:
    if data[:4] != b"\x7fELF":
        return 0
    # e_type, after the 16-byte identification; its byte order is e_ident[EI_DATA] (1: little, 2: big endian).
    order = "<" if data[5] == 1 else ">"
    return struct.unpack_from(order + "H", data, 16)[0]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    failures = 0
    local = elf_type(bootstrap_of(sys.argv[1]))
    if local != 3:
        print(f"FAIL {sys.argv[1]} reads as {ELF_TYPES.get(local, local)}, not DYN: the check is blind")
        failures += 1
    for path in sys.argv[2:]:
        kind = elf_type(bootstrap_of(path))
        if kind == 2:
            print(f"ok   {path}: {ELF_TYPES[kind]}")
        else:
            print(f"FAIL {path}: {ELF_TYPES.get(kind, f'not an ELF executable ({kind})')}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
