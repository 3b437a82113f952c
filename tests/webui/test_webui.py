"""`hearme webui` in a real headless Chromium (Playwright, Debian's /usr/bin/chromium).

One server for the module: HOME, cwd, gradio's temp dir, TMPDIR and the LLM cache all live under
one temp root, and the dataset dir is a temp registry built from the bundled samples, so the
repository's dataset_info.json is never touched. Screenshots go to artifacts/webui/.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from hearme.core import io, paths, registry
from tests.webui import browser as B
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

SAMPLES = paths.DATA / "samples"
LF_TABS = ["Train", "Evaluate & Predict", "Chat", "Export"]
HEARME_TABS = ["Data", "Evaluate (HearMe)", "Tibetan"]
SECRET = f"sk-hearme-webui-{uuid.uuid4().hex}"  # typed into the password field; must never reach a file

PREDICTIONS = [  # two Chinese items and one Tibetan item, in LLaMA-Factory's generated_predictions.jsonl form
    {"prompt": "<|im_start|>user\n我最近压力很大，晚上睡不着。<|im_end|>\n<|im_start|>assistant\n",
     "predict": "听起来你压力很大，睡不好一定很难受。能说说最近发生了什么吗？",
     "label": "听起来你压力很大，睡不好一定很难受。能说说最近发生了什么吗？\n"},
    {"prompt": "<|im_start|>user\n我和父母总是吵架。<|im_end|>\n<|im_start|>assistant\n",
     "predict": "和家人争吵一定让你很疲惫。", "label": "和父母的争吵让你很难受吧，可以说说通常是因为什么吵起来的吗？\n"},
    {"prompt": "<|im_start|>user\nང་སེམས་སྡུག་པོ་འདུག<|im_end|>\n<|im_start|>assistant\n",
     "predict": "ཁྱེད་རང་གི་སེམས་སྡུག་པོ་འདུག་པ་ང་ལ་གོ་བྱུང་།",
     "label": "ཁྱེད་རང་སེམས་སྡུག་པོ་འདུག་པ་ང་ལ་གོ་བྱུང་། ཅི་ཞིག་བྱུང་བ་ཡིན།\n"},
]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def judge_server():
    with FakeOpenAI({}) as srv:  # default: a JSON object built from the judge's schema
        yield srv


@pytest.fixture(scope="module")
def webui(tmp_path_factory):
    from hearme.demo import samples

    root = tmp_path_factory.mktemp("webui")
    ddir = root / "datasets"
    samples.build(ddir / "data", ddir)  # a registry of the bundled samples, like the repo root's
    work = root / "work"
    for run, rows in (("eval_base", [dict(r, predict=r["predict"][:5]) for r in PREDICTIONS]),
                      ("eval_tuned", PREDICTIONS)):
        io.write_jsonl(work / "saves" / "Custom" / "lora" / run / "generated_predictions.jsonl", rows)
    with B.WebUIServer(root, ddir) as srv:
        yield srv
    print(srv.log_text()[-2000:])


@pytest.fixture(scope="module")
def browser():
    with B.chromium() as b:
        yield b


@pytest.fixture
def page(browser, webui):
    p = B.open_page(browser, webui.url)
    yield p
    p.close()


def _registry_bytes(srv) -> bytes:
    return registry.registry_path(srv.dataset_dir).read_bytes()


# ---------------------------------------------------------------- tests

def test_page_loads_with_all_tabs_and_hearme_defaults(page, webui):
    tabs = [t.inner_text().strip() for t in page.get_by_role("tab").all()]
    assert tabs[:7] == LF_TABS + HEARME_TABS
    # the dataset dir is HearMe's registry, and CPU machines default to fp32
    assert B.labelled(page, "Data dir").input_value() == str(webui.dataset_dir)
    assert page.get_by_label("Compute type", exact=True).input_value() == "fp32"
    assert "127.0.0.1" in webui.url
    B.shot(page, "01-launch")


def test_train_dataset_dropdown_lists_hearme_datasets(page):
    found = B.options(page, page.locator("#tab-train").get_by_label("Dataset", exact=True))
    assert "hearme_selfcog_train" in found and "hearme_counseling_zh_train" in found


def test_data_tab_converts_registers_and_draws_the_card(page, webui):
    B.tab(page, "Data")
    B.pick(page, "#hm-data-format", "cpsycound")
    B.upload(page, "#hm-data-files", sorted((SAMPLES / "cpsycound").glob("case_*.txt")))
    text = B.run(page, "#hm-data-convert", "#hm-data-status", "Converted")
    assert "read 12, written 12, rejected 0" in text
    assert len(set(re.findall(r"case_\d+", page.locator("#hm-data-preview").inner_text()))) == 12
    B.fill(page, "#hm-data-name", "webui_cps")
    page.locator("#hm-data-split").get_by_label("80/20").check()
    assert "webui_cps_train" in B.run(page, "#hm-data-register", "#hm-data-reg-status", "Registered")
    page.locator("#hm-data-card img").first.wait_for()
    B.shot(page, "02-data", locator=page.locator("#hm-tab-data"))

    info = registry.load(webui.dataset_dir)  # on disk, where the Train tab reads it
    parts = {k: v for k, v in info.items() if k.startswith("webui_cps_")}
    assert set(parts) == {"webui_cps_train", "webui_cps_test"}
    assert sum(v["records"] for v in parts.values()) == 12
    assert all((webui.dataset_dir / v["file_name"]).exists() for v in parts.values())
    assert (webui.dataset_dir / "data" / "webui_cps.rejected.jsonl").exists()
    assert len(list((webui.dataset_dir / "data" / "cards" / "webui_cps").glob("*.png"))) >= 3
    # ... and the Train tab lists it without a restart
    B.tab(page, "Train")
    assert "webui_cps_train" in B.options(page, page.locator("#tab-train").get_by_label("Dataset", exact=True))


def test_bad_input_shows_errors_and_writes_nothing(page, webui, tmp_path):
    before = _registry_bytes(webui)
    data_files = sorted((webui.dataset_dir / "data").rglob("*"))
    B.tab(page, "Data")
    # 1. wrong file type
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    B.upload(page, "#hm-data-files", [png])
    assert "wrong file type" in B.run(page, "#hm-data-convert", "#hm-data-status", "wrong file type")
    assert "wrong file type" in B.toasts(page)
    B.shot(page, "05-bad-upload")
    # 2. broken JSON, then Register with nothing converted
    page.locator("#hm-data-files button[aria-label='Clear']").first.click()
    broken = tmp_path / "broken.json"
    broken.write_text('[{"messages": [{"role": "user", "content": "你好"', encoding="utf-8")
    B.pick(page, "#hm-data-format", "records")
    B.upload(page, "#hm-data-files", [broken])
    assert "invalid JSON" in B.run(page, "#hm-data-convert", "#hm-data-status", "invalid JSON")
    B.fill(page, "#hm-data-name", "never_written")
    B.run(page, "#hm-data-register", "#hm-data-reg-status", "Nothing to register")
    # 2b. a lone surrogate (a JSON escape no UTF-8 text can hold): rejected with its reason, the job ends
    page.locator("#hm-data-files button[aria-label='Clear']").first.click()
    surrogate = tmp_path / "surrogate.json"
    surrogate.write_text('[{"messages": [{"role": "user", "content": "\\ud800坏"}, {"role": "assistant", "content": "嗯"}]},'
                         ' {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀"}]}]',
                         encoding="utf-8")
    B.upload(page, "#hm-data-files", [surrogate])
    assert "read 2, written 1, rejected 1" in B.run(page, "#hm-data-convert", "#hm-data-status", "Converted")
    assert "lone surrogate" in page.locator("#hm-data-rejects").inner_text()
    # 3. a predictions upload that is not JSON Lines
    B.tab(page, "Evaluate (HearMe)")
    bad_pred = tmp_path / "generated_predictions.jsonl"
    bad_pred.write_text('{"predict": "x", "label": \n', encoding="utf-8")
    B.upload(page, "#hm-eval-upload", [bad_pred])
    assert "no predictions to score" in B.status(page, "#hm-eval-status", "no predictions")
    # 4. an unreachable judge endpoint
    B.pick(page, "#hm-eval-pred", _pred(webui, "eval_tuned"))
    B.fill(page, "#hm-eval-base-url", f"http://127.0.0.1:{B.free_port()}/v1")
    B.fill(page, "#hm-eval-model", "nobody")
    assert "cannot reach the endpoint" in B.run(page, "#hm-eval-judge-btn", "#hm-eval-judge-status", "cannot reach")
    # 5. a missing model path for IFD
    B.tab(page, "Tibetan")
    B.pick(page, "#hm-bo-dataset", "hearme_tibetan_bo_train")
    B.fill(page, "#hm-bo-model-path", "/nonexistent/model")
    assert "no such directory" in B.run(page, "#hm-bo-ifd-btn", "#hm-bo-ifd-status", "no such directory")

    assert webui.alive() and webui.proc.poll() is None  # the server kept running
    assert _registry_bytes(webui) == before  # nothing half-written
    assert sorted((webui.dataset_dir / "data").rglob("*")) == data_files
    assert not (webui.work / "saves" / "hearme_uploads").exists()
    assert not list(webui.work.rglob("never_written*"))


def _wait_until(ready, seconds: float):
    """Poll a server-side state (a file LLaMA-Factory writes) until it holds; its value, or None."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = ready()
        if found:
            return found
        time.sleep(0.2)
    return None


