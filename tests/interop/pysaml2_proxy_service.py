"""pysaml2 7.5.5 as an independent eIDAS Proxy-Service (IdP) answering our Connector.

A test peer, never used by the node. The Rust integration tests (tests/integration/pysaml2_ps.rs)
run it with the test venv:  .venv/bin/python tests/interop/pysaml2_proxy_service.py respond ...

  respond --sp-metadata CN_MD.xml --request REQ.b64 --key K.pem --cert C.pem --alg SIG_URI
          --entity-id URL --sso URL --enc-cert C.pem --enc-mode rsa-oaep-sha256|ecdh-es
          --person-id XX/NO/ID --loa URI --out RESP.xml
      pysaml2's Server loads our Connector metadata, parses our HTTP-POST AuthnRequest (the form
      value) and verifies its signature with the key from that metadata (through xmlsec1-shim,
      i.e. libxmlsec1 1.3.9), then builds the Response with its own assertion (Issuer, Subject with
      a persistent NameID, bearer SubjectConfirmation, Conditions with our audience, the LoA as
      AuthnContextClassRef, the minimum data set by Name URI). pysaml2 cannot express eIDAS
      encryption (its templates are 3DES-CBC + RSA only, and no ECDH-ES), so python-xmlsec
      (libxmlsec1, through oracle.py's helpers) signs the assertion with SIG_URI, encrypts it
      (AES-256-GCM with RSA-OAEP SHA-256/MGF1-SHA-256 or ECDH-ES + ConcatKDF + kw-aes256) into a
      saml:EncryptedAssertion, and signs the Response. Prints JSON: the request ID pysaml2 read,
      the ACS URL it answers to, the assertion ID.

Exit codes: 0 ok; 1 pysaml2 or libxmlsec1 refused (reason on stderr); 2 usage error.
"""

import argparse
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import oracle  # noqa: E402  (python-xmlsec helpers; sets up OpenSSL paths first)
import pysaml2_connector as common  # noqa: E402  (pysaml2 patches and logging setup)

from lxml import etree  # noqa: E402
from saml2 import BINDING_HTTP_POST  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID  # noqa: E402
from saml2.server import Server  # noqa: E402

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def idp_config(a):
    return IdPConfig().load({
        "entityid": a.entity_id,
        "name": "pysaml2 interop Proxy-Service",
        "xmlsec_binary": common.SHIM,
        "key_file": a.key,
        "cert_file": a.cert,
        "metadata": {"local": [a.sp_metadata]},
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(a.sso, BINDING_HTTP_POST)]},
            "want_authn_requests_signed": True,
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {
                "name_form": common.ATTRNAME_URI,
                "entity_categories": [],
                "lifetime": {"minutes": 5},
            }},
        }},
    })


def respond(a):
    common.patch_sig_allowed_alg()
    idp = Server(config=idp_config(a))
    saml_request = open(a.request).read().strip()
    try:
        req = idp.parse_authn_request(saml_request, BINDING_HTTP_POST)
    except Exception as e:  # noqa: BLE001  (pysaml2 raises many kinds)
        raise common.Refused("pysaml2 refused the AuthnRequest: " + common.describe(e))
    if req is None or req.message is None:
        raise common.Refused("pysaml2 could not read the AuthnRequest")
    args = idp.response_args(req.message, [BINDING_HTTP_POST])
    pid = a.person_id
    identity = {
        common.NATURAL + "PersonIdentifier": [pid],
        common.NATURAL + "CurrentFamilyName": ["Ní Bhriain"],
        common.NATURAL + "CurrentGivenName": ["Aoife"],
        common.NATURAL + "DateOfBirth": ["1988-02-29"],
    }
    resp = idp.create_authn_response(
        identity,
        userid=pid,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=pid),
        authn={"class_ref": a.loa},
        sign_response=False,
        sign_assertion=False,
        encrypt_assertion=False,
        **args,
    )
    tree = etree.ElementTree(etree.fromstring(str(resp).encode()))
    root = tree.getroot()
    assertion = root.find(f"{{{NS_SAML}}}Assertion")
    if assertion is None:
        raise common.Refused("pysaml2 made no assertion")
    aid = assertion.get("ID")
    key = oracle.xmlsec_key(a.key, oracle.PEM, cert=a.cert)
    # 1. The assertion, signed by libxmlsec1.
    oracle.xmlsec_sign_tree(tree, aid, a.alg, SHA256, key)
    # 2. Encrypted in place (EncryptedData replaces it), then wrapped in saml:EncryptedAssertion.
    enc = oracle.Encryptor(a.enc_cert, a.enc_mode, "aes256-gcm")
    enc.encrypt_tree(tree, aid)
    ed = root.find("{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    wrapper = etree.Element(f"{{{NS_SAML}}}EncryptedAssertion")
    ed.addprevious(wrapper)
    wrapper.append(ed)
    # 3. The Response, signed by libxmlsec1.
    oracle.xmlsec_sign_tree(tree, root.get("ID"), a.alg, SHA256, key)
    with open(a.out, "wb") as f:
        f.write(etree.tostring(root))
    print(json.dumps({
        "request_id": req.message.id,
        "acs": args.get("destination"),
        "assertion_id": aid,
        "sp": args.get("sp_entity_id"),
    }))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("respond")
    for name in ["sp-metadata", "request", "key", "cert", "enc-cert"]:
        r.add_argument("--" + name, required=True, type=lambda v, n=name: common.readable(v, n))
    for name in ["alg", "entity-id", "sso", "person-id", "loa", "out"]:
        r.add_argument("--" + name, required=True)
    r.add_argument("--enc-mode", required=True, choices=["rsa-oaep-sha256", "ecdh-es"])
    try:
        a = p.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        respond(a)
    except (common.Refused, oracle.Failure) as e:
        print(str(e), file=sys.stderr)
        return 1
    except oracle.Usage as e:
        print(str(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
