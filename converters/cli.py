"""Data commands: convert, scrub, select, dedup, split, stats, export."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer

from hearme.core import io


def _echo(msg: str = "") -> None:
    typer.echo(io.safe_text(msg))


def _report(tally: io.Tally, out: Path | None) -> None:
    """Notes, the rejected side file, then the contract's last line read=N written=M rejected=K."""
    pii = {k.split(" ", 1)[1]: v for k, v in tally.notes.items() if k.startswith("pii ")}
    other = {k: v for k, v in tally.notes.items() if not k.startswith("pii ")}
    for key, n in sorted(other.items()):
        _echo(f"  {key}: {n}")
    if pii:
        _echo("  PII scrubbed: " + " ".join(f"{k}={v}" for k, v in sorted(pii.items())))
    if tally.rejected:
        reasons = Counter(r["reason"].split(":")[0][:60] for r in tally.rejects)
        for reason, n in reasons.most_common(5):
            _echo(f"  rejected {n}: {reason}")
        if out is not None:
            _echo(f"  rejections with file, position and reason: {io.rejected_path(out)}")
    _echo(tally.summary())


def _register(out: Path, name: str, dataset_dir: Optional[Path]) -> None:
    from hearme.core import registry

    entry = registry.register(out, name, dataset_dir)  # source, license, lang come from the records
    _echo(f"registered {name}: {entry['records']} records -> {registry.registry_path(dataset_dir)}")


_PII_HELP = ("How PII is replaced: tags ([NAME], [PHONE]...; the default) or surrogate (a realistic fake of the same kind, "
             "the same within a dialogue, so a model trained on it never learns to say [NAME]; the data card says which).")


def _pii_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ("tags", "surrogate"):
        raise io.HearMeError(f"--pii {value!r}: expected tags or surrogate")
    return mode


