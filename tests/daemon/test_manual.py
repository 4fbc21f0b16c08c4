"""``arborctl``'s shell completion and the man pages of ``arbord`` and ``arborctl`` (issue 11, item
13): generated from the parsers and the method table, so every verb is in them; the completion is
run by a real bash."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.ctl.arborctl import parser
from daemon.ctl.completion import completion_script
from daemon.manual import builtin_methods, manpage, roff_escape
from tests.daemon.conftest import ROOT
from tests.daemon.test_arborctl import arborctl
from tests.daemon.test_control_helpers import running_control

BASH = shutil.which("bash")


def complete(script: Path, line: str) -> list[str]:
    """What bash offers for ``line`` (Tab at its end) with ``script`` loaded."""
    probe = (
        'source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");'
        ' COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _arborctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    assert BASH is not None
    result = subprocess.run(
        [BASH, "--norc", "-c", probe, "bash", str(script), line], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
async def test_the_bash_completion_offers_verbs_word_by_word_then_params(tmp_path: Path) -> None:
    async with running_control() as h:
        code, out, err = await arborctl("--socket", h.path, "completion", "bash")
        assert (code, err) == (0, "")
        _, table, _ = await arborctl("--socket", h.path, "--json", "methods")
    script = tmp_path / "arborctl.bash"
    script.write_text(out)
    assert complete(script, "arborctl tab") == ["tables"]
    assert complete(script, "arborctl tables ") == ["dump", "info", "list"]
    assert complete(script, "arborctl tables dump x ") == ["name=", "chunk=", "limit="]
    assert complete(script, "arborctl start ") == ["path=", "spec=", "force="]  # an alias
    assert complete(script, "arborctl --socket /x --js") == ["--json"]
    assert complete(script, "arborctl completion ") == ["bash", "zsh"]
    first_words = {m["name"].split(".")[0] for m in json.loads(table)}
    assert first_words <= set(complete(script, "arborctl "))


def test_the_zsh_script_runs_the_bash_function_through_bashcompinit() -> None:
    script = completion_script("zsh", [{"name": "ping", "params": {}}], parser())
    assert "autoload -U +X bashcompinit && bashcompinit\n" in script
    assert "complete -F _arborctl arborctl" in script
    with pytest.raises(ValueError, match="fish"):
        completion_script("fish", [], parser())


async def test_completion_needs_a_shell_it_knows() -> None:
    async with running_control() as h:
        code, out, err = await arborctl("--socket", h.path, "completion", "fish")
        assert (code, out) == (2, "")
        assert "completion takes one shell: bash or zsh" in err


def test_the_built_in_method_table_is_every_components_verbs() -> None:
    names = [m["name"] for m in builtin_methods()]
    assert names == sorted(names)
    assert {"ping", "start_child", "tables.list", "registry.lookup", "cache.get"} <= set(names)
    start = next(m for m in builtin_methods() if m["name"] == "start_child")
    assert list(start["params"]["properties"]) == ["path", "spec", "force"]


@pytest.mark.parametrize("program", ["arbord", "arborctl"])
def test_the_man_pages_are_generated_without_a_daemon(program: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "daemon.manual", "man", program],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"SOURCE_DATE_EPOCH": "0", "PATH": "/usr/bin:/bin"},
    )
    page = result.stdout
    assert page.startswith(f'.TH {program.upper()} 1 "1970-01-01" "arbord ')
    assert "\\-\\-version" in page
    for line in page.splitlines():  # every request is one of the man(7) subset
        if line.startswith("."):
            assert line.split()[0] in {".TH", ".SH", ".TP", ".B", ".RS", ".RE", ".nf", ".fi"}, line
    if program == "arborctl":
        for method in builtin_methods():
            assert f"\\fB{roff_escape(method['name'].replace('.', ' '))}\\fR" in page
    else:
        assert "check\\-config" in page
    groff = shutil.which("groff")
    if groff is not None:  # it renders without a warning
        rendered = subprocess.run(
            [groff, "-man", "-Tutf8", "-ww"], input=page, capture_output=True, text=True, check=True
        )
        assert rendered.stderr == ""


def test_the_bash_completion_is_generated_without_a_daemon() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "daemon.manual", "completion", "bash"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert result.stdout == completion_script("bash", builtin_methods(), parser())


def test_roff_escapes_what_roff_would_read_as_a_request() -> None:
    assert roff_escape(".x -y \\z") == "\\&.x \\-y \\ez"
    assert roff_escape("a\n.b") == "a\n\\&.b"
    assert manpage(parser(), summary="s").count(".SH VERBS") == 0
