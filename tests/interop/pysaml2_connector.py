"""pysaml2 7.5.5 as an independent eIDAS Connector (SP) for the interop tests.

A test peer, never used by the node. The Rust integration tests (tests/integration/pysaml2.rs) run
it with the test venv:  .venv/bin/python tests/interop/pysaml2_connector.py COMMAND ...

  make-request   --metadata PS_MD.xml --key K.pem --cert C.pem --alg SIG_URI --entity-id URL --acs URL
                 --out OUT.xml [--metadata-cert PEM] [--digest URI]
      Loads our Proxy-Service metadata into a pysaml2 Saml2Client, lets pysaml2 find the IdP and its
      HTTP-POST SingleSignOnService there, and writes the signed AuthnRequest it builds (the XML, not
      the base64 form field) to OUT. Prints JSON on stdout: the request ID, the IdP entityID that
      pysaml2 picked from the metadata and the form's action URL.
  read-response  --metadata PS_MD.xml --key K.pem --cert C.pem --response RESP.xml --request-id ID
                 --entity-id URL --acs URL [--enc-key K.pem --enc-cert C.pem] [--metadata-cert PEM]
                 [--fix-xsi-type]
      Has pysaml2 parse a SAML Response (HTTP-POST binding, ID as the outstanding request):
      Response and Assertion signatures verified with the IdP signing certificate from the metadata,
      the assertion decrypted with the SP's encryption key (default --key/--cert). Prints JSON with
      the attributes (ava, by pysaml2's eIDAS friendly names), the LoA and the NameID.

With --metadata-cert, pysaml2 also checks the metadata's signature with that certificate (its
MetaDataFile signature check; a "local" metadata source is otherwise not verified by pysaml2).

Exit codes: 0 ok; 1 pysaml2 refused or failed (reason on stderr); 2 usage error.

pysaml2 is not eIDAS-clean out of the box; what is needed (see ../shared/spec/interop-oracles.md §3):
  * xmlsec_binary = tests/interop/xmlsec1-shim: pysaml2 runs the xmlsec1 program for all XML crypto,
    and Debian's xmlsec1 1.2.37 has no RSASSA-PSS / xmlenc11 rsa-oaep / ECDH-ES. The shim runs the
    same CLI calls on python-xmlsec (libxmlsec1 1.3.9).
  * SIG_ALLOWED_ALG lists only RSA PKCS#1 v1.5: signing with ECDSA or RSASSA-PSS raises "Signature
    algo not in allowed list". The tuple is copied into saml2.entity and saml2.pack at import, so all
    three are widened (patch_sig_allowed_alg). Verification does not consult the list.
  * IsPassive: no configuration key; passed as the AuthnRequest attribute keyword is_passive="false"
    (pysaml2 copies unknown keywords that name AuthnRequest attributes onto the message).
  * Receiving: stock pysaml2 7.5.5 refuses a signed assertion whose AttributeValues carry eIDAS
    xsi:types (xsi:type="p:PersonIdentifierType" and so on; the eIDAS attribute profile types them
    all): pysaml2 issue #921, see patch_xsi_type_namespaces(). read-response applies that
    workaround only with --fix-xsi-type, so the tests show both the stock refusal and the rest.
Everything else is pysaml2 configuration: sp_type + sp_type_in_metadata=False (eidas:SPType in
the request), requested_attributes (eidas:RequestedAttributes), force_authn, name_id_policy_format,
name_id_format_allow_create, requested_authn_context (comparison minimum).
"""

import argparse
import base64
import html
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "xmlsec1-shim")

# pysaml2 logs to the root logger; keep stderr for our own one-line reasons unless asked.
import logging  # noqa: E402

logging.basicConfig(level=logging.DEBUG if os.environ.get("PYSAML2_DEBUG") else logging.CRITICAL)

import saml2  # noqa: E402
import saml2.entity  # noqa: E402
import saml2.pack  # noqa: E402
from saml2 import BINDING_HTTP_POST, xmldsig  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.saml import NAMEID_FORMAT_PERSISTENT  # noqa: E402

NATURAL = "http://eidas.europa.eu/attributes/naturalperson/"
MDS = ["PersonIdentifier", "CurrentFamilyName", "CurrentGivenName", "DateOfBirth"]
ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"

