"""No development code in the deployed functions (issue 15 item 1): every Lambda bootstrap the stack test built
is searched for strings only development code holds, and the local server's binary, which is built with that
code, is searched too, to show the search finds them.

The sentinels: `shared::dev::DEVELOPMENT_CODE` (a sentence the local server prints), the development routes'
prefix `/_dev/`, the development environment switches `EDL_DEV_`, and 张伟's identity number from the sample
register (`shared::sample`). Usage: no_dev_code.py <edl-local binary> <bootstrap.zip or function binary>...
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

SENTINELS = {
    "the development module's marker": b"EDL development code: never in a deployed function",
    "a development route": b"/_dev/",
    "a development environment switch": b"EDL_DEV_",
    "the sample register": b"11010519900307451X",
}
# The local server holds these for certain (it prints the marker, serves the routes, loads the samples).
IN_THE_LOCAL_SERVER = ["the development module's marker", "a development route", "the sample register"]


def bootstrap_of(path: str) -> bytes:
    """The function's binary: the `bootstrap` of a Lambda zip, or the file itself."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.read("bootstrap")
    return Path(path).read_bytes()


def found(data: bytes) -> list[str]:
    return [name for name, sentinel in SENTINELS.items() if sentinel in data]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    local = Path(sys.argv[1]).read_bytes()
    missing = [name for name in IN_THE_LOCAL_SERVER if name not in found(local)]
    failures = 0
    if missing:
        print(f"FAIL the search finds no {', '.join(missing)} in {sys.argv[1]}, which has it: the check is blind")
        failures += 1
    for path in sys.argv[2:]:
        bootstrap = bootstrap_of(path)
        hits = found(bootstrap)
        if hits:
            print(f"FAIL {path} holds development code: {', '.join(hits)}")
            failures += 1
        else:
            print(f"ok   {path}: no development code ({len(bootstrap)} bytes searched)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
