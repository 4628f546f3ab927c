#!/usr/bin/env python3
"""XML-Security test oracle for the eidas-node interop tests.

This is a *test oracle*: the Rust integration tests run it as a subprocess to produce and check
XML signatures, XML encryption and canonicalisation with independent, well-known implementations.
It is never used by the node itself.

  * python-xmlsec 1.3.17 (wheel with libxmlsec1 1.3.9 + OpenSSL statically bundled): xmlsec-* commands, bench
  * signxml 5.2.0 (pure Python on lxml + cryptography): signxml-* commands
  * lxml 6.1.3 (libxml2 2.14.6): c14n

Run as  .venv/bin/python tests/interop/oracle.py <command> [options]  (scripts/setup-test-env.sh makes .venv).

Exit codes: 0 success; 1 verification / decryption (or other crypto) failure, reason on stderr;
2 usage error (bad options, unreadable file, no element with that ID, key type does not fit the mode);
3 internal error of the oracle itself (a bug: never to be taken as "signature rejected").

Keys: unencrypted PKCS#8 PEM private keys, PEM certificates, PEM SubjectPublicKeyInfo public keys.
SAML ID attributes: "ID", "Id" and "id" are registered as XML IDs before every sign/verify/decrypt.
"""

import argparse
import base64
import ctypes
import json
import os
import sys
import time

# Every xmlsec.KeysManager() makes libxmlsec1 build an X509 store with OpenSSL's default paths, which parses
# the whole system CA bundle (~8 ms per manager, i.e. per message). The oracle never trusts system CAs, so
# point OpenSSL at nothing: set before libxmlsec1/OpenSSL are loaded.
os.environ["SSL_CERT_FILE"] = os.devnull
os.environ["SSL_CERT_DIR"] = os.devnull

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

# --------------------------------------------------------------------------------------------------
# constants

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_DSIG11 = "http://www.w3.org/2009/xmldsig11#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NSMAP = {"ds": NS_DS, "dsig11": NS_DSIG11, "xenc": NS_XENC, "xenc11": NS_XENC11}

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ID_ATTRS = ["ID", "Id", "id"]

PEM = xmlsec.constants.KeyDataFormatPem
CERT_PEM = xmlsec.constants.KeyDataFormatCertPem

DATA_ALGS = {
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", 128),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", 256),
}
ENC_MODES = ["rsa-oaep-sha256", "rsa-oaep-mgf1p", "ecdh-es"]

# Enveloped signature template. Written as XML text, so any SignatureMethod URI that libxmlsec1 1.3.9
# knows works (RSASSA-PSS, ECDSA, ...) although python-xmlsec has no constants for them.
SIG_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="{c14n}"/>'
    '<ds:SignatureMethod Algorithm="{alg}"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/>'
    '</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference>'
    '</ds:SignedInfo><ds:SignatureValue/>'
    '<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>'
)

ENC_TEMPLATE = (
    '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" '
    'Type="http://www.w3.org/2001/04/xmlenc#Element">'
    '<xenc:EncryptionMethod Algorithm="{data_alg}"/>'
    '<ds:KeyInfo><xenc:EncryptedKey>{key_transport}'
    '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>'
    '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>'
)
# libxmlsec1 fills the empty X509Certificate from the recipient key's certificate.
KT_TEMPLATES = {
    "rsa-oaep-sha256": (
        '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep">'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        '<xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>'
        '<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>'
    ),
    "rsa-oaep-mgf1p": (
        '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p">'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/></xenc:EncryptionMethod>'
        '<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>'
    ),
    # ECDH-ES + ConcatKDF(SHA-256) + kw-aes256. libxmlsec1 1.3.9 accepts AlgorithmID/PartyUInfo/PartyVInfo
    # "0000": it drops the leading "padding bits" octet of each hexBinary value, so OtherInfo = 00 00 00.
    # libxmlsec1 writes the ephemeral public key into the empty ds:KeyValue (needs KeyValue enabled,
    # see enable_keyvalue) and the recipient certificate into the empty X509Certificate.
    "ecdh-es": (
        '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#kw-aes256"/>'
        '<ds:KeyInfo><xenc:AgreementMethod Algorithm="http://www.w3.org/2009/xmlenc11#ECDH-ES">'
        '<xenc11:KeyDerivationMethod Algorithm="http://www.w3.org/2009/xmlenc11#ConcatKDF">'
        '<xenc11:ConcatKDFParams AlgorithmID="0000" PartyUInfo="0000" PartyVInfo="0000">'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/></xenc11:ConcatKDFParams>'
        '</xenc11:KeyDerivationMethod>'
        '<xenc:OriginatorKeyInfo><ds:KeyValue/></xenc:OriginatorKeyInfo>'
        '<xenc:RecipientKeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></xenc:RecipientKeyInfo>'
        '</xenc:AgreementMethod></ds:KeyInfo>'
    ),
}