def register(app: typer.Typer) -> None:
    @app.command("convert")
    def convert_cmd(
        fmt: str = typer.Argument(..., metavar="FORMAT",
                                  help="Source format: self-cognition, emollm, cpsycound, cpsycoune, smile, psyqa, firefly, records."),
        inputs: Optional[List[Path]] = typer.Argument(None, metavar="INPUT...", readable=False,  # our reader says why
                                                      help="Files or folders (folders are walked). Optional for self-cognition."),
        out: Path = typer.Option(..., "--out", "-o", help="Output JSON array of records (a .jsonl name writes JSONL)."),
        sharegpt: bool = typer.Option(False, "--sharegpt", help="Write ShareGPT conversations/from/value instead of OpenAI messages."),
        no_scrub: bool = typer.Option(False, "--no-scrub", help="Keep PII (phone, ID, bank card, email, URL, QQ/WeChat, address, name) as is."),
        pii: str = typer.Option("tags", "--pii", help=_PII_HELP),
        name: Optional[str] = typer.Option(None, "--name", help="self-cognition: the counselor's name [default: Jerry]."),
        author: Optional[str] = typer.Option(None, "--author", help="self-cognition: who made the counselor [default: VastEpiphany]."),
        replace_name: Optional[str] = typer.Option(None, "--replace-name", help="self-cognition: the name a file without placeholders uses (e.g. EmoLLM), replaced by --name."),
        replace_author: Optional[str] = typer.Option(None, "--replace-author", help="self-cognition: the author such a file names (e.g. EmoLLM团队), replaced by --author."),
        template: Optional[Path] = typer.Option(None, "--template", help="self-cognition: identity template file [default: built-in]."),
        psyqa: Optional[Path] = typer.Option(None, "--psyqa", help="smile: your PsyQA file, to give each dialogue its question's id (group) and topic."),
        register_as: Optional[str] = typer.Option(None, "--register", help="Also register OUT in dataset_info.json under this name."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json [default: repository root]."),
    ) -> None:
        """Convert a source dataset into HearMe records (JSON array) with a rejected side file."""
        from hearme.converters.convert import get_converter, nothing_written, run_to_file

        fmt = get_converter(fmt).name  # unknown format -> one-line error before any work; any case
        if not inputs and fmt != "self-cognition":
            raise io.HearMeError(f"convert {fmt}: give at least one INPUT file or folder")
        records, tally = run_to_file(fmt, inputs or [], out, sharegpt=sharegpt, scrub=_pii_mode(pii) if not no_scrub else False,
                                     progress=True,
                                     name=name, author=author, replace_name=replace_name, replace_author=replace_author,
                                     template=str(template) if template else None, psyqa=str(psyqa) if psyqa else None)
        _echo(f"wrote {len(records)} records -> {out}")
        if tally.read and not tally.written:  # nothing usable: fail, with the reason that rejected most
            _report(tally, out)
            raise io.HearMeError(nothing_written(fmt, tally, inputs))
        if register_as:
            if not records:
                raise io.HearMeError(f"nothing to register: {out} has no records")
            _register(out, register_as, dataset_dir)
        _report(tally, out)

    @app.command("scrub")
    def scrub_cmd(
        src: Path = typer.Argument(..., metavar="IN", help="Records file (.json or .jsonl)."),
        out: Path = typer.Option(..., "--out", "-o", help="Scrubbed records file."),
        sharegpt: bool = typer.Option(False, "--sharegpt", help="Write ShareGPT form."),
        pii: str = typer.Option("tags", "--pii", help=_PII_HELP),
        seed: int = typer.Option(0, "--seed", help="--pii surrogate: seed of the fakes (with each record's id; same seed, same bytes)."),
    ) -> None:
        """Replace phones, ID and bank-card numbers, emails, URLs, QQ/WeChat ids, addresses and names with typed placeholders
        ([NAME], [PHONE]...) or, with --pii surrogate, with consistent realistic fakes."""
        from hearme.converters.scrub import scrub_records

        mode = _pii_mode(pii)
        io.refuse_overwrite([out, io.rejected_path(out)], [src])
        records = io.load_records(src)
        tally = io.Tally()
        tally.read = len(records)
        scrubbed = scrub_records(records, tally, mode=mode, seed=seed)
        tally.written = len(scrubbed)
        io.write_output(out, scrubbed, tally, sharegpt=sharegpt)
        changed = sum(a["messages"] is not b["messages"] for a, b in zip(records, scrubbed))
        _echo(f"{changed} of {len(records)} records had PII -> {out}")
        _report(tally, out)

    @app.command("select")
    def select_cmd(
        src: Path = typer.Argument(..., metavar="IN", help="Records file (.json or .jsonl)."),
        out: Path = typer.Option(..., "--out", "-o", help="Selected records file."),
        emoji: bool = typer.Option(False, "--emoji", help="Keep only dialogues that contain emoji."),
        role: Optional[str] = typer.Option(None, "--role", help="With --emoji: only count emoji in user or assistant turns."),
        per_topic: Optional[int] = typer.Option(None, "--per-topic", min=1, help="At most N records per topic (a topic-balanced seed set)."),
        seed: int = typer.Option(42, "--seed", help="Random seed for --per-topic sampling."),
    ) -> None:
        """Build a subset: emoji dialogues and/or a topic-balanced sample."""
        from hearme.converters.select import select_records

        if role not in (None, "user", "assistant"):
            raise io.HearMeError(f"--role {role!r}: expected user or assistant")
        io.refuse_overwrite([out], [src])
        records = io.load_records(src)
        chosen = select_records(records, emoji=emoji, role=role, per_topic=per_topic, seed=seed)
        io.write_records(out, chosen)
        topics = Counter(r.get("topic") or "(none)" for r in chosen)
        _echo(f"selected {len(chosen)} of {len(records)} records from {len(topics)} topic(s) -> {out}")
        _echo(f"read={len(records)} selected={len(chosen)}")

    @app.command("dedup")
    def dedup_cmd(
        inputs: List[Path] = typer.Argument(..., metavar="IN...", help="Records files; earlier files win ties."),
        out: Path = typer.Option(..., "--out", "-o", help="Deduplicated records file."),
        threshold: float = typer.Option(0.8, "--threshold", min=0.1, max=1.0, help="Near-duplicate Jaccard threshold (character 5-grams)."),
        exact_only: bool = typer.Option(False, "--exact-only", help="Only remove exact duplicates (after normalisation)."),
        on: str = typer.Option("all", "--on", help="Compare all turns (all) or only the help-seeker turns (user)."),
    ) -> None:
        """Remove exact and near duplicates across sources; OUT.removed.jsonl says what and why."""
        from hearme.converters.dedup import dedup_files

        if on not in ("all", "user"):
            raise io.HearMeError(f"--on {on!r}: expected all or user")
        kept, removals, tally = dedup_files(inputs, out, threshold=threshold, near=not exact_only, on=on)
        by = Counter((r["reason"], r["source"], r["source_of_kept"]) for r in removals)
        for (reason, src, kept_src), n in sorted(by.items()):
            _echo(f"  {reason}: {n} from {src} (kept in {kept_src})")
        _echo(f"kept {len(kept)} -> {out}; removals -> {str(out).rsplit('.', 1)[0]}.removed.jsonl")
        _echo(tally.summary())

    @app.command("split")
    def split_cmd(
        src: Path = typer.Argument(..., metavar="IN", help="Records file to split."),
        ratios: Optional[str] = typer.Option(None, "--ratios", help="Part sizes: 70/15/15 (train/val/test) or 80/20 (train/test)."),
        kfold: Optional[int] = typer.Option(None, "--kfold", min=2, help="K folds: NAME_fold0_train / NAME_fold0_test, ..."),
        seed: int = typer.Option(42, "--seed", help="Random seed (the split is deterministic given it)."),
        name: Optional[str] = typer.Option(None, "--name", help="Dataset name prefix [default: IN's file stem]."),
        out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Where the parts go [default: beside IN]."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json [default: repository root]."),
        no_register: bool = typer.Option(False, "--no-register", help="Write the parts without registering them."),
    ) -> None:
        """Grouped, stratified, deterministic split; each part is written and registered."""
        from hearme.converters.split import split_file

        if (ratios is None) == (kfold is None):
            raise io.HearMeError("give exactly one of --ratios (e.g. 70/15/15) or --kfold N")
        parts = [f"fold{k}_{p}" for k in range(kfold or 0) for p in ("train", "test")] + ["train", "val", "test"]
        io.refuse_overwrite([(out_dir or src.parent) / f"{name or src.stem}_{p}.json" for p in parts], [src])
        report: dict = {}
        written = split_file(src, ratios=ratios, kfold=kfold, seed=seed, name=name, out_dir=out_dir,
                             dataset_dir=dataset_dir, register=not no_register, report=report)
        prefix = name or src.stem
        for part, (path, n) in written.items():
            _echo(f"{prefix}_{part}\t{n} records\t{path}" + ("" if no_register else "\tregistered"))
        joined = ", ".join(f"{n} by {k}" for k, n in report["joined"].items())
        _echo(f"  {report['records']} records in {report['groups']} groups (joined: {joined}; "
              f"largest group {report['largest_group']})")
        _echo(f"  stratified {report['stratified']}")
        _echo("  leak check, cross-part pairs: " + ", ".join(f"{k}: {v}" for k, v in report["leaks"].items()))

    @app.command("stats")
    def stats_cmd(
        inputs: List[str] = typer.Argument(..., metavar="IN...", help="Records files or registered dataset names."),
        out: Path = typer.Option(..., "--out", "-o", help="Directory for card.md and the PNG plots."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json, for registered names."),
        audit: bool = typer.Option(False, "--audit", help="Add what the LLM-text gate flags per rule (hearme audit, docs/gate.md)."),
    ) -> None:
        """Write a data card: Table 4 statistics, lengths, turns, topics, emoji, license and source."""
        from hearme.converters.card import build_card

        card = build_card(inputs, out, dataset_dir=dataset_dir, audit=audit)
        _echo(f"data card -> {card}")
        for png in sorted(card.parent.glob("*.png")):
            _echo(f"  {png}")

    export_app = typer.Typer(help="Write registered datasets in a format others can load.", no_args_is_help=True)
    app.add_typer(export_app, name="export")

    @export_app.command("hf")
    def export_hf_cmd(
        out: Path = typer.Argument(..., metavar="DIR", help="Folder to write (Parquet splits + README.md dataset card)."),
        names: List[str] = typer.Argument(..., metavar="NAME...",
                                          help="Registered dataset names, or a prefix that takes its _train/_val/_test."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json."),
        private_use: bool = typer.Option(False, "--private-use",
                                         help="Allow data whose license forbids redistribution (PsyQA): the copy is for you alone."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace DIR if it is not empty."),
    ) -> None:
        """Export as a Hugging Face dataset folder that `datasets.load_dataset(DIR)` loads with its splits."""
        from hearme.converters.export_hf import export

        res = export(list(names), out, dataset_dir=dataset_dir, private_use=private_use, overwrite=overwrite)
        for split, (name, n) in res["splits"].items():
            _echo(f"  {split}\t{n} rows\t{name}")
        lic = res["license"]
        _echo(f"  license: {lic['license']}" + (f" ({lic['license_details']})" if "license_details" in lic else ""))
        if res["private_use"]:
            _echo("  PRIVATE USE ONLY: this data's license forbids redistribution; do not upload it")
        _echo(f"dataset folder -> {res['dir']} (load with datasets.load_dataset({str(res['dir'])!r}))")
