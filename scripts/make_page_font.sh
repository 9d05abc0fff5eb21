#!/usr/bin/env bash
# Regenerates shared/fonts/: the subset of Noto Sans CJK SC Regular (SIL OFL 1.1) that the licence
# pages embed to draw Chinese in their PNG form. Not run by the test command; run it by hand after
# changing the character set below. Needs apt-get (Debian's fonts-noto-cjk), python3 and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out="$root/shared/fonts"
work=$(mktemp -d "${TMPDIR:-/tmp}/edl-font.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The font, from Debian's package (no root needed to download and unpack it).
(cd "$work" && apt-get download fonts-noto-cjk=1:20220127+repack1-1 >/dev/null)
dpkg-deb -x "$work"/fonts-noto-cjk_*.deb "$work/deb"
collection="$work/deb/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

# 2. fonttools, pinned.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check fonttools==4.55.3

# 3. The characters the pages can contain: printable ASCII; GB 2312's punctuation (row 1), full-width
#    forms (row 3) and all of its 6,763 hanzi (rows 16-87); and every other character the
#    repository's pages, sample register and shipped data use, so nothing the product itself
#    writes on a page is missing.
"$work/venv/bin/python" - "$work/chars.txt" "$root" <<'PY'
import pathlib, sys
chars = {chr(c) for c in range(0x20, 0x7F)}
for row in [1, 3] + list(range(16, 88)):
    for cell in range(1, 95):
        try:
            chars.add(bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312"))
        except UnicodeDecodeError:
            pass  # an unassigned code point of the row
root = pathlib.Path(sys.argv[2])
sources = [root / "shared/src/credential/pages.rs", root / "shared/src/sample.rs", *root.glob("shared/data/*.json")]
for source in sources:
    chars.update(c for c in source.read_text(encoding="utf-8") if ord(c) > 0x7F and c.isprintable())
pathlib.Path(sys.argv[1]).write_text("".join(sorted(chars)), encoding="utf-8")
print(f"{len(chars)} characters")
PY

# 4. The subset: index 2 of the collection is the Simplified Chinese face. No hinting (the pages
#    are rendered at fixed sizes, anti-aliased) and no layout features (horizontal text only).
"$work/venv/bin/pyftsubset" "$collection" --font-number=2 --text-file="$work/chars.txt" \
  --no-hinting --layout-features='' --name-IDs='0,1,2,3,4,5,6,13,14' --name-languages='*' \
  --output-file="$out/NotoSansCJKsc-Regular-subset.otf"
# The licence text, from the package's copyright file (its indented "License: SIL-1.1" paragraph).
awk '/^License: SIL-1.1$/ {grab = 1; next} grab && /^ / {print; next} {grab = 0}' \
  "$work/deb/usr/share/doc/fonts-noto-cjk/copyright" | sed -e 's/^ //' -e 's/^\.$//' > "$out/OFL.txt"
ls -l "$out"
