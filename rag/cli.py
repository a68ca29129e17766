"""The ``rag`` command: ingest, search, ask, compare, topics, practice, eval.

Each command is a thin shell over ``rag.pipeline``: it parses options, calls the
library, and prints a rich table or one JSON document. Heavy modules are imported
inside commands so ``rag --help`` and a cold ``rag search`` start fast.

Exit codes: 0 success (a refusal is a successful answer), 1 a user error with a
one-line message, 2 a usage error, 3 an unexpected internal error (set
``RAG_DEBUG=1`` for the traceback), 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

try:  # typer >= 0.2x vendors its own click; its exceptions are not click's
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as _cx

from rag.errors import RagError, UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Answer questions from your source documents (interview-question articles, notes, PDFs), "
         "with cited passages.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

class Generator(str, Enum):
    """Who writes the answer: auto picks the local model when installed, else extractive."""

    auto = "auto"
    local = "local"
    api = "api"
    extractive = "extractive"

SourceOpt = typer.Option(None, "--source", "-s", help="Only this source: label, file name or prefix such as 003 (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print JSON (schema in the README) instead of tables.")
KOpt = typer.Option(None, "-k", min=1, max=50, help="How many passages (default 5).")
CorpusOpt = typer.Option(None, "--corpus", help="Folder of documents (default: the folder that built the index, "
                         "else the bundled corpus/).", readable=False)  # (an unreadable folder: our one-line error)
IndexOpt = typer.Option(None, "--index", help="Index folder (default: $RAG_HOME/index).")


def _count(n: int, noun: str) -> str:
    """ "1 document", "2 documents"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)


def _settings(corpus: Optional[Path] = None, index: Optional[Path] = None):
    from rag.config import Settings

    return Settings.from_env(corpus=corpus, index=index)


def _pipeline(corpus: Optional[Path] = None, index: Optional[Path] = None):
    from rag.pipeline import Pipeline

    return Pipeline(_settings(corpus, index), notify=lambda m: _err(f"note: {m}"), progress=sys.stderr.isatty())


def _print_json(data: object) -> None:
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from undecodable input: escape it, stay valid UTF-8
        text = json.dumps(data)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"the question is not valid UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"


def _question(text: str) -> str:
    """The question argument as text: bytes that were not UTF-8 are a user error.

    Python hands such argv bytes over as lone surrogates, which no tokenizer accepts.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(_not_utf8(raw, exc)) from None
        raise UserError("the question is not valid UTF-8 text") from None
    return text


def _stdin_lines():
    """(text, error) per line of stdin, decoded one line at a time so one bad line
    does not end the batch: ``error`` is set (and ``text`` is a readable rendering)
    for a line that is not UTF-8."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # already text (e.g. replaced by a caller)
        for line in sys.stdin:
            yield line.rstrip("\r\n"), None
        return
    for raw in stream:
        raw = raw.rstrip(b"\r\n")
        try:
            yield raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield raw.decode("utf-8", "replace"), _not_utf8(raw, exc)