def _pred(webui, run: str) -> str:
    return str(webui.work / "saves" / "Custom" / "lora" / run / "generated_predictions.jsonl")


def test_evaluate_tab_metrics_judge_compare_probes_and_the_key_stays_in_memory(page, webui, judge_server):
    B.tab(page, "Evaluate (HearMe)")
    B.pick(page, "#hm-eval-pred", _pred(webui, "eval_tuned"))
    assert "Scored 3 predictions" in B.run(page, "#hm-eval-metrics-btn", "#hm-eval-status", "Scored 3")
    table = page.locator("#hm-eval-metrics").inner_text()
    for metric in ("bleu-4", "rouge-l", "syllable_bleu", "chrf++"):  # Tibetan-aware: the file has a Tibetan item
        assert metric in table
    saved = json.loads((Path(_pred(webui, "eval_tuned")).parent / "hearme_metrics.json").read_text(encoding="utf-8"))
    assert saved["n"] == 3 and saved["n_bo"] == 1

    B.fill(page, "#hm-eval-base-url", judge_server.url)
    B.fill(page, "#hm-eval-model", "fake-judge")
    key_box = page.locator("#hm-eval-api-key input")
    assert key_box.get_attribute("type") == "password"
    key_box.fill(SECRET)
    assert "3 scored, 0 unscored" in B.run(page, "#hm-eval-judge-btn", "#hm-eval-judge-status", "Judged 3")
    summary = page.locator("#hm-eval-judge").inner_text()
    assert "Professionalism" in summary and "95% CI" in summary and "total" in summary
    judged = json.loads((Path(_pred(webui, "eval_tuned")).parent / "hearme_judge" / "summary.json").read_text("utf-8"))
    assert judged["n_scored"] == 3 and judged["n_unscored"] == 0
    assert judge_server.count("和家人争吵一定让你很疲惫") >= 1  # the judge really saw the replies

    B.pick(page, "#hm-eval-other", _pred(webui, "eval_base"))
    assert "Compared eval_tuned with eval_base" in B.run(page, "#hm-eval-compare-btn", "#hm-eval-compare-status",
                                                        "Compared")
    page.locator("#hm-eval-chart img").first.wait_for()

    B.fill(page, "#hm-eval-probe-url", judge_server.url)
    B.run(page, "#hm-eval-probe-btn", "#hm-eval-probe-status", "Probes done")
    probes = page.locator("#hm-eval-probes").inner_text()
    assert "identity" in probes and "crisis" in probes
    B.shot(page, "04-evaluate", locator=page.locator("#hm-tab-eval"))

    # The key was used (the judge answered) but is in no file the server wrote, in no log, and not
    # in the server's environment. Everything the server writes is under webui.root.
    assert list(webui.root.rglob("*")), "nothing to scan"
    assert list((webui.root / "cache").rglob("*.json")), "the judge's request cache should exist"
    leaks = [p for p in webui.root.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaks, f"the API key was written to {leaks}"
    environ = Path(f"/proc/{webui.proc.pid}/environ")
    if environ.exists():
        assert SECRET.encode() not in environ.read_bytes()


def test_evaluate_tab_runs_sessions_and_shows_base_and_tuned_side_by_side(page, webui, judge_server):
    B.tab(page, "Evaluate (HearMe)")
    B.fill(page, "#hm-eval-base-url", "")  # no judge: the scripted client plays the profiles
    B.fill(page, "#hm-eval-session-base", judge_server.url)  # echoes: the counselor repeats the client
    B.fill(page, "#hm-eval-session-tuned", judge_server.url)
    B.fill(page, "#hm-eval-session-turns", "2")
    text = B.run(page, "#hm-eval-session-btn", "#hm-eval-session-status", "tuned: 2/2 complete")
    assert "base: 2/2 complete" in text
    view = page.locator("#hm-eval-session-view").inner_text()
    assert "base counselor" in view and "tuned counselor" in view and "bo-04-seed0" in view
    assert "最近总是莫名其妙想哭" in view and "language consistency" in view
    assert list((webui.root / "work" / "saves" / "hearme_sessions").rglob("transcripts.jsonl"))
    B.shot(page, "04b-evaluate-sessions", locator=page.locator("#hm-eval-session-view"))


def test_tibetan_tab_segments_filters_and_selects(page, webui, tmp_path, tiny_model):
    B.tab(page, "Tibetan")
    B.fill(page, "#hm-bo-text", "ཁྱེད་རང་\u200bགི་སེམས་སྡུག་པོ་འདུག")
    page.locator("#hm-bo-text-btn").click()
    page.locator("#hm-bo-text-stats").filter(has_text="syllables").wait_for()
    assert page.locator("#hm-bo-segmented textarea").input_value() == "ཁྱེད རང གི སེམས སྡུག པོ འདུག"
    assert "\u200b" not in page.locator("#hm-bo-normalized textarea").input_value()

    clean = io.load_records(registry.file_of("hearme_tibetan_bo_train", webui.dataset_dir))[:4]
    bad = json.loads(json.dumps(clean[0]))
    bad["id"] = "planted-repeat"
    bad["messages"][-1]["content"] = "ཡག་ཡག་ཡག་ཡག་ཡག་ཡག་ཡག་ཡག་"
    records = tmp_path / "bo_mix.json"
    io.write_records(records, clean + [bad])
    B.upload(page, "#hm-bo-upload", [records])
    page.locator("#hm-bo-use-lm input").uncheck()  # the cheap checks alone catch the planted repetition
    status = B.run(page, "#hm-bo-filter-btn", "#hm-bo-filter-status", "Filter")
    assert "read 5, kept 4, rejected 1" in status and "timing (filter): " in status and "syllables/s" in status
    rejects = page.locator("#hm-bo-filter-rejects").inner_text()
    assert "planted-repeat" in rejects and "repetition" in rejects

    B.fill(page, "#hm-bo-model-path", str(tiny_model))
    assert "of 5 records" in B.run(page, "#hm-bo-ifd-btn", "#hm-bo-ifd-status", "IFD:")
    ifd_rows = page.locator("#hm-bo-ifd-table").inner_text()
    assert all(str(r["id"]) in ifd_rows for r in clean + [bad])
    assert (webui.work / "saves" / "hearme_tibetan" / "bo_mix" / "ifd_selected.ifd.jsonl").exists()
    B.shot(page, "06-tibetan", locator=page.locator("#hm-tab-tibetan"))


def test_language_switch_relabels_hearme_tabs(page):
    B.pick(page, page.get_by_label("Language", exact=True).first, "zh")
    page.get_by_role("tab", name="数据", exact=True).wait_for()
    assert page.get_by_role("tab", name="评测 (HearMe)").count() == 1
    B.tab(page, "数据")
    assert page.locator("#hm-data-convert").inner_text().strip() == "转换"
    B.shot(page, "07-zh")
    B.pick(page, page.get_by_label("语言", exact=True).first, "en")
    page.get_by_role("tab", name="Data", exact=True).wait_for()


@pytest.mark.slow
def test_train_tab_runs_stage1_on_the_tiny_model_with_a_hearme_dataset_and_plugin_template(page, webui, tiny_model):
    """LLaMA-Factory trains in a separate process: it must see HearMe's datasets and plugin templates."""
    B.pick(page, page.get_by_label("Model name", exact=True), "Custom")
    # LLaMA-Factory answers a model change with model path + template defaults, then a warning; let it finish
    page.get_by_test_id("toast-body").filter(has_text="non-instruct").first.wait_for()
    B.labelled(page, "Model path").fill(str(tiny_model))
    B.labelled(page, "Model path").press("Tab")
    template_box = page.get_by_label("Chat template", exact=True)
    assert B.has_option(page, template_box, "hearme_firefly"), "HearMe's plugin templates belong in the template list"
    B.pick(page, template_box, "hearme_firefly")
    B.pick(page, page.locator("#tab-train").get_by_label("Dataset", exact=True), "hearme_selfcog_train")
    page.evaluate("window.scrollTo(0, 0)")
    B.shot(page, "03-train-setup")
    page.get_by_text("Extra configurations").first.click()
    B.labelled(page, "Extra arguments").fill(json.dumps({
        "optim": "adamw_torch", "max_steps": 4, "logging_steps": 1, "cutoff_len": 128, "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 1, "preprocessing_num_workers": 1, "dataloader_num_workers": 0,
        "disable_gradient_checkpointing": True}))
    B.labelled(page, "Extra arguments").press("Tab")
    # "Preview command" shows what the server received: the same inputs Start will send
    train = page.locator("#tab-train")
    train.get_by_role("button", name="Preview command", exact=True).click()
    for text in (str(tiny_model), "hearme_firefly", "hearme_selfcog_train", "max_steps"):
        train.get_by_text(text).first.wait_for()
    saves = webui.work / "saves" / "Custom" / "lora"
    start = page.locator("#tab-train").get_by_role("button", name="Start", exact=True)
    for _ in range(3):  # a click during a re-layout can miss; a second Start while running is refused by LF
        start.click()
        if _wait_until(lambda: list(saves.glob("train_*/training_args.yaml")), 60):
            break
    adapters = _wait_until(lambda: list(saves.glob("train_*/adapter_model.safetensors")), 240) or []
    if not adapters:
        B.shot(page, "03-train-failed", full_page=True)
        print(subprocess.run(["ps", "-o", "pid,stat,etime,args", "-g", str(webui.proc.pid)], capture_output=True,
                             text=True).stdout)
    assert adapters, f"no adapter after 240 s; toasts: {B.toasts(page)!r}; server log:\n{webui.log_text()[-3000:]}"
    out = adapters[0].parent
    args = yaml.safe_load((out / "training_args.yaml").read_text("utf-8"))
    assert args["dataset"] == "hearme_selfcog_train" and args["dataset_dir"] == str(webui.dataset_dir)
    assert args["template"] == "hearme_firefly" and not args.get("bf16") and not args.get("fp16")
    page.get_by_text("Finished", exact=False).first.wait_for(timeout=120_000)
    start.scroll_into_view_if_needed()
    B.shot(page, "03-train-done")
