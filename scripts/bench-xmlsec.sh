#!/usr/bin/env bash
# Throughput of our XML security core against python-xmlsec (libxmlsec1 1.3.9) on the same inputs.
#
#   scripts/bench-xmlsec.sh            # criterion bench, then python-xmlsec, then the table
#   SKIP_CARGO=1 scripts/bench-xmlsec.sh   # reuse the last criterion results
#
# The criterion bench (benches/xmlsec.rs) writes its inputs — keys and a ~8 KB eIDAS Response with
# ten attributes — to target/bench-xmlsec/; python-xmlsec is timed on exactly those files. Every
# operation includes parsing its input on both sides. The table also gives the raw aws-lc-rs rate
# of the private/public-key operation underneath each XML operation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-test-env.sh >/dev/null

if [[ -z ${SKIP_CARGO:-} ]]; then
    cargo bench --locked --bench xmlsec
fi

IN=target/bench-xmlsec
PY=.venv/bin/python
O=tests/interop/oracle.py
RESPONSE_ID=_response-7d6c1f0b2a9e4e31a8c5
ASSERTION_ID=_assertion-5b1e9c7d3f2a4b68c0d4
PSS=http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1
ECDSA=http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256

pyb() { "$PY" "$O" bench "$@"; }
results=$(mktemp)
{
    echo "c14n - $(pyb --op c14n --iterations 3000 $IN/rsa3072/signed.xml)"
    for k in rsa3072 p256; do
        if [[ $k == rsa3072 ]]; then alg=$PSS; n=300; else alg=$ECDSA; n=2000; fi
        echo "sign $k $(pyb --op sign --key $IN/$k/key.pem --cert $IN/$k/cert.pem --alg $alg --id $RESPONSE_ID --iterations $n $IN/$k/to-sign.xml)"
        echo "verify $k $(pyb --op verify --cert $IN/$k/cert.pem --id $RESPONSE_ID --iterations 2000 $IN/$k/signed.xml)"
        echo "encrypt $k $(pyb --op encrypt --cert $IN/$k/cert.pem --id $ASSERTION_ID --iterations 2000 $IN/$k/signed.xml)"
        echo "decrypt $k $(pyb --op decrypt --key $IN/$k/key.pem --iterations $n $IN/$k/encrypted.xml)"
    done
} > "$results"

python3 - "$results" <<'PY'
import json, sys, pathlib
crit = pathlib.Path("target/criterion")
def ours(name):
    est = json.loads((crit / name.replace("/", "_") / "new" / "estimates.json").read_text())
    return 1e9 / est["mean"]["point_estimate"]
raw = {
    ("sign", "rsa3072"): "raw/rsa3072-pss-sign", ("verify", "rsa3072"): "raw/rsa3072-pss-verify",
    ("encrypt", "rsa3072"): "raw/rsa3072-oaep-encrypt", ("decrypt", "rsa3072"): "raw/rsa3072-oaep-decrypt",
    ("sign", "p256"): "raw/p256-ecdsa-sign", ("verify", "p256"): "raw/p256-ecdsa-verify",
    ("encrypt", "p256"): "raw/p256-ecdh-ephemeral", ("decrypt", "p256"): "raw/p256-ecdh-static",
}
print(f"{'operation':18} {'eidas-node/s':>13} {'libxmlsec1/s':>13} {'ratio':>7} {'raw key op/s':>13} {'of raw':>7}")
for line in open(sys.argv[1]):
    op, key, js = line.split(" ", 2)
    theirs = json.loads(js)["per_second"]
    name = "c14n/exc-c14n-response" if op == "c14n" else f"{op}/{key}"
    mine = ours(name)
    r = raw.get((op, key))
    raw_rate = ours(r) if r else None
    label = op if key == "-" else f"{op} {key}"
    raw_s = f"{raw_rate:13.0f} {100 * mine / raw_rate:6.1f}%" if raw_rate else f"{'-':>13} {'-':>7}"
    print(f"{label:18} {mine:13.0f} {theirs:13.0f} {mine / theirs:6.2f}x {raw_s}")
PY
rm -f "$results"
