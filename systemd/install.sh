#!/usr/bin/env bash
# Install arbord as a systemd service, into its own venv (docs/operations.md, "Install").
#
#   sudo systemd/install.sh                        # from the root of a checkout: builds and installs it
#   sudo systemd/install.sh dist/arbord-*.whl      # a prebuilt wheel instead (no compiler needed here)
#   sudo systemctl enable --now arbord
#
# What it does, idempotently: the "arbord" user and group (sysusers.d), /etc/arbord (tmpfiles.d), a venv at
# /opt/arbord/venv with arbord and its console extra installed (not editable), /etc/arbord/arbord.toml
# from config/arbord.toml unless one exists, the docs under /opt/arbord/share/docs, the man pages
# (/usr/local/share/man/man1) and arborctl's bash completion, and the unit, which
# is verified (systemd-analyze verify) before it is installed. It prints the control socket the
# service will listen on. It never starts or restarts the service.
# PYTHON picks the interpreter (>= 3.11), VENV the venv's location (the unit's ExecStart=, ExecReload=
# and Documentation= follow it). The functions are tested one by one (tests/test_install_sh.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checkout="$(dirname "$here")"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-/opt/arbord/venv}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
CONFIG=/etc/arbord/arbord.toml

# The documentation directory that goes with a venv: beside it.
docs_dir() { echo "$(dirname "$1")/share/docs"; }

# The pip requirement to install: arbord with its console extra, from a wheel ($1) or this checkout.
requirement() {
    if [[ -n "${1:-}" ]]; then
        [[ "$1" == *.whl && -f "$1" ]] || { echo "install.sh: $1 is not a wheel file" >&2; return 2; }
        echo "arbord[console] @ file://$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    else
        echo "$checkout[console]"
    fi
}

# The unit for a venv ($1), written to $2: every /opt/arbord path follows the venv.
render_unit() {
    sed -e "s#/opt/arbord/venv#$1#g" -e "s#/opt/arbord/share/docs#$(docs_dir "$1")#g" \
        "$here/arbord.service" > "$2"
}

# Verify the rendered unit ($1) and only then install it into $UNIT_DIR; nothing is installed if
# systemd-analyze finds anything to say.
install_unit() {
    local out
    if ! out=$(systemd-analyze verify "$1" 2>&1) || [[ -n "$out" ]]; then
        echo "install.sh: the unit does not verify, not installed:" >&2
        echo "$out" >&2
        return 1
    fi
    install -D -m 0644 "$1" "$UNIT_DIR/arbord.service"
}

# The control socket the service will listen on: the configuration ($2) checked by the venv's ($1)
# arbord, in the runtime directory systemd gives the unit (RuntimeDirectory=).
socket_path() {
    local runtime
    runtime="/run/$(sed -n 's/^RuntimeDirectory=//p' "$here/arbord.service")"
    RUNTIME_DIRECTORY="$runtime" "$1/bin/arbord" check-config "$2" \
        | sed -n 's/.*(control socket: \(.*\))$/\1/p'
}

# The man pages of arbord and arborctl and arborctl's bash completion, generated from the venv's ($1)
# parsers and verbs (daemon/manual.py). MAN_DIR and COMPLETION_DIR override where they go.
install_manuals() {
    local man_dir="${MAN_DIR:-/usr/local/share/man/man1}"
    local completion_dir="${COMPLETION_DIR:-/usr/local/share/bash-completion/completions}"
    install -d -m 0755 "$man_dir" "$completion_dir"
    local page
    for page in arbord arborctl; do
        "$1/bin/python" -m daemon.manual man "$page" | install -m 0644 /dev/stdin "$man_dir/$page.1"
    done
    "$1/bin/python" -m daemon.manual completion bash | install -m 0644 /dev/stdin "$completion_dir/arborctl"
}

main() {
    if [[ $# -gt 1 || "${1:-}" == -* ]]; then
        echo "usage: install.sh [WHEEL]" >&2
        exit 2
    fi
    if [[ $EUID -ne 0 ]]; then
        echo "install.sh: run as root (it creates a system user and installs a unit)" >&2
        exit 1
    fi
    local spec tmp
    spec="$(requirement "${1:-}")"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT

    install -D -m 0644 "$here/arbord.sysusers" /usr/lib/sysusers.d/arbord.conf
    install -D -m 0644 "$here/arbord.tmpfiles" /usr/lib/tmpfiles.d/arbord.conf
    systemd-sysusers /usr/lib/sysusers.d/arbord.conf
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/arbord.conf

    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "$spec"

    if [[ ! -e "$CONFIG" ]]; then
        install -m 0640 -o root -g arbord "$checkout/config/arbord.toml" "$CONFIG"
    fi
    "$VENV/bin/arbord" check-config "$CONFIG" > /dev/null

    install -d -m 0755 "$(docs_dir "$VENV")"
    install -m 0644 "$checkout"/docs/*.md "$(docs_dir "$VENV")/"
    install_manuals "$VENV"
    render_unit "$VENV" "$tmp/arbord.service"
    install_unit "$tmp/arbord.service"
    systemctl daemon-reload
    echo "installed; the control socket will be $(socket_path "$VENV" "$CONFIG")"
    echo "start it with: systemctl enable --now arbord"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
