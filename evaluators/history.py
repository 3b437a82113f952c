"""Recover the dialogue turns from a LLaMA-Factory `prompt` (the decoded chat template).

generated_predictions.jsonl keeps the prompt with its special tokens, e.g. qwen/chatml
`<|im_start|>user\n...<|im_end|>`. The judge needs plain turns with clear separators.
Templates: chatml (qwen, yi), llama3, chatglm3/glm4, llama2/mistral [INST], baichuan2
(`<reserved_106>`/`<reserved_107>`), the Tibetan paper's Firefly format (`<s>Q</s>A</s>Q</s>`,
also the plugin's hearme_firefly, whatever the tokenizer's EOS), and a `Human:/Assistant:`
fallback; anything else becomes one client turn with tags stripped.
"""

from __future__ import annotations

import re

_CHATML = re.compile(r"<\|im_start\|>(system|user|assistant)\s*\n?(.*?)(?=<\|im_end\|>|<\|im_start\|>|$)", re.S)
_LLAMA3 = re.compile(r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\s*(.*?)(?=<\|eot_id\|>|<\|start_header_id\|>|$)", re.S)
_GLM = re.compile(r"<\|(system|user|assistant)\|>\s*(.*?)(?=<\|(?:system|user|assistant|observation)\|>|$)", re.S)
_INST = re.compile(r"\[INST\](.*?)\[/INST\]([^\[]*)", re.S)
_SYS = re.compile(r"<<SYS>>(.*?)<</SYS>>", re.S)
_BAICHUAN = re.compile(r"<reserved_106>(.*?)<reserved_107>(.*?)(?=<reserved_106>|$)", re.S)
# Firefly: turns end with the EOS token (`</s>` for Baichuan2/LLaMA2; other tokenizers' EOS too).
_FIREFLY_EOS = re.compile(r"</s>|<\|endoftext\|>|<eos>|<\|end_of_text\|>")
_ROLE_TAGS = re.compile(r"<\|(?:im_start|start_header_id|user|assistant|system)\|>|\[INST\]|<reserved_10[67]>")
_PLAIN = re.compile(r"(?:^|\n)\s*(System|Human|User|Assistant|系统|用户|助手)\s*[:：]\s*(.*?)"
                    r"(?=\n\s*(?:System|Human|User|Assistant|系统|用户|助手)\s*[:：]|$)", re.S)
_TAGS = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]|<<SYS>>|<</SYS>>|\[gMASK\](?:sop)?")
_PLAIN_ROLE = {"System": "system", "系统": "system", "Human": "user", "User": "user", "用户": "user", "Assistant": "assistant", "助手": "assistant"}


def parse_prompt(prompt: str, keep_system: bool = False) -> list[dict]:
    """Turns as [{"role": "user"|"assistant"|"system", "content": ...}], empty ones dropped."""
    turns: list[tuple[str, str]] = []
    for rx in (_CHATML, _LLAMA3, _GLM):
        found = rx.findall(prompt)
        if found:
            turns = found
            break
    else:
        if "<reserved_106>" in prompt:
            system = prompt.split("<reserved_106>", 1)[0]
            turns = [("system", system)] if system.strip() else []
            for user, answer in _BAICHUAN.findall(prompt):
                turns += [("user", user), ("assistant", answer)]
        elif _is_firefly(prompt):
            turns = _firefly(prompt)
        elif _INST.search(prompt):
            for user, answer in _INST.findall(prompt):
                system = _SYS.search(user)
                if system:  # llama2 puts the system prompt inside the first [INST]
                    turns.append(("system", system.group(1)))
                    user = _SYS.sub("", user)
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


def _is_firefly(prompt: str) -> bool:
    return bool(_FIREFLY_EOS.search(prompt)) and not _ROLE_TAGS.search(prompt) and not _PLAIN.search(prompt)


def _firefly(prompt: str) -> list[tuple[str, str]]:
    """<s>[system</s>]user</s>assistant</s>...user</s>: the last piece is the client's; roles alternate
    backwards from it, and a leftover first piece is the system prompt."""
    text = re.sub(r"^\s*(?:<s>|<\|begin_of_text\|>|<bos>)", "", prompt)
    pieces = _FIREFLY_EOS.split(text)
    if pieces and not pieces[-1].strip():
        pieces = pieces[:-1]  # the generation prompt after the last EOS
    turns: list[tuple[str, str]] = []
    for k, piece in enumerate(reversed(pieces)):
        turns.append(("user" if k % 2 == 0 else "assistant", piece))
    turns.reverse()
    if len(pieces) % 2 == 0 and turns:  # [system, user, assistant, ..., user]
        turns[0] = ("system", turns[0][1])
    return turns


def render_history(turns: list[dict], client: str = "来访者", counselor: str = "咨询师") -> str:
    """The dialogue as numbered blocks with unmistakable speaker separators."""
    names = {"user": client, "assistant": counselor, "system": "system"}
    return "\n\n".join(f"【{names.get(t['role'], t['role'])}】\n{t['content']}" for t in turns)
