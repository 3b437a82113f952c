"""`self-cognition`: identity items (who are you, who made you) with the counselor's name filled in.

Reads the built-in template (converters/templates/self_cognition.json) or LLaMA-Factory
identity files, `[{"instruction", "input", "output", "lang"?, "kind"?}]`, in any of the three
placeholder styles used over time: `<NAME>`/`<AUTHOR>`, `NAME`/`AUTHOR`, `{{name}}`/`{{author}}`.
An item in which a placeholder-like token would survive is rejected, never written.
"""

from __future__ import annotations

import re
from pathlib import Path

from hearme.core import io, schema
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


def _slots_in(texts: list[str]) -> tuple[bool, bool]:
    """(has a name slot, has an author slot) anywhere in these texts."""
    return any(SLOTS["name"].search(t) for t in texts), any(SLOTS["author"].search(t) for t in texts)


def _identity_guess(texts: list[str]) -> str:
    """The name the file gives itself most often (我是X / I am X), for the refusal message."""
    from collections import Counter

    found = Counter(m.group(1) for t in texts for m in _SELF_NAME.finditer(t))
    return found.most_common(1)[0][0] if found else ""


_SELF_NAME = re.compile(r"(?:我是|我叫|I am |I'm )([A-Za-z][A-Za-z0-9_-]{1,30}|[\u4e00-\u9fff]{2,6}(?=[，,。.！!]))")


def _unit_texts(raw) -> list[str]:
    """Every text of one item, flat layout or xtuner `conversation` layout."""
    if not isinstance(raw, dict):
        return []
    turns = raw.get("conversation") if isinstance(raw.get("conversation"), list) else [raw]
    return [v for t in turns if isinstance(t, dict) for v in t.values() if isinstance(v, str)]


@register_converter("self-cognition")
class SelfCognitionConverter(Converter):
    """Items `{instruction, input, output}` (LLaMA-Factory) or `{conversation: [{system?, input, output}]}`
    (EmoLLM's processed layout). A file without placeholders keeps its identity, unless
    --replace-name/--replace-author say which identity to replace; --name/--author on such a file
    without them is refused (never silently ignored)."""
    # Identity items speak about the assistant: its configured name (我叫Jerry) and maker are not
    # personal data, and scrubbing them would train the model to say [NAME].
    holds_personal_data = False

    source = "self-cognition"
    license = "Apache-2.0"
    suffixes = (".json", ".jsonl")
    unit_name = "item"

    def units(self, path: Path | None):
        path = path or Path(self.ctx.options.get("template") or BUILTIN)
        if not path.exists():
            raise io.InputError(path, "", "template not found" + (" (the built-in template is missing)" if path == BUILTIN else ""))
        self._path = path
        kind, data = io.read_json_or_lines(path)  # by content, not by the file name
        if kind == "jsonl":
            items = [(f"line {n}", obj if err is None else Reject(err)) for n, obj, err in data]
        else:
            if not isinstance(data, list):
                raise io.InputError(path, "", f"expected a JSON list of identity items, got {type(data).__name__}")
            items = [(f"item {i}", item) for i, item in enumerate(data)]
        self._check_identity(path, [t for _, raw in items for t in _unit_texts(raw)])
        yield from items

    def _check_identity(self, path: Path, texts: list[str]) -> None:
        """Refuse --name/--author that this file gives no place to; check --replace-* are found."""
        opts = self.ctx.options
        has_name, has_author = _slots_in(texts)
        for kind, has_slot in (("name", has_name), ("author", has_author)):
            given, old = opts.get(kind), opts.get(f"replace_{kind}")
            if old:
                if not any(old in t for t in texts):
                    raise io.InputError(path, "", f"--replace-{kind} {old!r} does not occur in this file")
            elif given and not has_slot:
                guess = _identity_guess(texts) if kind == "name" else ""
                hint = f" (it calls itself {guess!r})" if guess else ""
                raise io.InputError(path, "", f"no {kind} placeholders (<{kind.upper()}>, {kind.upper()}, "
                                    f"{{{{{kind}}}}}){hint}, so --{kind} {given!r} would be ignored; give "
                                    f"--replace-{kind} OLD to replace the {kind} it uses, or leave out --{kind}")

    def _text(self, value: str) -> str:
        opts = self.ctx.options
        name = opts.get("name") or DEFAULT_NAME
        author = opts.get("author") or DEFAULT_AUTHOR
        text = fill(value, name, author)
        # The longer identity first: "EmoLLM团队" (author) before "EmoLLM" (name).
        swaps = sorted(((opts.get("replace_author"), author), (opts.get("replace_name"), name)),
                       key=lambda kv: -len(kv[0] or ""))
        for old, new in swaps:
            if old and old in text:
                text = text.replace(old, new)
                self.ctx.tally.note(f"identity replaced ({old} -> {new})")
        return clean(text)

    def _pairs(self, raw: dict) -> tuple[list[tuple[str, str]], str | None]:
        """(user, assistant) pairs and a system prompt, from either layout."""
        if "conversation" in raw:
            conv = raw["conversation"]
            if not isinstance(conv, list) or not conv or not all(isinstance(t, dict) for t in conv):
                raise Reject("`conversation` must be a non-empty list of {system?, input, output} turns")
            system = conv[0].get("system")
            if system is not None and not isinstance(system, str):
                raise Reject(f"`system` is {type(system).__name__}, expected text")
            return [(self._field(t, "input"), self._field(t, "output")) for t in conv], \
                (self._text(system) or None) if system else None
        instruction, inp, output = (self._field(raw, k) for k in ("instruction", "input", "output"))
        return [(instruction + ("\n" + inp if inp else ""), output)], None

    def _field(self, item: dict, key: str) -> str:
        value = item.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise Reject(f"`{key}` is {type(value).__name__}, expected text")
        return self._text(value)

    def convert(self, raw, path: Path | None, position):
        if isinstance(raw, Reject):
            raise raw
        if not isinstance(raw, dict):
            raise Reject(f"item is {type(raw).__name__}, expected an object")
        if not ({"instruction", "input", "output", "conversation"} & raw.keys()):
            raise Reject(f"no `instruction`/`input`/`output` (LLaMA-Factory) or `conversation` (xtuner) fields; "
                         f"found {', '.join(sorted(map(str, raw))) or 'none'}")
        pairs, system = self._pairs(raw)
        messages = []
        for k, (user, output) in enumerate(pairs):
            where = f"turn {k} " if len(pairs) > 1 else ""
            if not user:
                raise Reject(f"{where}`instruction` and `input` are both empty")
            if not output:
                raise Reject(f"{where}`output` is empty")
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        text = " ".join(m["content"] for m in messages)
        lang = raw.get("lang") if isinstance(raw.get("lang"), str) and raw.get("lang") else lang_of(text)
        kind = raw.get("kind") if isinstance(raw.get("kind"), str) else None
        idx = str(position).split()[-1]
        return [schema.make(messages, id=f"self-cognition/{self.file_key(path or self._path)}/{idx}",
                            source=self.source, lang=lang, topic="self-cognition", kind=kind,
                            system=system, license=self.license)]
