#!/usr/bin/env bash
# Create Tryton's own virtual environment for the peer benchmark (bench/cycle_vs_tryton.py).
#
#     bash bench/peer/tryton_venv.sh            # prints the venv's directory on its last line
#     HUIKUAN_TRYTON_VENV=DIR bash bench/peer/tryton_venv.sh
#
# The venv lives outside the project tree: $HUIKUAN_TRYTON_VENV, by default
# ${TMPDIR:-/tmp}/huikuan-tryton-venv. It is made with $PYTHON (default python3) and filled
# from the package index pip is configured with, with the exact versions below (trytond 8.2
# with account_dunning and what they need, verified together). Running it again on a complete
# venv does nothing; a venv with other versions is recreated.
set -euo pipefail

VENV="${HUIKUAN_TRYTON_VENV:-${TMPDIR:-/tmp}/huikuan-tryton-venv}"
PYTHON="${PYTHON:-python3}"

# Pinned: trytond 8.2 with account_dunning, then everything they pull in.
REQUIREMENTS=(
    trytond==8.2.1
    trytond-account-dunning==8.2.0
    trytond-account==8.2.1
    trytond-company==8.2.0
    trytond-country==8.2.0
    trytond-currency==8.2.0
    trytond-party==8.2.0
    argon2-cffi==25.1.0
    argon2-cffi-bindings==26.2.0
    cffi==2.1.1
    defusedxml==0.7.1
    Genshi==0.7.12
    lxml==6.1.3
    MarkupSafe==3.0.4
    polib==1.2.0
    puremagic==1.30
    pwdlib==0.3.1
    pycparser==3.12
    python-dateutil==4.0.0
    python-sql==1.8.1
    python-stdnum==2.2
    relatorio==1.0.0
    simpleeval==1.0.8
    tzdata==2026.6
    Werkzeug==3.1.9
)

stamp="$VENV/.huikuan-requirements"
wanted="$(printf '%s\n' "${REQUIREMENTS[@]}")"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$VENV"
    exit 0
fi

case "$(cd "$(dirname "$VENV")" 2>/dev/null && pwd -P)/" in
    "$(cd "$(dirname "$0")/../.." && pwd -P)/"*)
        echo "refusing to create the Tryton venv inside the project tree: $VENV" >&2
        exit 2
        ;;
esac

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "${REQUIREMENTS[@]}" >&2
"$VENV/bin/python" -m pip check >&2
"$VENV/bin/python" -c 'import trytond; assert trytond.__version__.startswith("8.2."), trytond.__version__'
printf '%s\n' "$wanted" >"$stamp"
echo "$VENV"
