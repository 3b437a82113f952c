"""Rebuild tibetan/bo_words.txt from the bospell wheel (MIT, Esukhia).

    pip download bospell==0.0.4 --no-deps -d /tmp/bospell      # 174 kB, pure Python
    python scripts/build_bo_words.py /tmp/bospell/bospell-0.0.4-py3-none-any.whl

The wheel's `bospell/resources/dictionaries/general.txt` holds `WORD FREQUENCY` lines. Each
word is normalized (hearme.tibetan.text.normalize, NFC), split into syllables and re-joined
with a tsheg; duplicates are merged (frequencies summed); entries without a Tibetan syllable
are dropped. HearMe does not depend on bospell at run time (it requires botok < 1.0 and
symspellpy, and botok's word tokenizer needs the network).
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

from hearme.tibetan import text as T

SOURCE = "bospell/resources/dictionaries/general.txt"
OUT = Path(__file__).resolve().parents[1] / "tibetan" / "bo_words.txt"


def main(wheel: str) -> None:
    data = Path(wheel).read_bytes()
    with zipfile.ZipFile(wheel) as z:
        version = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA")).split("-")[1].split(".dist")[0]
        text = z.read(SOURCE).decode("utf-8")
    words: dict[str, int] = {}
    for line in text.splitlines():
        word, _, freq = line.rstrip().rpartition(" ")
        syls = T.syllables(word)
        if not syls or not freq.isdigit():
            continue
        key = T.TSHEG.join(syls)
        words[key] = words.get(key, 0) + int(freq)
    header = [
        "# Tibetan words with corpus frequencies, derived from bospell " + version + " (Esukhia developers),",
        "# file " + SOURCE + " of the PyPI wheel, sha256 " + hashlib.sha256(data).hexdigest() + ".",
        "# Licence: MIT (the wheel's metadata); the licence text is in bo_words.LICENSE.txt beside this file.",
        "# Derived by scripts/build_bo_words.py: NFC, syllables re-joined with a tsheg, duplicates merged.",
        "# Format: word<TAB>frequency, sorted by word.",
    ]
    body = [f"{w}\t{f}" for w, f in sorted(words.items())]
    OUT.write_text("\n".join(header + body) + "\n", encoding="utf-8")
    print(f"{len(body)} words -> {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