EIDAS_SIG_ALGS = (
    ("SIG_ECDSA_SHA256", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
    ("SIG_ECDSA_SHA384", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"),
    ("SIG_ECDSA_SHA512", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"),
    ("SIG_RSA_PSS_SHA256", "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"),
    ("SIG_RSA_PSS_SHA384", "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"),
    ("SIG_RSA_PSS_SHA512", "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"),
)


class Refused(Exception):
    """pysaml2 refused the input or could not do the job: exit 1."""


def patch_sig_allowed_alg():
    for mod in (xmldsig, saml2.entity, saml2.pack):
        have = {uri for _, uri in mod.SIG_ALLOWED_ALG}
        mod.SIG_ALLOWED_ALG = tuple(mod.SIG_ALLOWED_ALG) + tuple(a for a in EIDAS_SIG_ALGS if a[1] not in have)


def patch_xsi_type_namespaces():
    """Work around pysaml2 issue #921 (open; fix proposed in PR #1025), opt-in (--fix-xsi-type).

    Before verifying a signature, pysaml2 schema-validates its own re-serialisation str(item) of the
    signed element. Its ElementTree parse drops every namespace declaration, so a QName in an
    attribute *value* loses its prefix binding: an eIDAS AttributeValue with
    xsi:type="p:PersonIdentifierType" comes out with "p" undeclared and the XSD validator stops
    with "global xs:simpleType/xs:complexType 'p:PersonIdentifierType' not found", which pysaml2
    reports as SignatureError "Invalid document format". (pysaml2 itself only re-adds xs/xsd.)

    This replaces (process-wide) the defusedxml fromstring that saml2/__init__.py parses every
    message with: the same
    parse (defusedxml iterparse, same protections), and each element whose xsi:type value has a
    prefix gets a literal "xmlns:p" attribute with the URI that prefix had in scope, which pysaml2
    keeps (extension attribute) and writes back out, as it does for xmlns:xs. Signatures are still
    verified by xmlsec over the original bytes and the schema check still runs; only the lost
    binding is restored. Prefixes that collide with ElementTree's own ns0, ns1, ... are renamed.
    """
    import io
    import defusedxml.ElementTree as det

    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"

    def fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True):
        if isinstance(text, str):
            text = text.encode("utf-8")
        pending, scopes, root = [], [{}], None
        for event, item in det.iterparse(io.BytesIO(text), events=("start-ns", "start", "end"),
                                         forbid_dtd=forbid_dtd, forbid_entities=forbid_entities,
                                         forbid_external=forbid_external):
            if event == "start-ns":
                pending.append(item)
            elif event == "start":
                scope = dict(scopes[-1])
                scope.update(pending)
                pending.clear()
                scopes.append(scope)
                root = item if root is None else root
                qname = item.get(xsi_type)
                if qname and ":" in qname:
                    prefix, local = qname.split(":", 1)
                    uri = scope.get(prefix)
                    if uri is not None:
                        if re.fullmatch(r"ns\d+", prefix):
                            prefix = "q" + prefix
                            item.set(xsi_type, f"{prefix}:{local}")
                        item.set(f"xmlns:{prefix}", uri)
            else:
                scopes.pop()
        return root

    det.fromstring = fromstring


def describe(e):
    """An exception as one line: pysaml2 puts whole documents into some (a dict with 'doc'/'document'
    and a stringified 'reason'); keep the message and the schema validator's error."""
    arg = e.args[0] if len(e.args) == 1 else None
    if isinstance(arg, dict):
        parts = [str(arg.get("message", ""))]
        reason = str(arg.get("reason", ""))
        m = re.search(r"'error': (.+)\}$", reason, re.S)
        if m or reason:
            parts.append("reason: " + (m.group(1) if m else reason[:500]))
        parts += [f"{k}: {v}" for k, v in arg.items() if k not in ("message", "reason", "doc", "document")]
        return f"{type(e).__name__}: " + "; ".join(p for p in parts if p)
    text = str(e)
    return f"{type(e).__name__}: {text if len(text) < 2000 else text[:2000] + '...'}"


def readable(path, what):
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{what} {path}: no such file")
    return os.path.abspath(path)


def sp_config(a, sigalg=None):
    enc_key = a.enc_key or a.key
    enc_cert = a.enc_cert or a.cert
    sp = {
        "endpoints": {"assertion_consumer_service": [(a.acs, BINDING_HTTP_POST)]},
        "authn_requests_signed": True,
        "want_response_signed": True,
        "want_assertions_signed": True,
        "allow_unsolicited": False,
        "digest_algorithm": a.digest,
        # eIDAS extensions in the request: SPType in each request (not in our SP metadata) ...
        "sp_type": "public",
        "sp_type_in_metadata": False,
        # ... and the natural-person minimum data set as eidas:RequestedAttributes.
        "requested_attributes": [
            {"name": NATURAL + n, "name_format": ATTRNAME_URI, "friendly_name": n, "required": True} for n in MDS
        ],
        "force_authn": True,
        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
        "name_id_policy_format": NAMEID_FORMAT_PERSISTENT,
        "name_id_format_allow_create": True,
        "requested_authn_context": {"authn_context_class_ref": [LOA_SUBSTANTIAL], "comparison": "minimum"},
    }
    if sigalg:
        sp["signing_algorithm"] = sigalg
    conf = {
        "entityid": a.entity_id,
        "name": "pysaml2 interop Connector",
        "xmlsec_binary": SHIM,
        "key_file": a.key,
        "cert_file": a.cert,
        "encryption_keypairs": [{"key_file": enc_key, "cert_file": enc_cert}],
        "metadata": {"local": [a.metadata]},
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "service": {"sp": sp},
    }
    config = SPConfig()
    config.load(conf)
    return config


def client_for(a, sigalg=None):
    if not os.access(SHIM, os.X_OK):
        raise Refused(f"{SHIM} is not executable (chmod +x); pysaml2 runs it as its xmlsec1")
    try:
        client = Saml2Client(config=sp_config(a, sigalg))
    except Exception as e:  # pysaml2 raises many types for bad metadata (TooOld, SAMLError, ...)
        raise Refused(f"pysaml2 could not load the metadata {a.metadata}: {describe(e)}")
    if a.metadata_cert:
        verify_metadata_signature(client, a.metadata_cert)
    idps = list(client.metadata.identity_providers())
    if len(idps) != 1:
        raise Refused(f"expected one IdP (Proxy-Service) in {a.metadata}, pysaml2 found {idps}")
    return client, idps[0]


def verify_metadata_signature(client, cert):
    """Re-load each metadata source through pysaml2's own signature check (MetaDataFile with a cert
    and a security context), and insist that the metadata is signed at all."""
    from saml2.sigver import SignatureError

    for source in client.metadata.metadata.values():
        source.cert = cert
        source.security = client.sec
        source.entity = {}  # parsed again below
        try:
            source.load()
        except SignatureError as e:
            raise Refused(f"pysaml2: metadata signature does not verify with {cert}: {describe(e)}")
        if not source.signed():
            raise Refused("pysaml2: metadata is not signed")


def cmd_make_request(a):
    patch_sig_allowed_alg()
    client, idp = client_for(a, a.alg)
    try:
        reqid, info = client.prepare_for_authenticate(
            entityid=idp,
            binding=BINDING_HTTP_POST,
            sign=True,
            sigalg=a.alg,
            digest_alg=a.digest,
            # No pysaml2 config key for IsPassive; eIDAS wants it present and false.
            is_passive="false",
        )
    except Exception as e:
        raise Refused(f"pysaml2 could not build the AuthnRequest: {describe(e)}")
    form = info["data"]
    m = re.search(r'name="SAMLRequest" value="([^"]+)"', form)
    if not m:
        raise Refused("no SAMLRequest in pysaml2's POST form")
    xml = base64.b64decode(html.unescape(m.group(1)))
    m = re.search(r'<form[^>]* action="([^"]+)"', form)
    action = html.unescape(m.group(1)) if m else None
    with open(a.out, "wb") as f:
        f.write(xml)
    print(json.dumps({"id": reqid, "idp": idp, "form_action": action}))


def cmd_read_response(a):
    if a.fix_xsi_type:
        patch_xsi_type_namespaces()
    client, idp = client_for(a)
    with open(a.response, "rb") as f:
        xml = f.read()
    try:
        ar = client.parse_authn_request_response(
            base64.b64encode(xml).decode(), BINDING_HTTP_POST, outstanding={a.request_id: "/"}
        )
    except Exception as e:
        raise Refused(f"pysaml2 refused the Response: {describe(e)}")
    if ar is None:
        raise Refused("pysaml2 returned no result for the Response")
    name_id = ar.name_id
    print(json.dumps({
        "issuer": ar.issuer(),
        "in_response_to": ar.in_response_to,
        "ava": ar.ava,
        "loa": [c for c, _, _ in ar.authn_info()],
        "name_id": name_id.text if name_id is not None else None,
        "name_id_format": name_id.format if name_id is not None else None,
        "response_signed": bool(ar.response.signature),
        "assertion_signed": bool(ar.assertion is not None and ar.assertion.signature),
    }, sort_keys=True))


def usage_error(msg):
    print(f"pysaml2_connector: usage: {msg}", file=sys.stderr)
    return 2


def build_parser():
    p = argparse.ArgumentParser(prog="pysaml2_connector.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp):
        sp.add_argument("--metadata", required=True, type=lambda s: readable(s, "metadata"))
        sp.add_argument("--metadata-cert", type=lambda s: readable(s, "metadata certificate"))
        sp.add_argument("--key", required=True, type=lambda s: readable(s, "key"))
        sp.add_argument("--cert", required=True, type=lambda s: readable(s, "certificate"))
        sp.add_argument("--enc-key", type=lambda s: readable(s, "encryption key"))
        sp.add_argument("--enc-cert", type=lambda s: readable(s, "encryption certificate"))
        sp.add_argument("--entity-id", required=True)
        sp.add_argument("--acs", required=True)
        sp.add_argument("--digest", default=xmldsig.DIGEST_SHA256)

    s = sub.add_parser("make-request", help="build a signed HTTP-POST AuthnRequest from our PS metadata")
    common(s)
    s.add_argument("--alg", required=True, help="SignatureMethod URI")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_make_request)

    s = sub.add_parser("read-response", help="parse a Response as pysaml2's SP does")
    common(s)
    s.add_argument("--response", required=True, type=lambda s: readable(s, "response"))
    s.add_argument("--request-id", required=True)
    s.add_argument("--fix-xsi-type", action="store_true",
                   help="work around pysaml2 #921 (xsi:type prefixes lost before the schema check)")
    s.set_defaults(func=cmd_read_response)
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)  # exits 2 on usage errors
    if bool(a.enc_key) != bool(a.enc_cert):
        return usage_error("give both --enc-key and --enc-cert, or neither")
    try:
        a.func(a)
    except Refused as e:
        print(f"pysaml2_connector {a.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