class Usage(Exception):
    """Bad invocation or input that does not fit the command: exit 2."""


class Failure(Exception):
    """Verification / decryption / crypto failure: exit 1."""


# --------------------------------------------------------------------------------------------------
# helpers

def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Usage(f"cannot read {path}: {e.strerror}")


def write_out(path, data):
    with open(path, "wb") as f:
        f.write(data)


def parse_xml(data, what="input"):
    """Parse bytes into an lxml tree (internal entities resolved, no network)."""
    try:
        root = etree.fromstring(data, etree.XMLParser(no_network=True, remove_blank_text=False))
    except etree.XMLSyntaxError as e:
        raise Failure(f"{what} is not well-formed XML: {e}")
    return root.getroottree()


def find_by_id(tree, id_value):
    hits = tree.xpath("//*[@ID=$i or @Id=$i or @id=$i]", i=id_value)
    if not hits:
        raise Usage(f"no element with ID/Id/id={id_value!r}")
    if len(hits) > 1:
        raise Usage(f"{len(hits)} elements carry ID {id_value!r}")
    return hits[0]


def register_ids(tree):
    xmlsec.tree.add_ids(tree.getroot(), ID_ATTRS)


def load_cert_obj(path):
    try:
        return x509.load_pem_x509_certificate(read_bytes(path))
    except ValueError as e:
        raise Usage(f"{path}: not a PEM certificate ({e})")


def xmlsec_key(path, fmt, cert=None, what="key"):
    try:
        key = xmlsec.Key.from_file(path, fmt)
        if cert:
            key.load_cert_from_file(cert, PEM)
    except xmlsec.Error as e:
        raise Usage(f"cannot load {what} {path}{' / ' + cert if cert else ''}: {e}")
    return key


def enable_keyvalue():
    """Re-enable <ds:KeyValue> key data in libxmlsec1 (process-global).

    libxmlsec1 >= 1.3 registers KeyValue as disabled by default; ECDH-ES needs it both to write and to read
    OriginatorKeyInfo/ds:KeyValue/dsig11:ECKeyValue. python-xmlsec has no API for this on EncryptionContext,
    but the wheel exports the C symbols, so add the KeyValue klass to the enabled list via ctypes.
    """
    so = ctypes.CDLL(xmlsec.__file__)
    so.xmlSecKeyDataIdsGetEnabled.restype = ctypes.c_void_p
    so.xmlSecKeyDataValueGetKlass.restype = ctypes.c_void_p
    so.xmlSecKeyDataIdListFind.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    so.xmlSecPtrListAdd.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lst, kv = so.xmlSecKeyDataIdsGetEnabled(), so.xmlSecKeyDataValueGetKlass()
    if so.xmlSecKeyDataIdListFind(lst, kv) != 1 and so.xmlSecPtrListAdd(lst, kv) != 0:
        raise RuntimeError("could not enable KeyValue key data in libxmlsec1")


def libxmlsec_version():
    return "%d.%d.%d" % xmlsec.get_libxmlsec_version()


def b64_text(el):
    return base64.b64decode("".join((el.text or "").split()))


# --------------------------------------------------------------------------------------------------
# python-xmlsec signatures

