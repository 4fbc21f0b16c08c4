"""Shell completion for ``arborctl``, generated from a method table (the ``methods`` result).

The script completes the options, the verbs word by word (``cache`` → ``get``, ``put``, ...; the
aliases such as ``start`` and ``children`` too) and, after a verb, its params as ``key=``. It is
plain data — a ``case`` over the words typed so far — so completing costs no round trip to the
daemon. zsh runs the same function through its ``bashcompinit`` layer: source it from ``~/.zshrc``
(``source <(arborctl completion zsh)``).

``arborctl completion bash`` makes it from the daemon it talks to; ``python -m daemon.manual
completion bash`` from the verbs built into this installation, with no daemon (what
``systemd/install.sh`` installs).

>>> table = [{"name": "ping", "params": {}}, {"name": "cache.get", "params": {"properties": {"key": {}}}}]
>>> script = completion_script("bash", table, argparse.ArgumentParser(prog="arborctl"))
>>> '"cache") candidates="get" ;;' in script, '"cache get"|"cache get "*) candidates="key=" ;;' in script
(True, True)
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence

from daemon.verbs.words import ALIASES

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["SHELLS", "completion_script"]

SHELLS: Final = ("bash", "zsh")
# Verbs arborctl itself adds to the daemon's methods.
_OWN_VERBS: Final = {"restart": "restart_child", "console": "", "completion": "", "diagnose": ""}
# A word that goes into the script as it is: a method's name or a param's comes from the daemon.
_SAFE: Final = re.compile(r"[A-Za-z0-9_.:-]+")

_FUNCTION: Final = """\
_arborctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} word i candidates=""
    local -a typed=()
    case $prev in
        --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        %(valued)s) return ;;
    esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            %(valued)s) ((i++)) ;;
            -*) ;;
            *=*) ;;
            *) typed+=("$word") ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "%(options)s" -- "$cur"))
        return
    fi
    case "${typed[*]}" in
%(cases)s
    esac
    COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
    [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
}
complete -F _arborctl arborctl
"""


def _options(parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """Every option string, and those that take a value."""
    options: list[str] = []
    valued: list[str] = []
    for action in parser._actions:  # argparse has no public view of its options
        options.extend(action.option_strings)
        if action.option_strings and action.nargs != 0:
            valued.extend(action.option_strings)
    return options, valued


def _verbs(methods: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each verb as typed (words joined by spaces) and the names of its params."""
    params = {
        str(m["name"]): [str(p) for p in m.get("params", {}).get("properties", {})]
        for m in methods
        if _SAFE.fullmatch(str(m["name"]))
    }
    verbs = {name.replace(".", " "): names for name, names in params.items()}
    for alias, method in {**ALIASES, **_OWN_VERBS}.items():
        if method in params or not method:
            verbs[alias] = params.get(method, [])
    return verbs


def completion_script(
    shell: str, methods: Sequence[Mapping[str, Any]], parser: argparse.ArgumentParser
) -> str:
    """The completion script for ``shell`` (``bash`` or ``zsh``) over ``methods``."""
    if shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}: {' or '.join(SHELLS)}")
    verbs = _verbs(methods)
    following: dict[str, set[str]] = {}
    for verb in verbs:
        words = verb.split(" ")
        for count in range(len(words)):
            following.setdefault(" ".join(words[:count]), set()).add(words[count])
    cases = [
        f'        "{prefix}") candidates="{" ".join(sorted(nexts))}" ;;'
        for prefix, nexts in following.items()
    ]
    for verb, names in verbs.items():
        keys = ["bash", "zsh"] if verb == "completion" else [f"{n}=" for n in names if _SAFE.fullmatch(n)]
        cases.append(f'        "{verb}"|"{verb} "*) candidates="{" ".join(keys)}" ;;')
    options, valued = _options(parser)
    script = _FUNCTION % {
        "valued": "|".join(valued) or "--",
        "options": " ".join(options),
        "cases": "\n".join(cases),
    }
    if shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    return "# arborctl completion (" + shell + "): generated from the method table\n" + script