@app.command()
def ingest(
    corpus: Optional[Path] = CorpusOpt,
    index: Optional[Path] = IndexOpt,
    force: bool = typer.Option(False, "--force", help="Rebuild even when the index is current."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show how each file would be split; build nothing."),
    expand: bool = typer.Option(False, "--expand", help="Have the local model write other ways to ask for each "
                                "passage not yet expanded (~5 s a passage; the bundled corpus ships them)."),
    as_json: bool = JsonOpt,
) -> None:
    """Parse, chunk and embed the documents into the search index, then report per file.

    Reads .txt, .md and .pdf files (sub-folders too). Does nothing when the index is
    current (same documents, model and chunking). The report gives each file's layout,
    questions, prose passages and hidden advert text, and the files skipped and why.

    \b
    Examples:
      rag ingest --corpus corpus/
      rag ingest --corpus my_notes/ --dry-run
      rag ingest --corpus my_notes/ --expand
    """
    from ingest.build import build_index

    settings = _settings(corpus, index)
    if dry_run:
        from ingest.report import corpus_report

        report = corpus_report(settings.corpus)
        if as_json:
            _print_json({"dry_run": True, **report.to_json()})
        else:
            _print_report(report)
            print(f"Dry run: nothing was built ({_count(len(report.files), 'document')} would be indexed from "
                  f"{settings.corpus})")
        return
    result = build_index(settings, force=force, progress=sys.stderr.isatty(), notify=lambda m: _err(f"note: {m}"))
    if expand:
        from dataclasses import replace

        from ingest.expand import expand_index

        written = expand_index(settings, notify=lambda m: _err(f"note: {m}"))
        if written:  # the caches changed, so the index is stale: embed the new questions
            rebuilt = build_index(settings, progress=sys.stderr.isatty(), notify=lambda m: _err(f"note: {m}"))
            result = replace(rebuilt, seconds=rebuilt.seconds + (result.seconds if result.built else 0.0))
    if as_json:
        _print_json(result.to_json())
        return
    _print_build(result)


def _print_build(result) -> None:
    """The per-file report and the one-line summary of an index build."""
    if result.report is not None:
        _print_report(result.report)
    if not result.built:
        print(f"Index is current: {result.path} (nothing to do; --force rebuilds)")
        return
    print(f"Indexed {_count(result.documents, 'document')}: {_count(result.units, 'unit')} "
          f"({_count(result.questions, 'question')}), "
          f"{result.chunks} chunks in {result.seconds:.1f} s -> {result.path}")


@app.command()
def add(
    files: List[Path] = typer.Argument(..., help="Documents (.txt, .md, .pdf) to add.", readable=False),
    index: Optional[Path] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add documents to the corpus and rebuild the index (what the app's Corpus page does).

    Each file is read as ingest would read it first; one that cannot be used, or whose
    name a different document already has, is refused with the reason and the others
    are added. The bundled corpus/ is never written to: the first addition makes
    $RAG_HOME/documents with a copy of the bundled five, and every command uses it from
    then on.

    \b
    Examples:
      rag add ~/notes/attention.md ~/papers/interview.pdf
      rag add notes.md --json
    """
    from dataclasses import replace

    from ingest.add import Added, AddReport, add_documents, documents_folder

    offered, unread = [], {}
    for i, f in enumerate(files):
        try:
            offered.append((f.name, f.read_bytes()))
        except OSError as exc:  # refused like a file ingest cannot use: the others are still added
            unread[i] = Added(str(f), "refused", f"cannot be read: {exc.strerror or exc}")
    settings = _settings(None, index)
    if offered:
        try:
            report = add_documents(settings, offered, progress=sys.stderr.isatty() and not as_json,
                                   notify=lambda m: _err(f"note: {m}"))
        except UserError as exc:
            if not unread:
                raise
            raise UserError(f"{exc}; not read: {', '.join(a.name for a in unread.values())}") from None
    else:
        report = AddReport(documents_folder(settings), (), None)
    outcomes = iter(report.files)
    report = replace(report, files=tuple(unread[i] if i in unread else next(outcomes) for i in range(len(files))))
    if as_json:
        _print_json(report.to_json())
    else:
        for f in report.files:
            print(f"{f.status}: {f.name}" + (f" ({f.reason})" if f.reason else ""))
        if report.build is not None:
            _print_build(report.build)
    if not any(f.status != "refused" for f in report.files):
        raise typer.Exit(1)


@app.command()
def remove(
    name: str = typer.Argument(..., help="A document of the corpus folder, by its path there (as search names "
                               "its source: notes.md, sub/notes.md)."),
    index: Optional[Path] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set a document aside (moved to $RAG_HOME/removed/, not deleted) and rebuild the index.

    Any document of the corpus folder may be removed, a copy of a bundled one too (never
    from the bundled corpus/ itself); if the index cannot be rebuilt without it, it is
    put back.

    \b
    Examples:
      rag remove attention.md
    """
    from ingest.add import remove_document

    kept, build = remove_document(_settings(None, index), name, progress=sys.stderr.isatty() and not as_json,
                                  notify=lambda m: _err(f"note: {m}"))
    if as_json:
        _print_json({"removed": name, "kept": str(kept), "index": build.to_json()})
        return
    _print_build(build)


def _print_report(report) -> None:
    """The per-file table of an ingest report, then skipped files and warnings (stderr)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # No vertical rules, the label under its file name, and counts that never wrap: in 80
    # columns (a pipe, a small terminal) the names get the room instead of breaking mid-word.
    table = Table(title=f"{_count(len(report.files), 'document')} from {report.folder}", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("file, label", overflow="fold", ratio=1)
    table.add_column("format", no_wrap=True)  # and the layout under it
    for name in ("Q&A", "prose", "intro", "hidden"):
        table.add_column(name, justify="right", no_wrap=True)
    for f in report.files:
        hidden = f"{f.hidden_chars:,}" + ("" if f.boilerplate_rules else " (rules off)")
        fmt = f.format + (f", {f.pages} pages" if f.pages else "")
        name = _escape(f.file) + ("" if f.label == Path(f.file).stem else f"\n[dim]{_escape(f.label)}[/dim]")
        table.add_row(name, f"{fmt}\n{f.layout}", str(f.questions), str(f.prose), str(f.intro), hidden)
    for sk in report.skipped:
        table.add_row(f"{_escape(sk.source)}\n[dim]{_escape(sk.reason)}[/dim]", "skipped", "", "", "", "")
    Console(highlight=False, soft_wrap=False).print(table)
    for f in report.files:
        if f.warning:
            _err(f"warning: {f.file}: {f.warning}")
    for w in report.warnings:
        _err(f"warning: {w}")


@app.command()
def inspect(
    file: Path = typer.Argument(..., help="A document (.txt, .md, .pdf) to split as ingest would."),
    as_json: bool = JsonOpt,
) -> None:
    """Show how one file would be split (layout, each passage's kind, title and size); builds nothing.

    \b
    Examples:
      rag inspect my_notes/attention.md
      rag inspect paper.pdf --json
    """
    from ingest.corpus import FORMATS, Document, document_text, first_heading
    from ingest.report import file_report, parse

    if file.is_dir():
        raise UserError(f"{file} is a folder; to see how a folder would be split: rag ingest --dry-run --corpus {file}")
    if not file.exists():
        raise UserError(f"file not found: {file}")
    if file.suffix.lower() not in FORMATS:
        raise UserError(f"{file}: not a supported format (.txt, .md, .pdf); ingest skips it")
    try:
        text, pages, _raw = document_text(file)
    except ValueError as exc:
        raise UserError(f"{file}: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None
    heading = first_heading(text) or file.stem
    doc = Document(file.name, heading, heading, text, "", FORMATS.get(file.suffix.lower(), "text"), pages)
    parsed = parse(doc)
    units = [{"kind": u.kind, "qnum": u.qnum, "section": u.section, "title": u.title, "start": u.start, "end": u.end,
              "chars": u.end - u.start, "page": doc.page_of(u.start)} for u in parsed.units]
    if as_json:
        _print_json({**file_report(doc, parsed).to_json(), "units": units})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{file}: layout {parsed.layout}", title_justify="left")
    for name in ("#", "kind", "ref", "title / opening", "chars"):
        table.add_column(name, overflow="fold")
    for i, (u, row) in enumerate(zip(parsed.units, units)):
        ref = (f"Q{u.qnum}" if u.kind == "qa" else f"¶{u.qnum}" if u.kind == "prose" else "") + (
            f" p.{row['page']}" if row["page"] else "")
        opening = u.title or " ".join(u.text.split())[:80]
        table.add_row(str(i), u.kind, ref, _escape(opening), str(row["chars"]))
    Console(highlight=False).print(table)


def _search_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if result.refused:
        console.print(f"[bold yellow]The sources do not cover this.[/] (best match {result.confidence:.2f}; "
                      "nearest passages below)")
    table = Table(show_lines=False, expand=True)
    table.add_column("#", justify="right", width=2)
    table.add_column("score", justify="right", width=5)
    table.add_column("source", ratio=1)
    table.add_column("question / passage", ratio=3)
    for h in result.hits:
        p = h.passage
        snippet = (p.answer[:160] + "…") if len(p.answer) > 160 else p.answer
        table.add_row(str(h.rank), f"{h.score:.2f}", p.ref,
                      f"[bold]{p.title or p.kind}[/]\n[dim]{_escape(snippet)}[/]")
    console.print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command()
def search(
    question: str = typer.Argument(..., help="The question, or - to read one question per line from stdin."),
    k: Optional[int] = KOpt,
    source: Optional[List[str]] = SourceOpt,
    as_json: bool = JsonOpt,
    corpus: Optional[Path] = CorpusOpt,
) -> None:
    """Find the passages that answer a question (hybrid dense + keyword search).

    \b
    Examples:
      rag search "What is dropout?"
      rag search "How does batch normalization help?" -k 3 --source GeeksforGeeks --json
      printf 'What is a GRU?\\nWhat is an epoch?\\n' | rag search --json -
    """
    if question != "-":
        question = _question(question)
    pipe = _pipeline(corpus)
    if question == "-":
        _search_batch(pipe, k, source, as_json)
        return
    result = pipe.search(question, k, source)
    _print_json(result.to_json()) if as_json else _search_table(result)


def _search_batch(pipe, k, source, as_json: bool) -> None:
    """One result per stdin line; a bad line gets an error object and exit code 1 at the end."""
    failed = 0
    for line, bad in _stdin_lines():
        if not line.strip():
            continue
        try:
            if bad:
                raise UserError(bad)
            result = pipe.search(line, k, source)
        except RagError as exc:
            failed += 1
            if as_json:
                _print_json({"question": line[:200], "error": str(exc)})
            else:
                _err(f"error: {exc}")
            continue
        _print_json(result.to_json()) if as_json else _search_table(result)
    if failed:
        raise typer.Exit(1)


def _answer_text(answer, title: str | None = None, skip_notices: tuple[str, ...] = ()) -> None:
    from rich.console import Console
    from rich.panel import Panel

    console = Console(highlight=False)
    for notice in answer.notices:
        if notice not in skip_notices:
            _err(f"note: {notice}")
    if answer.refused:
        console.print(Panel(answer.text, title="no answer", border_style="yellow"))
        return
    body = []
    for s in answer.sentences or ():
        marks = "".join(f"[{n}]" for n in s.cites)
        line = _escape(s.text) + (f" [cyan]{_escape(marks)}[/]" if marks else "")
        body.append(line if s.supported else f"[red]{line} (not supported by the sources)[/]")
    if answer.listed_best:  # the tool's note that the best match has no answer (not a quoted claim)
        body.append(f"{_escape(answer.listed_best.text)} [cyan]{_escape(f'[{answer.listed_best.n}]')}[/]")
    text = " ".join(body) if body else _escape(answer.text)
    if answer.missing and body:
        from rag.answer import not_mentioned_text

        tail = " The nearest they cover:" if answer.generator == "extractive" else ""
        lead = not_mentioned_text(answer.missing, answer.listed, answer.named_in_list)
        text = f"[yellow]{_escape(lead + tail)}[/]\n{text}"
    console.print(Panel(text, title=title or f"answer ({answer.generator})", border_style="green"))
    for c in answer.citations:
        p = c.passage
        console.print(f"[cyan][{c.n}][/] [bold]{_escape(p.ref)}[/] {_escape(p.title or '')}")
        console.print(f"    [dim]“{_escape(c.quote)}”[/]")
    if answer.left_out:
        console.print("[yellow]left out by the citation check:[/]")
        for x in answer.left_out:
            cited = f" (cited {', '.join(x.cited)})" if x.cited else ""
            console.print(f"  [dim]“{_escape(x.text)}”[/] {_escape(x.reason)}{_escape(cited)}")
    sys.stdout.flush()


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question."),
    k: Optional[int] = KOpt,
    source: Optional[List[str]] = SourceOpt,
    generator: Generator = typer.Option(Generator.auto, "--generator", "-g", help="Who writes the answer."),
    as_json: bool = JsonOpt,
    corpus: Optional[Path] = CorpusOpt,
) -> None:
    """Answer a question from the sources, citing passages as [1], [2] ...

    With a model, the quoted answer is printed as soon as the passages are found, then
    the model's answer (streamed on a terminal) once its citations are checked.
    Refuses ("The sources do not cover this.") when retrieval finds no answer.
    --json prints one document: the final answer.

    \b
    Examples:
      rag ask "How can the vanishing gradient problem be mitigated?"
      rag ask "What is a GRU?" --generator extractive --json
    """
    from rag.generate import resolve_generator

    question = _question(question)
    pipe = _pipeline(corpus)
    name = resolve_generator(generator.value, pipe.settings)
    result = pipe.search(question, k, source)
    quotes = None
    if not as_json and name != "extractive" and not result.refused and not result.missing:
        # (a refusal or a "not mentioned" answer calls no model: nothing to print twice)
        from rag.answer import extractive_answer

        quotes = extractive_answer(result, pipe.index.encoder)
        _answer_text(quotes, title=f"quoted from the sources (the {name} model is writing an answer)")
    live = quotes is not None and sys.stdout.isatty()
    streamed = []

    def on_token(token: str) -> None:
        if live:
            if not streamed:
                sys.stdout.write(f"\nwritten by the {name} model (citations checked when it ends):\n")
            sys.stdout.write(token)
            sys.stdout.flush()
        streamed.append(token)

    answer = pipe.answer(result, generator=name, on_token=on_token)
    if streamed and live:
        sys.stdout.write("\n\n")
    if as_json:
        _print_json(answer.to_json())
    elif quotes is not None and answer.generator == "extractive" and answer.sentences == quotes.sentences:
        for notice in answer.notices:  # the model's answer failed or was rejected: the quotes above stand
            if notice not in quotes.notices:
                _err(f"note: {notice}")
    else:
        _answer_text(answer, skip_notices=quotes.notices if quotes is not None else ())


def _compare_text(cmp) -> None:
    from rich.columns import Columns
    from rich.console import Console
    from rich.panel import Panel

    console = Console(highlight=False)
    if cmp.refused:
        console.print(Panel("The sources do not cover this.", title="no source answers", border_style="yellow"))
        return
    cards = []
    for s in cmp.sources:
        if not s.covered:
            note = f"\n\n[dim]{_escape(s.nearest_note)}[/]" if s.nearest_note else ""
            cards.append(Panel(f"[dim]not covered[/] (best match {s.confidence:.2f}){note}", title=_escape(s.label),
                               border_style="grey50", width=38))
            continue
        refs = ", ".join(f"{_escape(p.ref.removeprefix(s.label).strip())}: {_escape(p.title or '')}" for p in s.passages)
        cards.append(Panel(f"[bold]{_escape(s.gist)}[/]\n\n[dim]{refs}[/]", title=_escape(s.label),
                           border_style="green", width=38))
    console.print(Columns(cards))
    labels = {s.source: s.label for s in cmp.sources}
    if cmp.synthesis and cmp.synthesis.text:
        console.print(Panel(_escape(cmp.synthesis.text), title=f"synthesis ({cmp.synthesis.generator})"))
    if cmp.synthesis:
        for notice in cmp.synthesis.notices:
            _err(f"note: {notice}")
    if cmp.agreement:
        console.print("[bold]Agree[/]")
        for p in cmp.agreement:
            console.print(f"  • {_escape(p.text)} [cyan]({_escape(', '.join(labels[x] for x in p.sources))})[/]")
    if cmp.differences:
        console.print("[bold]Only one source says[/]")
        for p in cmp.differences:
            console.print(f"  • [cyan]{_escape(labels[p.sources[0]])}:[/] {_escape(p.text)}")


@app.command()
def compare(
    question: str = typer.Argument(..., help="The question."),
    source: Optional[List[str]] = SourceOpt,
    generator: Generator = typer.Option(Generator.extractive, "--generator", "-g",
                                        help="Who writes the synthesis (extractive: none, points only)."),
    as_json: bool = JsonOpt,
    corpus: Optional[Path] = CorpusOpt,
) -> None:
    """Compare how each source answers a question: one card per source, then agreement and differences.

    \b
    Examples:
      rag compare "What is dropout?"
      rag compare "How do GANs work?" --generator local --json
    """
    question = _question(question)
    cmp = _pipeline(corpus).compare(question, sources=source, generator=generator.value)
    _print_json(cmp.to_json()) if as_json else _compare_text(cmp)


@app.command()
def topics(
    as_json: bool = JsonOpt,
    csv_file: Optional[Path] = typer.Option(None, "--csv", help="Also write the topic x source table as CSV."),
    corpus: Optional[Path] = CorpusOpt,
) -> None:
    """Map the corpus: its questions grouped into topics, and which sources cover each.

    Cells list question numbers (I/A: a source's Intermediate/Advance sections; ¶: prose passages).

    \b
    Examples:
      rag topics
      rag topics --csv topics.csv
    """
    tmap = _pipeline(corpus).topics()
    if csv_file is not None:
        import csv

        try:
            with open(csv_file, "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows(tmap.to_csv_rows())
        except OSError as exc:
            raise RagError(f"cannot write {csv_file}: {exc.strerror}") from None
    if as_json:
        _print_json(tmap.to_json())
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    rows = tmap.to_csv_rows()
    # Words are never broken ("Backpropag|ation"): the topic column is as wide as its
    # longest word, and when a source's label has a word too long for its share of the
    # width (80 columns: "GeeksforGeeks"), the columns are headed 1, 2, … under a legend.
    topic_width = min(24, max(len(w) for r in rows for w in (r[0].split() or [""])))
    share = (console.width - topic_width - 2 * len(rows[0])) // max(1, len(tmap.sources))
    short = any(len(w) > share for _, label in tmap.sources for w in label.split())
    title = f"{len(tmap.topics)} topics across {len(tmap.sources)} sources"
    if short:
        title += "\n" + "; ".join(f"{i} {label}" for i, (_, label) in enumerate(tmap.sources, 1))
    table = Table(title=_escape(title), title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("topic", min_width=topic_width, ratio=2)
    for i, label in enumerate(rows[0][1:], 1):
        table.add_column(str(i) if short else _escape(label), ratio=1)
    for row in rows[1:]:
        table.add_row(*[_escape(c) for c in row])
    console.print(table)
    if csv_file is not None:
        _err(f"wrote {csv_file}")


@app.command(name="eval")
def eval_(
    file: Path = typer.Argument(..., help="Question set in the eval/dev.jsonl format."),
    as_json: bool = JsonOpt,
    answers: bool = typer.Option(False, "--answers", help="Score final answers end to end instead of retrieval."),
    generator: Generator = typer.Option(Generator.auto, "--generator", "-g", help="Who writes the answers (--answers)."),
    save: Optional[Path] = typer.Option(None, "--save", help="With --answers: write each answer and verdict as JSONL."),
    corpus: Optional[Path] = CorpusOpt,
) -> None:
    """Measure hit@1, hit@5, MRR@10, refusals and compare coverage on a question set.

    With --answers, answer every question and score the final answers: false refusals,
    gold passages cited, multi-part answers covering every part, out-of-corpus questions
    declined or hallucinated, sentences the check left out.

    \b
    Examples:
      rag eval eval/dev.jsonl
      rag eval eval/everyday.jsonl --answers --generator local --json
    """
    from rag.evaluate import evaluate, load_questions

    rows = load_questions(file)
    if answers:
        _eval_answers(rows, generator.value, as_json, save, corpus)
        return
    report = evaluate(_pipeline(corpus), rows)
    data = report.to_json()
    if as_json:
        _print_json(data)
        return
    metrics = [
        ("hit@1", f"{report.hit1:.3f}"), ("hit@5", f"{report.hit5:.3f}"), ("MRR@10", f"{report.mrr10:.3f}"),
        ("out-of-corpus refused", f"{report.refused_unanswerable} / {report.unanswerable}"),
        ("answerable refused", f"{report.refused_answerable} / {report.answerable}"),
        ("out-of-corpus 'not mentioned'", f"{report.not_mentioned_unanswerable} / {report.unanswerable}"),
        ("answerable 'not mentioned'", f"{report.not_mentioned_answerable} / {report.answerable}"),
    ]
    if report.compare_rows:
        metrics += [("compare coverage", f"{report.compare_coverage:.3f} ({report.compare_rows} rows)"),
                    ("compare precision", f"{report.compare_precision:.3f}")]
    console = _metric_table(f"{file} ({_count(len(rows), 'question')})", metrics)
    for m in report.misses:
        console.print(f"[yellow]{m['kind']}[/] {m.get('id')}: {_escape(m['question'])} "
                      f"[dim]{_escape(json.dumps({k: v for k, v in m.items() if k not in ('id', 'question', 'kind')}, ensure_ascii=False))}[/]")


def _metric_table(title: str, rows: list[tuple[str, str]]):
    """Print a two-column metric table; return the console for what follows it."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    return console


def _eval_answers(rows: list[dict], generator: str, as_json: bool, save: Optional[Path],
                  corpus: Optional[Path] = None) -> None:
    from rag.evaluate import evaluate_answers
    from rag.generate import resolve_generator

    pipe = _pipeline(corpus)
    name = resolve_generator(generator, pipe.settings)
    try:
        out = open(save, "w", encoding="utf-8") if save else None
    except OSError as exc:
        raise UserError(f"cannot write {save}: {exc.strerror or exc}") from None

    def record(row, answer, verdict) -> None:
        if out:
            out.write(json.dumps({"id": row.get("id"), "row": row, "answer": answer.to_json(), "verdict": verdict,
                                  "stats": {k: v for k, v in answer.stats.items()}}, ensure_ascii=False) + "\n")
            out.flush()

    try:
        report = evaluate_answers(pipe, rows, name, on_answer=record)
    finally:
        if out:
            out.close()
    data = report.to_json()
    if as_json:
        _print_json(data)
        return
    console = _metric_table(f"answers by {name} ({report.answerable} answerable, {report.unanswerable} not)",
                            [(k, str(v)) for k, v in data.items() if k not in ("failures", "generator")])
    for f in report.failures:
        console.print(f"[yellow]{f.get('id')}[/]: {_escape(f['question'])} [dim]{_escape(f['answer'][:160])}[/]")


def _practice_text(fb, labels: dict[str, str], n_sources: int) -> None:
    """The feedback table: covered and missed points (cited), then what is not in the sources."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if fb.refused:
        console.print("[yellow]The sources do not cover this question, so there is nothing to check your answer "
                      "against.[/]")
        return
    table = Table(expand=True, show_lines=True)
    table.add_column("", width=2)
    table.add_column("point the sources make", ratio=3)
    table.add_column("sources", ratio=1)
    table.add_column("your sentence", ratio=2)
    for r in fb.points:
        mark = "[green]✓[/]" if r.covered else "[red]✗[/]"
        cites = " ".join(f"[{n}]" for n in dict.fromkeys(c.n for c in r.citations))
        who = f"{len(r.point.sources)} of {n_sources}: " + ", ".join(labels.get(s, s) for s in r.point.sources)
        mine = _escape(r.user_sentence) if r.user_sentence else "[dim]missed[/]"
        table.add_row(mark, f"{_escape(r.point.text)} [cyan]{_escape(cites)}[/]", _escape(who), mine)
    console.print(table)
    against = [(s, fb.contradiction(s)) for s in fb.unsupported if fb.contradiction(s)]
    if against:
        console.print("[bold]The sources say otherwise[/]:")
        for s, (p, q) in against:
            console.print(f"  [red]•[/] {_escape(s)}\n    [dim]{_escape(p.ref)}:[/] “{_escape(q)}”")
    plain = [s for s in fb.unsupported if not fb.contradiction(s)]
    if plain:
        console.print("[bold]Not in the sources[/] (no passage for this question says it; check it):")
        for s in plain:
            console.print(f"  [yellow]•[/] {_escape(s)}")
    seen = {}
    for r in fb.points:
        for c in r.citations:
            seen.setdefault(c.n, c)
    for n, c in sorted(seen.items()):
        console.print(f"[cyan][{n}][/] [bold]{_escape(c.passage.ref)}[/] {_escape(c.passage.title or '')}")
    covered = len(fb.covered)
    console.print(f"[bold]Score: {fb.score:.0%}[/] ({covered} of {len(fb.points)} points covered, each point "
                  "weighted by how many sources make it)")
    sys.stdout.flush()


def _written_feedback(pipe, fb, generator: str, quiet: bool = False) -> dict | None:
    """The model's two-sentence feedback (streamed on a terminal), checked; its JSON or None."""
    from rag.practice import model_feedback

    if generator == "extractive" or fb.refused:
        return None
    live = not quiet and sys.stdout.isatty()
    if not quiet:
        print("\nThe model is writing feedback (checked against the passages when it ends)…", flush=True)

    def on_token(token: str) -> None:
        if live:
            sys.stdout.write(token)
            sys.stdout.flush()

    answer = model_feedback(pipe, fb, generator, on_token=on_token)
    if live:
        sys.stdout.write("\n")
    if not quiet:
        for notice in answer.notices:
            _err(f"note: {notice}")
        if answer.text:
            _answer_text(answer, title=f"feedback ({answer.generator}, checked)", skip_notices=answer.notices)
    return answer.to_json()


def _save(history, question: str, topic: str | None, score: float) -> None:
    """Record an attempt; a history that cannot be written is a note, not the end of practice."""
    if history is None:
        return
    try:
        history.record(question, topic, score)
    except UserError as exc:
        _err(f"note: this attempt was not saved: {exc}")


def _read_line() -> str | None:
    """One line of stdin (None at its end), read from the byte stream like every other
    line so no text-layer buffer reads ahead of the next prompt."""
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    raw = stream.readline()
    if not raw:
        return None
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(_not_utf8(raw, exc).replace("question", "answer")) from None
    return raw.rstrip("\r\n")


def _read_answer() -> str | None:
    """Lines from stdin up to an empty line; None at end of input with nothing read."""
    lines: list[str] = []
    while True:
        line = _read_line()
        if line is None:
            return "\n".join(lines) if lines else None
        if not line.strip():
            if lines:
                return "\n".join(lines)
            continue
        lines.append(line)


@app.command()
def practice(
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Practise this question (else one is picked)."),
    answer: Optional[str] = typer.Option(None, "--answer", "-a", help="Your answer (else it is read from the terminal)."),
    topic: Optional[str] = typer.Option(None, "--topic", "-t", help="Pick questions of this topic (see rag topics)."),
    source: Optional[List[str]] = SourceOpt,
    generator: Generator = typer.Option(Generator.extractive, "--generator", "-g",
                                        help="Also a two-sentence written feedback by this model (extractive: none)."),
    as_json: bool = JsonOpt,
) -> None:
    """Practise: answer an interview question and see, point by point and cited, what the
    sources say you covered, missed, or said that they do not.

    Without --answer: shows a question (by --topic, --source, or at random, preferring
    questions several sources answer), reads your answer (end it with an empty line),
    prints the feedback, and offers another question (Enter) or stops (q, or Ctrl-D).
    Every graded attempt is kept in the practice history in the data directory.
    With --generator local (or api), a model also writes two sentences of feedback after
    the table, checked against the passages like any answer.

    \b
    Examples:
      rag practice --topic dropout
      rag practice --question "What is dropout?" --answer "Dropout turns off random neurons." --json
    """
    from rag.history import History
    from rag.practice import grade, pick_question, prepare, topic_of

    if question is not None:
        question = _question(question)
    if answer is not None:
        answer = _question(answer)
        if question is None:
            raise UserError("--answer needs --question: the question the answer is for")
    elif as_json:
        raise UserError("--json needs --question and --answer (without them, rag practice asks interactively)")
    pipe = _pipeline()
    try:
        history = History.for_home(pipe.settings.home)
    except UserError as exc:  # practice still works; only the record is missing
        _err(f"note: {exc}; attempts will not be saved")
        history = None
    if history is not None and history.notice:
        _err(f"note: {history.notice}")
    labels = {src: info["label"] for src, info in pipe.index.sources.items()}
    n_sources = len(labels)
    tmap = pipe.topics()
    if answer is not None:
        fb = grade(pipe, question, answer)
        if not fb.refused:
            _save(history, fb.question, topic_of(pipe, tmap, fb.question), fb.score)
        if as_json:
            data = fb.to_json()
            if generator.value != "extractive":
                data["feedback"] = _written_feedback(pipe, fb, generator.value, quiet=True)
            _print_json(data)
            return
        _practice_text(fb, labels, n_sources)
        _written_feedback(pipe, fb, generator.value)
        return
    chosen = pipe.retriever.resolve_sources(source) if source else ()
    asked: list[str] = []
    while True:
        if question is not None and not asked:
            text, name = question, topic_of(pipe, tmap, question)
        else:
            picked = pick_question(tmap, topic=topic, sources=chosen, avoid=tuple(asked))
            text, name = picked.text, picked.topic
        asked.append(text)
        exercise = prepare(pipe, text)  # while the user thinks: grading then only reads the answer
        print(f"\nQuestion ({name or 'no topic'}; {len(exercise.sources)} of {n_sources} sources answer it):")
        print(f"  {text}")
        print("Your answer (end with an empty line; Ctrl-D to stop):", flush=True)
        reply = _read_answer()
        if reply is None:
            break
        fb = grade(pipe, exercise, reply)
        if not fb.refused:
            _save(history, fb.question, name, fb.score)
        _practice_text(fb, labels, n_sources)
        _written_feedback(pipe, fb, generator.value)
        print("\nAnother question? [Enter: yes, q: quit] ", end="", flush=True)
        more = _read_line()
        if more is None or more.strip().lower() in ("q", "quit", "n", "no", "exit"):
            print()
            break


class _StdoutClosed(Exception):
    """The reader of our standard output went away (``| head``)."""


class _Interrupted(Exception):
    """Ctrl-C (SIGINT) while a command ran."""


def _guarded(command):
    """Let a closed stdout and Ctrl-C reach ``main`` as our own exceptions: click would
    turn the ``BrokenPipeError`` into a silent exit 1, indistinguishable from a user
    error, and Ctrl-C into an ``Abort`` after printing a blank line."""
    invoke = command.invoke

    def guarded_invoke(ctx):
        try:
            return invoke(ctx)
        except BrokenPipeError:
            raise _StdoutClosed() from None
        except KeyboardInterrupt:
            raise _Interrupted() from None

    command.invoke = guarded_invoke
    return command


def _quiet_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot
    # raise a second BrokenPipeError (the recipe in the signal module's documentation).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


EXIT_PIPE = 141  # 128 + SIGPIPE: what the shell reports for any tool stopped by `| head`


def main() -> None:
    """Entry point: run the app behind one error boundary.

    Ctrl-C exits 130 with "interrupted"; a closed stdout (``| head``) exits 141 quietly.
    """
    try:
        command = _guarded(typer.main.get_command(app))
        code = command.main(args=sys.argv[1:], prog_name="rag", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)  # typer.Exit(n) comes back as a return value
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except _cx.ClickException as exc:  # usage errors: exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (_Interrupted, KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        sys.exit(130)
    except (_StdoutClosed, BrokenPipeError):
        _quiet_stdout()
        sys.exit(EXIT_PIPE)
    except RagError as exc:
        if os.environ.get("RAG_DEBUG"):
            raise
        _err(f"error: {exc}")
        sys.exit(exc.exit_code)
    except Exception as exc:  # pragma: no cover - the last line of defence
        if os.environ.get("RAG_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set RAG_DEBUG=1 for details)")
        sys.exit(3)