def insert_sig_template(el, id_value, alg, digest):
    """Put an enveloped ds:Signature template into el: after a leading saml:Issuer, else first."""
    sig = etree.fromstring(SIG_TEMPLATE.format(c14n=EXC_C14N, env=ENVELOPED, alg=alg, digest=digest, id=id_value))
    pos = 1 if len(el) and el[0].tag == f"{{{NS_SAML}}}Issuer" else 0
    el.insert(pos, sig)
    return el[pos]


def xmlsec_sign_tree(tree, id_value, alg, digest, key):
    el = find_by_id(tree, id_value)
    sig = insert_sig_template(el, id_value, alg, digest)
    register_ids(tree)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    try:
        ctx.sign(sig)
    except xmlsec.Error as e:
        raise Failure(f"libxmlsec1 sign failed ({alg}): {e}")


def direct_signature(tree, id_value):
    """The ds:Signature that is a direct child of the element with that ID; its single Reference must
    point at that element."""
    el = find_by_id(tree, id_value)
    sigs = el.findall(f"{{{NS_DS}}}Signature")
    if len(sigs) != 1:
        raise Failure(f"element {id_value!r} has {len(sigs)} ds:Signature children (want 1)")
    refs = sigs[0].findall(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference")
    if len(refs) != 1 or refs[0].get("URI") != "#" + id_value:
        uris = [r.get("URI") for r in refs]
        raise Failure(f"signature references {uris}, want exactly ['#{id_value}']")
    return sigs[0]


def xmlsec_verify_tree(tree, id_value, key):
    sig = direct_signature(tree, id_value)
    register_ids(tree)
    ctx = xmlsec.SignatureContext()
    # With ctx.key set, libxmlsec1 does not consult the message's KeyInfo at all.
    ctx.key = key
    try:
        ctx.verify(sig)
    except xmlsec.Error as e:
        raise Failure(f"libxmlsec1 verification failed: {e}")


def cmd_xmlsec_sign(a):
    key = xmlsec_key(a.key, PEM, cert=a.cert)
    tree = parse_xml(read_bytes(a.input))
    xmlsec_sign_tree(tree, a.id, a.alg, a.digest, key)
    write_out(a.out, etree.tostring(tree.getroot()))


def verify_key_from_args(a):
    if bool(a.cert) == bool(a.pubkey):
        raise Usage("give exactly one of --cert / --pubkey")
    if a.cert:
        return xmlsec_key(a.cert, CERT_PEM, what="certificate")
    return xmlsec_key(a.pubkey, PEM, what="public key")


def cmd_xmlsec_verify(a):
    key = verify_key_from_args(a)
    tree = parse_xml(read_bytes(a.input))
    xmlsec_verify_tree(tree, a.id, key)
    print("OK")


# --------------------------------------------------------------------------------------------------
# signxml signatures

def signxml_method(uri):
    from signxml import SignatureMethod

    try:
        return SignatureMethod(uri)
    except ValueError:
        raise Usage(f"signxml does not know signature method {uri}")


def cmd_signxml_sign(a):
    from signxml import DigestAlgorithm, SignatureConstructionMethod, XMLSigner
    from signxml.exceptions import SignXMLException

    method = signxml_method(a.alg)
    tree = parse_xml(read_bytes(a.input))
    root = tree.getroot()
    if a.id not in [root.get(n) for n in ID_ATTRS]:
        raise Usage(f"signxml-sign signs the root element; the root does not carry ID {a.id!r}")
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm=method,
                       digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=EXC_C14N)
    signer.namespaces = {"ds": NS_DS}
    try:
        signed = signer.sign(root, key=read_bytes(a.key), cert=read_bytes(a.cert).decode(), reference_uri=a.id)
    except (SignXMLException, ValueError) as e:
        raise Failure(f"signxml sign failed: {e}")
    write_out(a.out, etree.tostring(signed))


