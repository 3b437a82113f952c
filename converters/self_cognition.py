"""`self-cognition`: identity items (who are you, who made you) with the counselor's name filled in.

Reads the built-in template (converters/templates/self_cognition.json) or LLaMA-Factory
identity files, `[{"instruction", "input", "output", "lang"?, "kind"?}]`, in any of the three
placeholder styles used over time: `<NAME>`/`<AUTHOR>`, `NAME`/`AUTHOR`, `{{name}}`/`{{author}}`.
An item in which a placeholder-like token would survive is rejected, never written.
"""

from __future__ import annotations

import re
from pathlib import Path

from hearme import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import clean, lang_of

BUILTIN = Path(__file__).resolve().parent / "templates" / "self_cognition.json"
DEFAULT_NAME, DEFAULT_AUTHOR = "Jerry", "VastEpiphany"

# Anything that still looks like a template slot once the known ones are gone.
_SURVIVOR = re.compile(r"(?i:\{\{[^{}]{0,40}\}\}|<\s*(?:name|author)\s*>)")
# Slot styles that are none of the three (e.g. [NAME], {name}): checked on the raw text.
_FOREIGN = re.compile(r"(?i:\[\s*(?:name|author)\s*\]|(?<!\{)\{\s*(?:name|author)\s*\}(?!\}))")


def _compile(kind: str) -> re.Pattern:
    # Bare NAME/AUTHOR only in capitals: "name" and "author" are ordinary English words.
    braces = r"\{\{\s*%s\s*\}\}|<\s*%s\s*>" % (kind, kind)
    return re.compile(f"(?i:{braces})|(?<![A-Za-z_]){kind.upper()}(?![A-Za-z_])")


SLOTS = {k: _compile(k) for k in ("name", "author")}


def fill(text: str, name: str, author: str) -> str:
    """Replace every placeholder; raise Reject if anything slot-like would survive."""
    stripped = SLOTS["author"].sub("", SLOTS["name"].sub("", text))
    m = _FOREIGN.search(text) or _SURVIVOR.search(stripped)
    if m:
        raise Reject(f"unknown placeholder {m.group()!r} would survive")
    text = SLOTS["name"].sub(lambda _: name, text)
    return SLOTS["author"].sub(lambda _: author, text)


@register_converter("self-cognition")
class SelfCognitionConverter(Converter):
    source = "self-cognition"
    license = "Apache-2.0"
    suffixes = (".json", ".jsonl")
    unit_name = "item"

    def units(self, path: Path | None):
        path = path or Path(self.ctx.options.get("template") or BUILTIN)
        if not path.exists():
            raise io.InputError(path, "", "template not found" + (" (the built-in template is missing)" if path == BUILTIN else ""))
        self._path = path
        if path.suffix == ".jsonl":
            for lineno, obj, err in io.iter_jsonl(path):
                yield f"line {lineno}", (obj if err is None else Reject(err))
            return
        data = io.read_json(path)
        if not isinstance(data, list):
            raise io.InputError(path, "", f"expected a JSON list of identity items, got {type(data).__name__}")
        for i, item in enumerate(data):
            yield f"item {i}", item

    def convert(self, raw, path: Path | None, position):
        if isinstance(raw, Reject):
            raise raw
        if not isinstance(raw, dict):
            raise Reject(f"item is {type(raw).__name__}, expected an object")
        name = self.ctx.options.get("name") or DEFAULT_NAME
        author = self.ctx.options.get("author") or DEFAULT_AUTHOR
        parts = []
        for key in ("instruction", "input", "output"):
            value = raw.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise Reject(f"`{key}` is {type(value).__name__}, expected text")
            parts.append(clean(fill(value, name, author)))
        instruction, inp, output = parts
        user = instruction + ("\n" + inp if inp else "")
        if not user:
            raise Reject("`instruction` and `input` are both empty")
        if not output:
            raise Reject("`output` is empty")
        lang = raw.get("lang") if isinstance(raw.get("lang"), str) and raw.get("lang") else lang_of(user + output)
        kind = raw.get("kind") if isinstance(raw.get("kind"), str) else None
        stem = (path or self._path).stem
        idx = str(position).split()[-1]
        return [schema.make([{"role": "user", "content": user}, {"role": "assistant", "content": output}],
                            id=f"self-cognition/{stem}/{idx}", source=self.source, lang=lang,
                            topic="self-cognition", kind=kind, license=self.license)]
