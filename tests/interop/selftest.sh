#!/usr/bin/env bash
# Self-test of tests/interop/oracle.py: makes throw-away RSA-3072 / P-256 / P-384 keys with openssl and runs
# every oracle command round-trip on a small SAML Response (Assertion ID "_a1"), plus negative cases.
# Needs .venv from scripts/setup-test-env.sh. Usage: tests/interop/selftest.sh   (from anywhere)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${ORACLE_PYTHON:-$ROOT/.venv/bin/python}
ORACLE=$ROOT/tests/interop/oracle.py
[[ -x $PY ]] || { echo "no $PY: run scripts/setup-test-env.sh first" >&2; exit 2; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

PSS=http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1
ECDSA256=http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256
ECDSA384=http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384
SHA384=http://www.w3.org/2001/04/xmldsig-more#sha384

# --- keys -----------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:3072 -nodes -keyout rsa.key -out rsa.crt -days 30 -subj /CN=oracle-rsa 2>/dev/null
openssl req -x509 -newkey rsa:3072 -nodes -keyout rsa2.key -out rsa2.crt -days 30 -subj /CN=oracle-rsa2 2>/dev/null
for c in prime256v1:p256 secp384r1:p384 prime256v1:p256b secp384r1:p384b; do
    openssl ecparam -name "${c%%:*}" -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "${c##*:}.key"
    openssl req -x509 -new -key "${c##*:}.key" -out "${c##*:}.crt" -days 30 -subj "/CN=oracle-${c##*:}"
done
for k in rsa p256 p384; do openssl pkey -in $k.key -pubout -out $k.pub; done

cat > resp.xml <<'EOF'
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z" Destination="https://sp.example/acs"><saml:Issuer>https://idp.example</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>https://idp.example</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">DE/BE/12345</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier"><saml:AttributeValue>DE/BE/12345</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>
EOF

# --- harness --------------------------------------------------------------------------------------
pass=0 fail=0
oracle() { "$PY" "$ORACLE" "$@"; }
# expect RC DESCRIPTION -- oracle-args...
expect() {
    local want=$1 desc=$2; shift 3
    local rc=0
    oracle "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
    if [[ $rc == "$want" ]]; then
        pass=$((pass + 1)); printf 'ok   %-62s (rc=%s)\n' "$desc" "$rc"
    else
        fail=$((fail + 1)); printf 'FAIL %-62s (rc=%s, want %s)\n' "$desc" "$rc" "$want"
        sed 's/^/     | /' "$T/last.err" | tail -n 8
    fi
}
check() {  # check DESCRIPTION command...
    local desc=$1; shift
    if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); printf 'ok   %s\n' "$desc"
    else fail=$((fail + 1)); printf 'FAIL %s\n' "$desc"; fi
}
same_c14n() {  # same_c14n A B: exclusive-c14n of both documents is byte-identical
    oracle c14n --exclusive --out "$1.c14n" "$1" && oracle c14n --exclusive --out "$2.c14n" "$2" &&
        cmp -s "$1.c14n" "$2.c14n"
}
tamper() {  # tamper IN OUT: change the person identifier
    sed 's#<saml:NameID\([^>]*\)>DE/BE/12345<#<saml:NameID\1>DE/BE/99999<#' "$1" >"$2"
    ! cmp -s "$1" "$2"
}