def cmd_signxml_verify(a):
    from signxml import DigestAlgorithm, XMLVerifier
    from signxml.exceptions import SignXMLException
    from signxml.verifier import SignatureConfiguration

    method = signxml_method(a.alg)
    cert_pem = read_bytes(a.cert).decode()
    load_cert_obj(a.cert)
    data = read_bytes(a.input)
    location = ".//"
    if a.id:  # pick the signature that is a direct child of that element
        el = find_by_id(parse_xml(data), a.id)
        attr = next(n for n in ID_ATTRS if el.get(n) == a.id)
        location = f".//*[@{attr}='{a.id}']/" if el.getparent() is not None else "./"
    cfg = SignatureConfiguration(
        signature_methods=frozenset([method]),
        digest_algorithms=frozenset([DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512]),
        location=location,
    )
    try:
        res = XMLVerifier().verify(data, x509_cert=cert_pem, expect_config=cfg)
    except (SignXMLException, ValueError, etree.XMLSyntaxError) as e:
        raise Failure(f"signxml verification failed: {type(e).__name__}: {e}")
    if a.id and a.id not in [res.signed_xml.get(n) for n in ID_ATTRS]:
        raise Failure(f"signature does not cover the element with ID {a.id!r}")
    print("OK")


# --------------------------------------------------------------------------------------------------
# python-xmlsec encryption

class Encryptor:
    """Holds the recipient key(s), so that bench can encrypt many times without reloading them."""

    def __init__(self, cert_path, mode, data):
        self.cert_path = cert_path
        self.mode = mode
        self.data_alg, self.bits = DATA_ALGS[data]
        cert = load_cert_obj(cert_path)
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        pub = cert.public_key()
        if mode.startswith("rsa-") and not isinstance(pub, rsa.RSAPublicKey):
            raise Usage(f"mode {mode} needs an RSA recipient certificate")
        if mode == "ecdh-es" and not isinstance(pub, ec.EllipticCurvePublicKey):
            raise Usage("mode ecdh-es needs an EC recipient certificate")
        self.curve = pub.curve if mode == "ecdh-es" else None
        # Recipient public key with its certificate attached (CertPem load keeps the cert in the key),
        # so libxmlsec1 can fill ds:X509Certificate.
        self.recipient = xmlsec_key(cert_path, CERT_PEM, what="certificate")
        self.template = ENC_TEMPLATE.format(data_alg=self.data_alg, key_transport=KT_TEMPLATES[mode])
        if mode == "ecdh-es":
            enable_keyvalue()

    def encrypt_tree(self, tree, id_value):
        """Encrypt the element with that ID in place; returns the document's root element afterwards."""
        node = find_by_id(tree, id_value)
        was_root = node.getparent() is None
        mngr = xmlsec.KeysManager()
        # Key lookup in libxmlsec1's simple keys store is "first key that fits": RecipientKeyInfo asks for a
        # public EC key, OriginatorKeyInfo for a private one. Adding the recipient (public only) FIRST makes the
        # recipient lookup hit it and the originator lookup skip it and take the ephemeral private key.
        # Checked after encryption (check_ecdh) so a wrong pick can never pass silently.
        mngr.add_key(self.recipient)
        eph_point = None
        if self.mode == "ecdh-es":
            eph = ec.generate_private_key(self.curve)
            eph_pem = eph.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            mngr.add_key(xmlsec.Key.from_memory(eph_pem, PEM))
            eph_point = eph.public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
        ctx = xmlsec.EncryptionContext(mngr)
        ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, self.bits, xmlsec.constants.KeyDataTypeSession)
        tmpl = etree.fromstring(self.template)
        try:
            # The node is encrypted in place, inside its own document: EncryptedData replaces it there.
            enc = ctx.encrypt_xml(tmpl, node)
        except xmlsec.Error as e:
            raise Failure(f"libxmlsec1 encrypt failed ({self.mode}): {e}")
        if self.mode == "ecdh-es":
            self.check_ecdh(enc, eph_point)
        # lxml's tree object still points at the old root if the root itself was encrypted
        return enc if was_root else tree.getroot()

    def check_ecdh(self, enc, eph_point):
        am = enc.find(".//xenc:AgreementMethod", NSMAP)
        pk = am.find("xenc:OriginatorKeyInfo/ds:KeyValue/dsig11:ECKeyValue/dsig11:PublicKey", NSMAP)
        rc = am.find("xenc:RecipientKeyInfo/ds:X509Data/ds:X509Certificate", NSMAP)
        if pk is None or b64_text(pk) != eph_point:
            raise RuntimeError("libxmlsec1 did not use the ephemeral key as ECDH-ES originator")
        if rc is None or b64_text(rc) != self.cert_der:
            raise RuntimeError("libxmlsec1 did not use the recipient certificate's key in ECDH-ES")


