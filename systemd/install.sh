#!/usr/bin/env bash
# Install arbord as a systemd service, into its own venv (docs/operations.md, "Install").
#
#   sudo systemd/install.sh            # from the root of a checkout
#   sudo systemctl enable --now arbord
#
# What it does, idempotently: the "arbord" user and group (sysusers.d), /etc/arbord (tmpfiles.d), a venv at
# /opt/arbord/venv with this checkout installed (not editable), /etc/arbord/arbord.toml from
# config/arbord.toml unless one exists, the docs under /opt/arbord/share/docs, the man pages
# (/usr/local/share/man/man1) and arborctl's bash completion, and the unit. It never
# starts or restarts the service. PYTHON picks the interpreter (>= 3.11), VENV the venv's location.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
checkout="$(dirname "$here")"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-/opt/arbord/venv}"
unit_dir=/etc/systemd/system

if [[ $EUID -ne 0 ]]; then
    echo "install.sh: run as root (it creates a system user and installs a unit)" >&2
    exit 1
fi

install -D -m 0644 "$here/arbord.sysusers" /usr/lib/sysusers.d/arbord.conf
install -D -m 0644 "$here/arbord.tmpfiles" /usr/lib/tmpfiles.d/arbord.conf
systemd-sysusers /usr/lib/sysusers.d/arbord.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/arbord.conf

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$checkout"

if [[ ! -e /etc/arbord/arbord.toml ]]; then
    install -m 0640 -o root -g arbord "$checkout/config/arbord.toml" /etc/arbord/arbord.toml
fi
"$VENV/bin/arbord" check-config /etc/arbord/arbord.toml

install -d -m 0755 "$(dirname "$VENV")/share/docs"
install -m 0644 "$checkout"/docs/*.md "$(dirname "$VENV")/share/docs/"
# The man pages of arbord and arborctl and arborctl's bash completion, generated from this
# installation's parsers and verbs (daemon/manual.py). MAN_DIR and COMPLETION_DIR override where.
man_dir="${MAN_DIR:-/usr/local/share/man/man1}"
completion_dir="${COMPLETION_DIR:-/usr/local/share/bash-completion/completions}"
install -d -m 0755 "$man_dir" "$completion_dir"
for page in arbord arborctl; do
    "$VENV/bin/python" -m daemon.manual man "$page" | install -m 0644 /dev/stdin "$man_dir/$page.1"
done
"$VENV/bin/python" -m daemon.manual completion bash | install -m 0644 /dev/stdin "$completion_dir/arborctl"
sed "s#/opt/arbord/venv#$VENV#g" "$here/arbord.service" > "$unit_dir/arbord.service"
chmod 0644 "$unit_dir/arbord.service"
systemd-analyze verify "$unit_dir/arbord.service"
systemctl daemon-reload
echo "installed; start it with: systemctl enable --now arbord"