# --- signatures -----------------------------------------------------------------------------------
for case in "rsa $PSS" "p256 $ECDSA256" "p384 $ECDSA384"; do
    set -- $case; k=$1 alg=$2 n=${k}-${alg##*#}
    expect 0 "xmlsec-sign Assertion $n" -- xmlsec-sign --key $k.key --cert $k.crt --alg "$alg" --id _a1 --out xs-$n.xml resp.xml
    expect 0 "xmlsec-verify --cert $n" -- xmlsec-verify --cert $k.crt --id _a1 xs-$n.xml
    expect 0 "xmlsec-verify --pubkey $n" -- xmlsec-verify --pubkey $k.pub --id _a1 xs-$n.xml
    expect 0 "signxml-verify (libxmlsec1-made) $n" -- signxml-verify --cert $k.crt --alg "$alg" --id _a1 xs-$n.xml
    check "signature sits right after saml:Issuer ($n)" \
        grep -q '<saml:Assertion ID="_a1"[^>]*><saml:Issuer>https://idp.example</saml:Issuer><ds:Signature' xs-$n.xml
    tamper xs-$n.xml xs-$n-bad.xml
    expect 1 "xmlsec-verify tampered $n" -- xmlsec-verify --cert $k.crt --id _a1 xs-$n-bad.xml
    expect 1 "signxml-verify tampered $n" -- signxml-verify --cert $k.crt --alg "$alg" --id _a1 xs-$n-bad.xml
    expect 1 "xmlsec-verify with another key $n" -- xmlsec-verify --cert rsa2.crt --id _a1 xs-$n.xml
    expect 1 "xmlsec-verify element without signature (_r1) $n" -- xmlsec-verify --cert $k.crt --id _r1 xs-$n.xml

    expect 0 "signxml-sign Response $n" -- signxml-sign --key $k.key --cert $k.crt --alg "$alg" --id _r1 --out sx-$n.xml resp.xml
    expect 0 "signxml-verify $n" -- signxml-verify --cert $k.crt --alg "$alg" sx-$n.xml
    expect 0 "xmlsec-verify (signxml-made) $n" -- xmlsec-verify --cert $k.crt --id _r1 sx-$n.xml
    tamper sx-$n.xml sx-$n-bad.xml
    expect 1 "signxml-verify tampered $n" -- signxml-verify --cert $k.crt --alg "$alg" sx-$n-bad.xml
    expect 1 "xmlsec-verify tampered (signxml-made) $n" -- xmlsec-verify --cert $k.crt --id _r1 sx-$n-bad.xml
done
expect 0 "xmlsec-sign PSS with --digest sha384" -- xmlsec-sign --key rsa.key --cert rsa.crt --alg "$PSS" --digest "$SHA384" --id _a1 --out xs-d384.xml resp.xml
expect 0 "signxml-verify sha384 digest" -- signxml-verify --cert rsa.crt --alg "$PSS" --id _a1 xs-d384.xml
expect 1 "signxml-verify pinned to another SignatureMethod" -- signxml-verify --cert rsa.crt --alg "$ECDSA256" --id _a1 xs-rsa-sha256-rsa-MGF1.xml
expect 2 "signxml-sign on a non-root element is a usage error" -- signxml-sign --key rsa.key --cert rsa.crt --alg "$PSS" --id _a1 --out x.xml resp.xml
expect 2 "xmlsec-sign unknown ID is a usage error" -- xmlsec-sign --key rsa.key --cert rsa.crt --alg "$PSS" --id _nope --out x.xml resp.xml

# --- encryption -----------------------------------------------------------------------------------
for case in "rsa rsa-oaep-sha256 aes256-gcm" "rsa rsa-oaep-mgf1p aes256-gcm" "rsa rsa-oaep-sha256 aes128-gcm" \
            "p256 ecdh-es aes256-gcm" "p384 ecdh-es aes128-gcm"; do
    set -- $case; k=$1 mode=$2 data=$3 n=$1-$2-$3
    expect 0 "xmlsec-encrypt $n" -- xmlsec-encrypt --cert $k.crt --mode $mode --data $data --id _a1 --out enc-$n.xml resp.xml
    check "Assertion replaced by EncryptedData, rest kept ($n)" \
        grep -q '<samlp:StatusCode [^>]*/></samlp:Status><xenc:EncryptedData ' enc-$n.xml
    check "no plaintext left ($n)" bash -c "! grep -q 12345 enc-$n.xml"
    expect 0 "xmlsec-decrypt $n" -- xmlsec-decrypt --key $k.key --out dec-$n.xml enc-$n.xml
    check "decrypted document == original ($n)" same_c14n resp.xml dec-$n.xml
    expect 0 "xmlsec-decrypt with --cert $n" -- xmlsec-decrypt --key $k.key --cert $k.crt --out dec2-$n.xml enc-$n.xml
    expect 1 "xmlsec-decrypt with another key of that type $n" -- xmlsec-decrypt --key $([[ $k == rsa ]] && echo rsa2 || echo ${k}b).key --out x.xml enc-$n.xml
done
check "ecdh-es: ConcatKDFParams 0000/0000/0000, ECKeyValue + X509Certificate written" bash -c \
    "grep -q 'AlgorithmID=\"0000\" PartyUInfo=\"0000\" PartyVInfo=\"0000\"' enc-p256-ecdh-es-aes256-gcm.xml &&
     grep -q '<ECKeyValue xmlns=\"http://www.w3.org/2009/xmldsig11#\">' enc-p256-ecdh-es-aes256-gcm.xml &&
     grep -q '<xenc:RecipientKeyInfo><ds:X509Data><ds:X509Certificate>MI' enc-p256-ecdh-es-aes256-gcm.xml"
check "rsa-oaep-sha256: xmlenc11#rsa-oaep + mgf1sha256" bash -c \
    "grep -q 'xmlenc11#rsa-oaep\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><xenc11:MGF Algorithm=\"http://www.w3.org/2009/xmlenc11#mgf1sha256\"/>' enc-rsa-rsa-oaep-sha256-aes256-gcm.xml"
# flip one base64 character of the data CipherValue (GCM tag must catch it)
"$PY" - enc-rsa-rsa-oaep-sha256-aes256-gcm.xml enc-bad.xml <<'EOF'
import sys
from lxml import etree
t = etree.parse(sys.argv[1])
cv = t.getroot().find('.//{http://www.w3.org/2001/04/xmlenc#}EncryptedData/{http://www.w3.org/2001/04/xmlenc#}CipherData/{http://www.w3.org/2001/04/xmlenc#}CipherValue')
s = cv.text.strip(); i = len(s) // 2
cv.text = s[:i] + ('A' if s[i] != 'A' else 'B') + s[i + 1:]
t.write(sys.argv[2])
EOF
expect 1 "xmlsec-decrypt tampered ciphertext" -- xmlsec-decrypt --key rsa.key --out x.xml enc-bad.xml
expect 2 "xmlsec-encrypt ecdh-es with RSA cert is a usage error" -- xmlsec-encrypt --cert rsa.crt --mode ecdh-es --id _a1 --out x.xml resp.xml
expect 2 "xmlsec-encrypt rsa-oaep with EC cert is a usage error" -- xmlsec-encrypt --cert p256.crt --mode rsa-oaep-sha256 --id _a1 --out x.xml resp.xml
# the target element is the document root
"$PY" -c 'import sys; from lxml import etree; r = etree.parse("resp.xml").getroot(); open("assertion.xml", "wb").write(etree.tostring(r.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")))'
expect 0 "xmlsec-encrypt the root element" -- xmlsec-encrypt --cert rsa.crt --mode rsa-oaep-sha256 --id _a1 --out enc-root.xml assertion.xml
check "root became xenc:EncryptedData" grep -q '^<xenc:EncryptedData ' enc-root.xml
expect 0 "xmlsec-decrypt a root EncryptedData" -- xmlsec-decrypt --key rsa.key --out dec-root.xml enc-root.xml
check "decrypted root == original" same_c14n assertion.xml dec-root.xml
# signed then encrypted Assertion: decrypt, then the signature still verifies
expect 0 "encrypt a signed Assertion (ecdh-es)" -- xmlsec-encrypt --cert p256.crt --mode ecdh-es --id _a1 --out se.xml xs-rsa-sha256-rsa-MGF1.xml
expect 0 "decrypt it" -- xmlsec-decrypt --key p256.key --out sd.xml se.xml
expect 0 "signature verifies after decrypt" -- xmlsec-verify --cert rsa.crt --id _a1 sd.xml

# --- c14n -----------------------------------------------------------------------------------------
cat > c.xml <<'EOF'
<?xml version="1.0"?>
<!-- top -->
<a:root xmlns:a="urn:a" xmlns="urn:d" xmlns:b="urn:b" xmlns:u="urn:u"><b:x z="1" a="2">t<!-- c --></b:x><y/></a:root>
EOF
c14n_is() {  # c14n_is EXPECTED-STRING oracle-c14n-args...
    local want=$1; shift
    oracle c14n "$@" --out c.out c.xml && [[ "$(cat c.out)" == "$want" ]]
}
check "c14n inclusive" c14n_is '<a:root xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" xmlns:u="urn:u"><b:x a="2" z="1">t</b:x><y></y></a:root>'
check "c14n exclusive" c14n_is '<a:root xmlns:a="urn:a"><b:x xmlns:b="urn:b" a="2" z="1">t</b:x><y xmlns="urn:d"></y></a:root>' --exclusive
check "c14n exclusive with comments + prefixes \"u #default\"" c14n_is $'<!-- top -->\n<a:root xmlns="urn:d" xmlns:a="urn:a" xmlns:u="urn:u"><b:x xmlns:b="urn:b" a="2" z="1">t<!-- c --></b:x><y></y></a:root>' --exclusive --with-comments --prefixes "u #default"
check "c14n exclusive prefixes \"u\"" c14n_is '<a:root xmlns:a="urn:a" xmlns:u="urn:u"><b:x xmlns:b="urn:b" a="2" z="1">t</b:x><y xmlns="urn:d"></y></a:root>' --exclusive --prefixes u

# --- bench (tiny) ---------------------------------------------------------------------------------
bench_ok() { oracle bench "$@" | "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["libxmlsec"]=="1.3.9" and d["iterations"]>0 and d["per_second"]>0, d; print(d)'; }
check "bench sign"    bench_ok --op sign --key rsa.key --cert rsa.crt --alg "$PSS" --id _a1 --iterations 3 resp.xml
check "bench verify"  bench_ok --op verify --cert p256.crt --id _a1 --iterations 3 xs-p256-ecdsa-sha256.xml
check "bench encrypt rsa" bench_ok --op encrypt --cert rsa.crt --id _a1 --iterations 3 resp.xml
check "bench encrypt ec"  bench_ok --op encrypt --cert p384.crt --id _a1 --iterations 3 resp.xml
check "bench decrypt" bench_ok --op decrypt --key p256.key --iterations 3 enc-p256-ecdh-es-aes256-gcm.xml
check "bench c14n"    bench_ok --op c14n --iterations 3 resp.xml
expect 1 "bench verify of a tampered document fails" -- bench --op verify --cert rsa.crt --id _a1 --iterations 1 xs-rsa-sha256-rsa-MGF1-bad.xml
expect 2 "unknown command is a usage error" -- frobnicate

echo "oracle selftest: $pass passed, $fail failed"
[[ $fail == 0 ]]