def cmd_xmlsec_encrypt(a):
    enc = Encryptor(a.cert, a.mode, a.data)
    tree = parse_xml(read_bytes(a.input))
    write_out(a.out, etree.tostring(enc.encrypt_tree(tree, a.id)))


class Decryptor:
    """Decrypts with only the given private key.

    What works with libxmlsec1 1.3.9: a KeysManager holding just that one key (cert attached if given; no
    KeyName needed). When the message's ds:KeyInfo names a key (KeyName) or carries an X509Certificate that
    libxmlsec1 cannot resolve/verify, the lookup falls back to the manager's only key ("first key that fits"),
    for RSA EncryptedKey and for the ECDH-ES RecipientKeyInfo alike. The ECDH-ES originator public key is read
    from the message's OriginatorKeyInfo/ds:KeyValue/dsig11:ECKeyValue, which needs KeyValue enabled.
    """

    def __init__(self, key_path, cert_path=None):
        enable_keyvalue()
        self.key = xmlsec_key(key_path, PEM, cert=cert_path)

    def decrypt_tree(self, tree):
        """Decrypt the first EncryptedData in place; returns the document's root element afterwards."""
        ed = next(tree.getroot().iter(f"{{{NS_XENC}}}EncryptedData"), None)
        if ed is None:
            raise Failure("no xenc:EncryptedData in the document")
        register_ids(tree)
        mngr = xmlsec.KeysManager()
        mngr.add_key(self.key)
        ctx = xmlsec.EncryptionContext(mngr)
        ki = ed.find("ds:KeyInfo", NSMAP)
        inline = ki is not None and any(
            ki.find(p, NSMAP) is not None
            for p in ("xenc:EncryptedKey", "xenc:AgreementMethod", "ds:RetrievalMethod"))
        try:
            if not inline:
                # SAML style: xenc:EncryptedKey as a sibling of EncryptedData (in saml:EncryptedAssertion)
                # without a reference. Unwrap it with libxmlsec1, then decrypt the data with that key.
                eks = ed.getparent().findall("xenc:EncryptedKey", NSMAP) if ed.getparent() is not None else []
                if len(eks) != 1:
                    raise Failure("EncryptedData has no key (no EncryptedKey/AgreementMethod in KeyInfo, "
                                  f"{len(eks)} sibling EncryptedKey elements)")
                raw = ctx.decrypt(eks[0])
                ctx = xmlsec.EncryptionContext(mngr)
                ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, raw)
            was_root = ed.getparent() is None
            res = ctx.decrypt(ed)
        except xmlsec.Error as e:
            raise Failure(f"libxmlsec1 decrypt failed: {e}")
        if was_root and not isinstance(res, etree._Element):
            raise Failure("decrypted root EncryptedData is not an element")
        return res if was_root else tree.getroot()


def cmd_xmlsec_decrypt(a):
    dec = Decryptor(a.key, a.cert)
    tree = parse_xml(read_bytes(a.input))
    write_out(a.out, etree.tostring(dec.decrypt_tree(tree)))


# --------------------------------------------------------------------------------------------------
# canonicalisation

