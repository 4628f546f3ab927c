#!/usr/bin/env bash
# Idempotent installer for what the interop tests need (run from the repo root, as root on Debian 12):
#   - Debian packages: libxml2-utils (xmllint), xmlsec1 (optional Debian CLI oracle, libxmlsec1 1.2.37),
#     chromium (headless, renders the conformance report)
#   - .venv with the pinned Python oracles from scripts/requirements-test.txt
#     (python-xmlsec wheel bundles libxmlsec1 1.3.9 + OpenSSL; lxml; signxml; pysaml2)
#   - tests/interop/oidc-provider/node_modules: oidc-provider 9.13.3 from its package-lock.json
#   - tests/interop/openid-client/node_modules: openid-client 6.8.9 from its package-lock.json
# A second run does nothing: apt packages are checked with dpkg -s, the venv with a stamp file
# .venv/.stamp-<sha256 of requirements-test.txt>.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REQ=scripts/requirements-test.txt
VENV=.venv
PY=${PYTHON:-python3}

say() { printf '[setup-test-env] %s\n' "$*"; }

# --- 1. Debian packages -------------------------------------------------------------------------
# chromium: the conformance suite's HTML report is rendered and photographed in a real browser.
APT_WANT=(libxml2-utils xmlsec1 chromium)
# python3 -m venv needs ensurepip; Debian's own python3 only has it with python3-venv.
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    APT_WANT+=(python3-venv)
fi
missing=()
for p in "${APT_WANT[@]}"; do
    if dpkg -s "$p" >/dev/null 2>&1 && dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        :
    else
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    say "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    say "apt: installed ${missing[*]}"
else
    say "apt: ${APT_WANT[*]} already installed"
fi

# --- 2. virtualenv ------------------------------------------------------------------------------
if [[ -x $VENV/bin/python ]]; then
    say "venv: $VENV exists"
else
    say "venv: creating $VENV"
    "$PY" -m venv "$VENV"
fi

# --- 3. pinned Python packages ------------------------------------------------------------------
sha=$(sha256sum "$REQ" | cut -c1-16)
stamp="$VENV/.stamp-$sha"
if [[ -f $stamp ]]; then
    say "pip: requirements up to date ($stamp)"
else
    say "pip: installing $REQ"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
    # lxml and the xmlsec wheel must be linked against the same libxml2, else importing xmlsec fails
    "$VENV/bin/python" -c 'import lxml.etree, xmlsec, signxml, saml2; print("[setup-test-env] pip: libxmlsec1 %d.%d.%d, lxml %s" % (xmlsec.get_libxmlsec_version() + (lxml.etree.__version__,)))'
    rm -f "$VENV"/.stamp-*
    touch "$stamp"
    say "pip: done ($stamp)"
fi

# --- 4. npm: Node's oidc-provider, the independent OpenID provider (pinned by package-lock.json) --
OP=tests/interop/oidc-provider
if ! command -v npm >/dev/null 2>&1; then
    say "npm: installing nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# Node's oidc-provider (playing ID-porten) and openid-client (a Norwegian relying party of our
# provider), each pinned by its package-lock.json.
for NPMDIR in "$OP" tests/interop/openid-client; do
    lock_sha=$(sha256sum "$NPMDIR/package-lock.json" | cut -c1-16)
    if [[ -f $NPMDIR/node_modules/.stamp-$lock_sha ]]; then
        say "npm: $NPMDIR up to date"
    else
        say "npm: npm ci in $NPMDIR"
        (cd "$NPMDIR" && npm ci --no-audit --no-fund --silent)
        touch "$NPMDIR/node_modules/.stamp-$lock_sha"
    fi
done

say "ok"
