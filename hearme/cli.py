"""`hearme`: the command line. Each area adds its commands through `register(app)`.

Module top levels stay light (no torch, pandas or llamafactory imports) so that
`hearme --help` answers at once; heavy imports happen inside commands.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from hearme.core import io

app = typer.Typer(
    name="hearme",
    help="Chinese and Tibetan counseling data -> LLaMA-Factory fine-tuning -> evaluation. "
         "Errors are one line; add --debug to any command to see a traceback.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def echo(msg: str = "", err: bool = False) -> None:
    typer.echo(io.safe_text(msg), err=err)


@app.command("tiny-model")
def tiny_model(
    out_dir: Path = typer.Argument(..., help="Directory to write the tokenizer and model into."),
    hidden: int = typer.Option(64, help="Hidden size."),
    layers: int = typer.Option(2, help="Number of transformer layers."),
    seed: int = typer.Option(0, help="Random seed for the weights."),
    max_positions: int = typer.Option(1024, help="Context length (max_position_embeddings)."),
    arch: str = typer.Option("qwen2", help="qwen2 (built in), or chatglm3 / baichuan2 (the documents' models; needs --remote-code)."),
    remote_code: Optional[Path] = typer.Option(None, help="Folder with the model's stock remote code (*.py), for chatglm3 / baichuan2."),
) -> None:
    """Build an offline tiny model: a tokenizer + random weights (qwen2: about 120k parameters)."""
    from hearme.core import paths
    from hearme.lf import tinymodel

    paths.set_offline()
    if arch not in ("qwen2", *tinymodel.REMOTE_FILES):
        raise io.HearMeError(f"--arch {arch!r}: choose qwen2, {', '.join(tinymodel.REMOTE_FILES)}")
    if arch == "qwen2":
        if remote_code is not None:
            raise io.HearMeError("--remote-code is for --arch chatglm3 / baichuan2 (qwen2 is built into transformers)")
        info = tinymodel.build(out_dir, hidden=hidden, layers=layers, seed=seed, max_positions=max_positions)
    elif remote_code is None:
        raise io.HearMeError(f"--arch {arch} needs --remote-code DIR (the model's stock *.py files)")
    else:
        info = tinymodel.build_remote(out_dir, arch, remote_code, hidden=hidden, layers=layers, seed=seed,
                                      max_positions=max_positions)
    echo(f"tiny model: {info['path']}  parameters={info['parameters']}  vocab={info['vocab']}")


@app.command("register")
def register_cmd(
    records: Path = typer.Argument(..., help="Records file (.json array or .jsonl) to register."),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name used in recipes (`dataset: NAME`)."),
    dataset_dir: Optional[Path] = typer.Option(None, help="Directory of dataset_info.json [default: the repository root]."),
    source: str = typer.Option("", help="Where the data came from (e.g. CPsyCoun) [default: from the records]."),
    license: str = typer.Option("", "--license", help="License of the source data (e.g. CC BY 4.0) [default: from the records]."),
    lang: str = typer.Option("", help="Language code(s) of the data, e.g. zh or bo [default: from the records]."),
) -> None:
    """Add or update a dataset_info.json entry (sharegpt formatting with role/content tags)."""
    from hearme.core import registry

    entry = registry.register(records, name, dataset_dir, source=source, license=license, lang=lang)
    echo(f"registered {name}: {entry['records']} records -> {registry.registry_path(dataset_dir)}")


@app.command("datasets")
def datasets_cmd(
    names: Optional[str] = typer.Argument(None, help="Comma-separated names to check; omit to list all."),
    dataset_dir: Optional[Path] = typer.Option(None, help="Directory of dataset_info.json [default: the repository root]."),
) -> None:
    """List registered datasets, or check that the given names are registered."""
    from hearme.core import registry

    if not registry.registry_path(dataset_dir).exists():
        raise io.HearMeError(f"no {registry.registry_path(dataset_dir)}: run `hearme samples` there to register the "
                             "bundled samples, or pass --dataset-dir")
    info = registry.load(dataset_dir)
    wanted = registry.require(names, info, dataset_dir) if names else sorted(info)
    for n in wanted:
        e = info[n]
        echo(f"{n}\t{e.get('records', '?')} records\t{e.get('lang', '')}\t{e.get('license', '')}\t{e['file_name']}")


@app.command("samples")
def samples_cmd(
    dataset_dir: Optional[Path] = typer.Option(None, help="Registry directory [default: the repository root]."),
    files_dir: Optional[Path] = typer.Option(None, help="Where the JSON files go [default: DATASET_DIR/data]."),
) -> None:
    """Rebuild the bundled sample datasets from data/samples/ and register them."""
    from hearme.core import paths
    from hearme.demo import samples

    ddir = (dataset_dir or paths.dataset_dir()).resolve()
    report = samples.build(files_dir or ddir / "data", ddir)
    for name, r in report.items():
        echo(f"{name}: read={r['read']} written={r['written']} rejected={r['rejected']} -> "
             + ", ".join(f"{k} ({v})" for k, v in r["parts"].items()))


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Output directory for everything the demo makes."),
    model: Optional[str] = typer.Option(None, help="A real base model path (GPU machines); default: the offline tiny model."),
    template: Optional[str] = typer.Option(None, help="Chat template for --model [default: qwen]."),
    max_steps: Optional[int] = typer.Option(None, help="Stage-1 LoRA steps (stage 2 and the Tibetan LoRA scale from it) "
                                            "[default: the demo's tuned value for the tiny model, 30 with --model]."),
    base_steps: Optional[int] = typer.Option(None, help="Tiny model only: steps of the base's causal-LM training "
                                             "[default: the demo's tuned value]."),
) -> None:
    """Run the whole pipeline offline: base -> LoRA stages -> merge -> before/after probe + metrics -> report."""
    from hearme.demo import pipeline as demo

    demo.run(out, model=model, template=template, max_steps=max_steps, base_steps=base_steps)


@app.command("audit")
def audit_cmd(
    file: Path = typer.Argument(..., help="Records file (.json array or .jsonl): a converted release, an earlier run, your own data."),
    fix: Optional[Path] = typer.Option(None, "--fix", help="Write the records without a finding here, the rest to its .rejected.jsonl."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report JSON [default: FILE's name + .audit.json beside it]."),
    phrases: Optional[Path] = typer.Option(None, "--phrases", help="Extra phrase lists (JSON, the shape of tibetan/gate_phrases.json)."),
    examples: int = typer.Option(5, help="Examples kept per rule."),
) -> None:
    """Run the LLM-text gate (meta text, breaking character, encoding, script share, loops, forum words, labels) over existing records: per-rule counts with line numbers."""
    from hearme.tibetan import audit

    rep = audit.audit(file, fix=fix, phrases=phrases, examples=examples, progress=True)
    out = out or file.with_name(file.name.rsplit(".", 1)[0] + ".audit.json")
    io.write_json(out, rep)
    echo(f"{rep['records']} records: {rep['clean']} clean, {rep['flagged']} flagged")
    echo(audit.table(rep))
    for rule, v in rep["per_rule"].items():
        for ex in v["examples"][:2]:
            echo(f"  {rule}: {ex['where']} message {ex['message']}: {ex['reason']}")
    if fix:
        echo(f"clean copy -> {fix}; flagged -> {rep['fixed']['rejected']}")
    echo(f"report -> {out}")


@app.command("version")
def version_cmd() -> None:
    """Print HearMe's version (and LLaMA-Factory's)."""
    from hearme.lf import envinfo

    echo(envinfo.version_line())


@app.command("env")
def env_cmd() -> None:
    """Print versions, device and the paths HearMe reads and writes (paste this into bug reports)."""
    from hearme.lf import envinfo

    for key, value in envinfo.report():
        echo(f"- {key}: {value}")


def _register_areas() -> None:
    import importlib

    for mod in ("hearme.converters.cli", "hearme.tibetan.cli", "hearme.lf.cli", "hearme.evaluators.cli",
                "hearme.evaluators.session_cli", "hearme.webui_ext.cli"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a real missing dependency inside the module
                raise
            continue
        m.register(app)


_register_areas()

PANELS = {  # in data-flow order
    "Run": ("demo", "webui"),
    "Data": ("convert", "audit", "scrub", "select", "dedup", "split", "stats", "register", "datasets", "export", "samples",
             "tibetan"),
    "Train": ("recipes", "cv", "prefs", "tiny-model"),
    "Evaluate": ("metrics", "judge", "judge-dialogues", "probe", "session", "compare", "report"),
    "Info": ("version", "env"),
}


def _group_help() -> None:
    """Group `hearme --help` by stage of the data flow."""
    order = [name for names in PANELS.values() for name in names]
    panel_of = {name: panel for panel, names in PANELS.items() for name in names}

    def name_of(cmd) -> str:
        return cmd.name or (cmd.callback.__name__.replace("_", "-") if cmd.callback else "")

    for items, key in ((app.registered_commands, name_of), (app.registered_groups, lambda g: g.name or "")):
        items.sort(key=lambda c: order.index(key(c)) if key(c) in order else len(order))
        for c in items:
            c.rich_help_panel = panel_of.get(key(c), "Other")


_group_help()


DEBUG_FLAG = "--debug"


@functools.lru_cache(maxsize=1)
def _command():
    """The click command tree, built once per process (tests call main() many times)."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Every failure is one line on stderr: exit 2 for bad input or a filesystem fault, 1 for a bug
    (with a hint to re-run with --debug, which shows the traceback), 130 for Ctrl-C."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get("HEARME_DEBUG") == "1"
    args = [a for a in args if a != DEBUG_FLAG]
    try:
        _command()(args=args, prog_name="hearme")
    except io.HearMeError as e:
        if debug:
            raise
        echo(f"error: {io.safe_text(str(e))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        sys.exit(130)
    except OSError as e:  # a filesystem fault outside hearme.core.io (e.g. a folder it cannot create)
        if debug:
            raise
        where = f" {io.safe_text(str(e.filename))}" if e.filename else ""
        echo(f"error: cannot access{where}: {io.os_reason(e)}", err=True)
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback only on request
        if debug:
            raise
        msg = io.safe_text(" ".join(str(e).split()))[:300]
        echo(f"error: internal error ({type(e).__name__}: {msg}); re-run with {DEBUG_FLAG} to see the traceback",
             err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