def libxml2_c14n(data, exclusive, with_comments, prefixes):
    """C14N by libxml2 itself (xmlReadMemory + xmlC14NDocDumpMemory from the libxml2 2.14.6 that the xmlsec
    wheel bundles and exports, the same version lxml uses). Only needed for "#default" in the InclusiveNamespaces
    PrefixList: lxml passes a prefix to libxml2 only if that string already is in the document's name
    dictionary, so it silently drops "#default"."""
    so = ctypes.CDLL(xmlsec.__file__)
    so.xmlReadMemory.restype = ctypes.c_void_p
    so.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    so.xmlC14NDocDumpMemory.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_void_p)]
    so.xmlFreeDoc.argtypes = [ctypes.c_void_p]
    xml_parse_noent, xml_parse_nonet = 1 << 1, 1 << 11
    doc = so.xmlReadMemory(data, len(data), None, None, xml_parse_noent | xml_parse_nonet)
    if not doc:
        raise Failure("input is not well-formed XML (libxml2)")
    try:
        arr = (ctypes.c_char_p * (len(prefixes) + 1))(*[p.encode() for p in prefixes], None)
        buf = ctypes.c_void_p()
        n = so.xmlC14NDocDumpMemory(doc, None, 1 if exclusive else 0, arr, 1 if with_comments else 0,
                                    ctypes.byref(buf))
        if n < 0:
            raise Failure("libxml2 c14n failed")
        out = ctypes.string_at(buf, n)
        ctypes.CFUNCTYPE(None, ctypes.c_void_p)(ctypes.c_void_p.in_dll(so, "xmlFree").value)(buf)
        return out
    finally:
        so.xmlFreeDoc(doc)


def cmd_c14n(a):
    data = read_bytes(a.input)
    prefixes = a.prefixes.split() if a.prefixes else None
    if prefixes and not a.exclusive:
        raise Usage("--prefixes only applies to --exclusive")
    if prefixes and ("#default" in prefixes):
        out = libxml2_c14n(data, a.exclusive, a.with_comments, prefixes)
    else:
        out = etree.tostring(parse_xml(data), method="c14n", exclusive=a.exclusive,
                             with_comments=a.with_comments, inclusive_ns_prefixes=prefixes)
    write_out(a.out, out)


# --------------------------------------------------------------------------------------------------
# benchmark

def cmd_bench(a):
    data = read_bytes(a.input)
    need = {"sign": ["key", "cert", "alg", "id"], "verify": ["cert", "id"], "encrypt": ["cert", "id"],
            "decrypt": ["key"], "c14n": []}[a.op]
    missing = [n for n in need if not getattr(a, n)]
    if missing:
        raise Usage(f"bench --op {a.op} needs " + ", ".join("--" + n for n in missing))
    if a.iterations < 1:
        raise Usage("--iterations must be >= 1")

    # Keys are loaded once, outside the timed loop. Every iteration parses the input document.
    if a.op == "sign":
        key = xmlsec_key(a.key, PEM, cert=a.cert)

        def once():
            tree = parse_xml(data)
            xmlsec_sign_tree(tree, a.id, a.alg, a.digest, key)
            return etree.tostring(tree.getroot())
    elif a.op == "verify":
        key = xmlsec_key(a.cert, CERT_PEM, what="certificate")

        def once():
            xmlsec_verify_tree(parse_xml(data), a.id, key)
    elif a.op == "encrypt":
        pub = load_cert_obj(a.cert).public_key()
        enc = Encryptor(a.cert, "rsa-oaep-sha256" if isinstance(pub, rsa.RSAPublicKey) else "ecdh-es", a.data)

        def once():  # includes session key (and, for ECDH-ES, ephemeral EC key) generation
            return etree.tostring(enc.encrypt_tree(parse_xml(data), a.id))
    elif a.op == "decrypt":
        dec = Decryptor(a.key, a.cert)

        def once():
            return etree.tostring(dec.decrypt_tree(parse_xml(data)))
    else:
        def once():
            return etree.tostring(parse_xml(data), method="c14n", exclusive=True)

    once()  # untimed warm-up; also proves the operation works on this input
    t0 = time.perf_counter()
    for _ in range(a.iterations):
        once()
    secs = time.perf_counter() - t0
    print(json.dumps({"op": a.op, "iterations": a.iterations, "seconds": round(secs, 6),
                      "per_second": round(a.iterations / secs, 2) if secs > 0 else None,
                      "libxmlsec": libxmlsec_version()}, separators=(",", ":")))


