"""Recover the dialogue turns from a LLaMA-Factory `prompt` (the decoded chat template).

generated_predictions.jsonl keeps the prompt with its special tokens, e.g. qwen/chatml
`<|im_start|>user\n...<|im_end|>`. The judge needs plain turns with clear separators.
Templates: chatml (qwen, yi), llama3, chatglm3/glm4, llama2/mistral [INST], and a
`Human:/Assistant:` fallback; anything else becomes one client turn with tags stripped.
"""

from __future__ import annotations

import re

_CHATML = re.compile(r"<\|im_start\|>(system|user|assistant)\s*\n?(.*?)(?=<\|im_end\|>|<\|im_start\|>|$)", re.S)
_LLAMA3 = re.compile(r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\s*(.*?)(?=<\|eot_id\|>|<\|start_header_id\|>|$)", re.S)
_GLM = re.compile(r"<\|(system|user|assistant)\|>\s*(.*?)(?=<\|(?:system|user|assistant|observation)\|>|$)", re.S)
_INST = re.compile(r"\[INST\](.*?)\[/INST\]([^\[]*)", re.S)
_PLAIN = re.compile(r"(?:^|\n)\s*(Human|User|Assistant|用户|助手)\s*[:：]\s*(.*?)(?=\n\s*(?:Human|User|Assistant|用户|助手)\s*[:：]|$)", re.S)
_TAGS = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]|<<SYS>>|<</SYS>>|\[gMASK\](?:sop)?")
_PLAIN_ROLE = {"Human": "user", "User": "user", "用户": "user", "Assistant": "assistant", "助手": "assistant"}


def parse_prompt(prompt: str, keep_system: bool = False) -> list[dict]:
    """Turns as [{"role": "user"|"assistant"|"system", "content": ...}], empty ones dropped."""
    turns: list[tuple[str, str]] = []
    for rx in (_CHATML, _LLAMA3, _GLM):
        found = rx.findall(prompt)
        if found:
            turns = found
            break
    else:
        if _INST.search(prompt):
            for user, answer in _INST.findall(prompt):
                turns += [("user", user), ("assistant", answer)]
        elif _PLAIN.search(prompt):
            turns = [(_PLAIN_ROLE[r], c) for r, c in _PLAIN.findall(prompt)]
        else:
            turns = [("user", prompt)]
    out = []
    for role, content in turns:
        content = _TAGS.sub("", content).strip()
        if content and (keep_system or role != "system"):
            out.append({"role": role, "content": content})
    return out


def render_history(turns: list[dict], client: str = "来访者", counselor: str = "咨询师") -> str:
    """The dialogue as numbered blocks with unmistakable speaker separators."""
    names = {"user": client, "assistant": counselor, "system": "system"}
    return "\n\n".join(f"【{names.get(t['role'], t['role'])}】\n{t['content']}" for t in turns)
