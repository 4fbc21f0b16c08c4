"""The manual pages of ``arbord`` and ``arborctl``, and ``arborctl``'s shell completion, generated.

Nothing here is written by hand twice: a page is made from the command's ``argparse`` parser (its
description, options, commands and epilog) and, for ``arborctl``, from the verbs this installation's
daemon serves (``daemon.tree.COMPONENTS``, each method as ``methods`` describes it), so neither can
drift from the code. ``systemd/install.sh`` runs::

    python -m daemon.manual man arbord > arbord.1
    python -m daemon.manual man arborctl > arborctl.1
    python -m daemon.manual completion bash > arborctl     # (or zsh)

The roff is the small ``man(7)`` subset every ``man`` renders (``.TH .SH .TP .B .I .nf``), written
here rather than taken from a package: argparse-manpage would do it too, but it is one more
dependency for forty lines (docs/dependencies.md).

>>> print(roff_escape(".dot -v"))
\\&.dot \\-v
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["builtin_methods", "main", "manpage", "roff_escape"]


def roff_escape(text: str) -> str:
    """``text`` safe in roff: backslashes and dashes escaped, a leading ``.`` or ``'`` guarded."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = ["\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n")]
    return "\n".join(lines)


def builtin_methods() -> list[dict[str, Any]]:
    """Every verb of this installation's daemon, as ``methods`` describes it, by name."""
    from daemon.component import verb_table
    from daemon.tree import COMPONENTS

    table = verb_table(COMPONENTS).methods
    return [table[name].describe() for name in sorted(table)]


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().removeprefix("usage: ").split())


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:  # argparse has no public view of its options
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        metavar = f" {action.metavar or action.dest.upper()}" if action.nargs != 0 else ""
        lines += [".TP", f".B {roff_escape(', '.join(action.option_strings))}{roff_escape(metavar)}"]
        lines.append(roff_escape(str(action.help or "")))
    return lines


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                lines += [".TP", f".B {roff_escape(choice.dest)}", roff_escape(str(choice.help or ""))]
                sub = action.choices[choice.dest]
                lines += [".RS", f"usage: {roff_escape(_usage(sub))}", ".RE"]
    return lines


def _verbs(methods: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for method in methods:
        schema = method.get("params", {})
        required = set(schema.get("required", []))
        params = " ".join(
            f"\\fI{roff_escape(n)}\\fR" if n in required else f"[\\fI{roff_escape(n)}\\fR]"
            for n in schema.get("properties", {})
        )
        words = roff_escape(str(method["name"]).replace(".", " "))
        lines += [".TP", f"\\fB{words}\\fR {params}".rstrip(), roff_escape(str(method.get("summary", "")))]
    return lines


def manpage(
    parser: argparse.ArgumentParser,
    *,
    summary: str,
    methods: Sequence[Mapping[str, Any]] = (),
    see_also: Sequence[str] = (),
    version: str = "",
) -> str:
    """A section-1 page for the command ``parser`` describes; ``methods`` become its VERBS."""
    name = parser.prog
    # SOURCE_DATE_EPOCH: the same page from the same sources (reproducible builds).
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    day = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch else datetime.datetime.now()
    date = day.date().isoformat()
    lines = [
        f'.TH {name.upper()} 1 "{date}" "arbord {roff_escape(version)}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {roff_escape(summary)}",
        ".SH SYNOPSIS",
        f".B {roff_escape(_usage(parser))}",
        ".SH DESCRIPTION",
        roff_escape(parser.description or ""),
        ".SH OPTIONS",
        *_options(parser),
    ]
    commands = _commands(parser)
    if commands:
        lines += [".SH COMMANDS", *commands]
    if methods:
        lines += [
            ".SH VERBS",
            "Words bind to a verb's params in the order listed (required ones in italics, optional ones "
            "in brackets); an optional param takes a word only when there are words to spare.",
            *_verbs(methods),
        ]
    if parser.epilog:
        lines += [".SH NOTES", ".nf", roff_escape(parser.epilog.rstrip()), ".fi"]
    if see_also:
        lines += [".SH SEE ALSO", ", ".join(f"\\fB{roff_escape(page)}\\fR(1)" for page in see_also)]
    return "\n".join(lines) + "\n"


def _page(program: str) -> str:
    import daemon

    if program == "arbord":
        from daemon.cli import build_parser

        return manpage(
            build_parser(),
            summary="a supervision tree of servers, run as a daemon",
            see_also=["arborctl"],
            version=daemon.__version__,
        )
    from daemon.ctl.arborctl import parser

    return manpage(
        parser(),
        summary="drive a running arbord through its control socket",
        methods=builtin_methods(),
        see_also=["arbord"],
        version=daemon.__version__,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m daemon.manual man arbord|arborctl`` or ``completion bash|zsh``: print it."""
    command = argparse.ArgumentParser(prog="python -m daemon.manual", description=__doc__.splitlines()[0])
    kinds = command.add_subparsers(dest="kind", required=True)
    kinds.add_parser("man").add_argument("program", choices=["arbord", "arborctl"])
    kinds.add_parser("completion").add_argument("shell", choices=["bash", "zsh"])
    args = command.parse_args(argv)
    if args.kind == "man":
        sys.stdout.write(_page(args.program))
    else:
        from daemon.ctl.arborctl import parser
        from daemon.ctl.completion import completion_script

        sys.stdout.write(completion_script(args.shell, builtin_methods(), parser()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