def cmd_genkey(a):
    """A key and self-signed certificate made by pyca/cryptography, for curves our own generator
    does not make (Brainpool: German nodes sign with it; we only verify)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    curves = {"brainpoolP256r1": ec.BrainpoolP256R1, "brainpoolP384r1": ec.BrainpoolP384R1,
              "P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
    if a.curve not in curves:
        raise Usage(f"--curve must be one of {', '.join(curves)}")
    key = ec.generate_private_key(curves[a.curve]())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"oracle {a.curve}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    with open(a.out_key, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(a.out_cert, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


# --------------------------------------------------------------------------------------------------
# command line

def build_parser():
    p = argparse.ArgumentParser(prog="oracle.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name, func, help_):
        sp = sub.add_parser(name, help=help_)
        sp.set_defaults(func=func)
        return sp

    s = cmd("xmlsec-sign", cmd_xmlsec_sign, "enveloped signature with libxmlsec1 (python-xmlsec)")
    s.add_argument("--key", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--alg", required=True, help="SignatureMethod URI")
    s.add_argument("--digest", default=SHA256, help="DigestMethod URI (default %(default)s)")
    s.add_argument("--id", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("input")

    s = cmd("xmlsec-verify", cmd_xmlsec_verify, "verify with libxmlsec1 using only the given key")
    s.add_argument("--cert")
    s.add_argument("--pubkey")
    s.add_argument("--id", required=True)
    s.add_argument("input")

    s = cmd("signxml-sign", cmd_signxml_sign, "enveloped signature of the root element with signxml")
    s.add_argument("--key", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--alg", required=True)
    s.add_argument("--id", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("input")

    s = cmd("signxml-verify", cmd_signxml_verify, "verify with signxml, trusting only --cert")
    s.add_argument("--cert", required=True)
    s.add_argument("--alg", required=True)
    s.add_argument("--id", help="optional: verify the signature that is a direct child of this element "
                                "(default: first ds:Signature in document order)")
    s.add_argument("input")

    s = cmd("xmlsec-encrypt", cmd_xmlsec_encrypt, "encrypt an element in place with libxmlsec1")
    s.add_argument("--cert", required=True)
    s.add_argument("--mode", required=True, choices=ENC_MODES)
    s.add_argument("--data", default="aes256-gcm", choices=sorted(DATA_ALGS))
    s.add_argument("--id", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("input")

    s = cmd("xmlsec-decrypt", cmd_xmlsec_decrypt, "decrypt the first xenc:EncryptedData with libxmlsec1")
    s.add_argument("--key", required=True)
    s.add_argument("--cert")
    s.add_argument("--out", required=True)
    s.add_argument("input")

    s = cmd("c14n", cmd_c14n, "canonicalise the whole document with lxml/libxml2")
    s.add_argument("--exclusive", action="store_true")
    s.add_argument("--with-comments", action="store_true")
    s.add_argument("--prefixes", help='InclusiveNamespaces PrefixList, e.g. "a b #default"')
    s.add_argument("--out", required=True)
    s.add_argument("input")

    s = cmd("genkey", cmd_genkey, "EC key + self-signed certificate with pyca/cryptography")
    s.add_argument("--curve", required=True)
    s.add_argument("--out-key", required=True)
    s.add_argument("--out-cert", required=True)

    s = cmd("bench", cmd_bench, "time N python-xmlsec operations; prints one JSON line")
    s.add_argument("--op", required=True, choices=["sign", "verify", "encrypt", "decrypt", "c14n"])
    s.add_argument("--key")
    s.add_argument("--cert")
    s.add_argument("--alg")
    s.add_argument("--digest", default=SHA256)
    s.add_argument("--data", default="aes256-gcm", choices=sorted(DATA_ALGS))
    s.add_argument("--id")
    s.add_argument("--iterations", type=int, required=True)
    s.add_argument("input")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)  # exits 2 on usage errors
    try:
        args.func(args)
    except Usage as e:
        print(f"oracle {args.command}: usage: {e}", file=sys.stderr)
        return 2
    except Failure as e:
        print(f"oracle {args.command}: FAILED: {e}", file=sys.stderr)
        return 1
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"oracle {args.command}: internal error", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
