"""xmlsec1 command-line look-alike on python-xmlsec, for pysaml2 (test use only).

pysaml2 7.5.5 does all XML crypto by running the `xmlsec1` program. Debian's xmlsec1 1.2.37 has no
RSASSA-PSS, no xmlenc11#rsa-oaep and no ECDH-ES, so the interop tests point pysaml2's
`xmlsec_binary` at tests/interop/xmlsec1-shim (a sh wrapper that runs this file with the test venv).
It implements the xmlsec1 invocations pysaml2's CryptoBackendXmlSec1 makes, on the libxmlsec1 1.3.9
that the python-xmlsec 1.3.17 wheel bundles:

  --version                       "xmlsec1 1.3.9 (openssl)" (pysaml2 then adds --lax-key-search
                                  and expects the 1.3 "Verification status: ..." lines)
  --list-transforms               the transforms registered in the bundled libxmlsec1
  --sign    --privkey-pem K[,C..] [--id-attr[:A] NODE]... [--node-id ID] --output OUT FILE
  --verify  --pubkey-cert-pem C | --pubkey-cert-der C | --pubkey-pem P
            [--enabled-reference-uris empty,same-doc,...] [--enabled-key-data ...]
            [--id-attr[:A] NODE]... [--node-id ID] FILE
            prints "Verification status: OK" (exit 0) or "Verification status: FAILED" (exit 1)
            on stderr
  --encrypt --pubkey-cert-pem C --session-key aes-256|aes-128|aes-192|des-192 --xml-data DATA
            [--node-xpath XP | --node-id ID] --output OUT TEMPLATE
  --decrypt --privkey-pem K[,C..] [--id-attr[:A] NODE]... --output OUT FILE

Differences from xmlsec1, all on the strict side:
  * XML is parsed without DTD loading, entity expansion or network access.
  * An ID value carried by two elements is an error (xmlsec1: "duplicate ID attribute").
  * python-xmlsec registers ID attribute *names* document-wide; a same-document Reference is
    allowed only to an ID that xmlsec1 would have registered (the --id-attr attribute on a node
    of that name, or xmldsig's Id), so e.g. an EntitiesDescriptor check does not pass on an
    EntityDescriptor's signature.
  * --node-id: the ds:Signature must be a direct child of that element (xmlsec1 takes the first
    ds:Signature at or below it, which may be a nested assertion's).
  * --verify uses only the key given on the command line, never one from the message's KeyInfo.
  * An unknown option is a usage error (exit 2) instead of being guessed at.

ECDH-ES: libxmlsec1 >= 1.3 registers <ds:KeyValue> key data as disabled, but ECDH-ES needs it to
read (decrypt) and write (encrypt) OriginatorKeyInfo/ds:KeyValue/dsig11:ECKeyValue. python-xmlsec
has no API for that on EncryptionContext, so enable_keyvalue() adds it to libxmlsec1's global list
through ctypes (the wheel exports the C symbols), as tests/interop/oracle.py does.

Exit codes: 0 ok; 1 crypto failure (signature invalid, decryption failed, ...); 2 usage error.
"""

import ctypes
import os
import sys

# Every xmlsec.KeysManager() makes libxmlsec1 build an X509 store from OpenSSL's default paths
# (~8 ms for the system CA bundle). Nothing here trusts system CAs; set before OpenSSL loads.
os.environ["SSL_CERT_FILE"] = os.devnull
os.environ["SSL_CERT_DIR"] = os.devnull

import xmlsec  # noqa: E402
from lxml import etree  # noqa: E402

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS = {"ds": NS_DS, "xenc": NS_XENC}

PEM = xmlsec.constants.KeyDataFormatPem
DER = xmlsec.constants.KeyDataFormatDer
CERT_PEM = xmlsec.constants.KeyDataFormatCertPem
CERT_DER = xmlsec.constants.KeyDataFormatCertDer

COMMANDS = {"sign", "verify", "encrypt", "decrypt", "version", "list-transforms"}
# Options that take a value, and the flags (no value) that are accepted and have no effect here.
VALUE_OPTS = {
    "--privkey-pem", "--privkey-der", "--pubkey-pem", "--pubkey-der", "--pubkey-cert-pem",
    "--pubkey-cert-der", "--output", "--node-id", "--node-name", "--node-xpath", "--xml-data",
    "--session-key", "--enabled-reference-uris", "--enabled-key-data", "--trusted-pem",
    "--untrusted-pem", "--crypto", "--crypto-config", "--verification-time", "--depth",
    "--enabled-retrieval-method-uris", "--keys-file",
}
FLAGS = {"--lax-key-search", "--insecure", "--store-references", "--store-signatures",
         "--print-debug", "--print-xml-debug", "--disable-error-msgs", "--verbose", "--X509-skip-strict-checks"}
SESSION_KEYS = {"aes-128": (xmlsec.constants.KeyDataAes, 128), "aes-192": (xmlsec.constants.KeyDataAes, 192),
                "aes-256": (xmlsec.constants.KeyDataAes, 256), "des-192": (xmlsec.constants.KeyDataDes, 192)}


class Usage(Exception):
    pass


class Failure(Exception):
    pass


def parse_args(argv):
    """xmlsec1 syntax: COMMAND [OPTIONS] FILE...; the command may be written with or without '--'."""
    if not argv:
        raise Usage("no command")
    cmd = argv[0][2:] if argv[0].startswith("--") else argv[0]
    if cmd not in COMMANDS:
        raise Usage(f"unknown command {argv[0]!r}")
    opts, id_attrs, files, i = {}, [], [], 1
    while i < len(argv):
        a = argv[i]
        if a in FLAGS:
            opts[a] = True
            i += 1
        elif a == "--id-attr" or a.startswith("--id-attr:"):
            if i + 1 >= len(argv):
                raise Usage(f"{a} needs a node name")
            attr = a.split(":", 1)[1] if ":" in a else "id"
            id_attrs.append((attr, argv[i + 1]))
            i += 2
        elif a in VALUE_OPTS:
            if i + 1 >= len(argv):
                raise Usage(f"{a} needs a value")
            opts[a] = argv[i + 1]
            i += 2
        elif a.startswith("--"):
            raise Usage(f"unsupported option {a!r}")
        else:
            files.append(a)
            i += 1
    return cmd, opts, id_attrs, files


# --------------------------------------------------------------------------------------------------
# libxmlsec1 internals reached through ctypes

def _lib():
    return ctypes.CDLL(xmlsec.__file__)


def enable_keyvalue():
    so = _lib()
    so.xmlSecKeyDataIdsGetEnabled.restype = ctypes.c_void_p
    so.xmlSecKeyDataValueGetKlass.restype = ctypes.c_void_p
    so.xmlSecKeyDataIdListFind.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    so.xmlSecPtrListAdd.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lst, kv = so.xmlSecKeyDataIdsGetEnabled(), so.xmlSecKeyDataValueGetKlass()
    if so.xmlSecKeyDataIdListFind(lst, kv) != 1 and so.xmlSecPtrListAdd(lst, kv) != 0:
        raise RuntimeError("could not enable KeyValue key data in libxmlsec1")


def transform_names():
    """Names of the transforms registered in the bundled libxmlsec1 (xmlSecTransformKlass starts
    with two xmlSecSize = size_t fields, then the name)."""
    so = _lib()
    so.xmlSecTransformIdsGet.restype = ctypes.c_void_p
    so.xmlSecPtrListGetSize.restype = ctypes.c_size_t
    so.xmlSecPtrListGetSize.argtypes = [ctypes.c_void_p]
    so.xmlSecPtrListGetItem.restype = ctypes.c_void_p
    so.xmlSecPtrListGetItem.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lst = so.xmlSecTransformIdsGet()
    names = []
    for i in range(so.xmlSecPtrListGetSize(lst)):
        klass = so.xmlSecPtrListGetItem(lst, i)
        name_ptr = ctypes.c_void_p.from_address(klass + 2 * ctypes.sizeof(ctypes.c_size_t)).value
        name = ctypes.cast(name_ptr, ctypes.c_char_p).value.decode()
        if name not in names:
            names.append(name)
    return names


# --------------------------------------------------------------------------------------------------
# documents, IDs, keys

def parse_file(path):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_blank_text=False)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Usage(f"cannot read {path}: {e.strerror}")
    try:
        return etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as e:
        raise Failure(f"{path}: not well-formed XML: {e}")


def split_node_name(spec):
    """'[ns-uri:]local' as xmlsec1 reads --id-attr's node name: the namespace is what precedes the
    last ':' (a SAML name like urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest)."""
    if ":" in spec:
        ns, local = spec.rsplit(":", 1)
        return ns, local
    return None, spec


def register_ids(tree, id_attrs):
    """Register the --id-attr attributes (and xmldsig's default 'Id') as XML IDs.

    libxmlsec1 resolves Reference URIs through these IDs. An ID value carried by two elements is
    refused outright. Returns ID value -> element for the elements xmlsec1 itself would register
    (the attribute on a node of the given name), which is where --node-id looks.
    """
    names = sorted({attr for attr, _ in id_attrs} | {"Id"})
    nodes = [(attr, split_node_name(node)) for attr, node in id_attrs]
    seen, lookup = {}, {}
    for el in tree.getroot().iter(etree.Element):
        q = etree.QName(el)
        for attr in names:
            v = el.get(attr)
            if v is None:
                continue
            if seen.setdefault(v, el) is not el:
                raise Failure(f"duplicate ID attribute {v!r}")
            if attr == "Id" or any(a == attr and local == q.localname and (ns is None or ns == q.namespace)
                                   for a, (ns, local) in nodes):
                lookup[v] = el
    xmlsec.tree.add_ids(tree.getroot(), names)
    return lookup


def element_by_id(ids, value):
    el = ids.get(value)
    if el is None:
        raise Failure(f"failed to find node with id={value!r}")
    return el


def load_key(spec, fmt, what):
    """'key[,cert,...]' as xmlsec1 --privkey-pem takes it: the key file, then certificates."""
    parts = [p for p in spec.split(",") if p]
    if not parts:
        raise Usage(f"empty {what}")
    try:
        key = xmlsec.Key.from_file(parts[0], fmt)
        for c in parts[1:]:
            key.load_cert_from_file(c, PEM)
    except xmlsec.Error as e:
        raise Usage(f"cannot load {what} {spec}: {e}")
    except OSError as e:
        raise Usage(f"cannot read {what} {spec}: {e.strerror}")
    return key


def private_key(opts):
    if "--privkey-pem" in opts:
        return load_key(opts["--privkey-pem"], PEM, "private key")
    if "--privkey-der" in opts:
        return load_key(opts["--privkey-der"], DER, "private key")
    raise Usage("needs --privkey-pem")


def public_key(opts):
    for opt, fmt in (("--pubkey-cert-pem", CERT_PEM), ("--pubkey-cert-der", CERT_DER),
                     ("--pubkey-pem", PEM), ("--pubkey-der", DER)):
        if opt in opts:
            return load_key(opts[opt], fmt, "public key")
    raise Usage("needs --pubkey-cert-pem (or --pubkey-cert-der / --pubkey-pem)")


def write_output(opts, tree_or_bytes):
    data = tree_or_bytes
    if not isinstance(data, bytes):
        data = etree.tostring(data, xml_declaration=True, encoding="UTF-8")
    out = opts.get("--output")
    if out:
        with open(out, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)


def one_file(files):
    if len(files) != 1:
        raise Usage(f"expected one input file, got {len(files)}")
    return files[0]


def check_reference_targets(sig, ids):
    for ref in sig.findall("ds:SignedInfo/ds:Reference", NS):
        uri = ref.get("URI") or ""
        if uri.startswith("#") and not uri.startswith("#xpointer(") and uri[1:] not in ids:
            raise Failure(f"Reference URI {uri!r}: no node of the --id-attr kinds has that ID")


def signature_node(tree, ids, opts):
    if "--node-id" in opts:
        el = element_by_id(ids, opts["--node-id"])
        sigs = el.findall("ds:Signature", NS)
        if len(sigs) != 1:
            raise Failure(f"element with id={opts['--node-id']!r} has {len(sigs)} ds:Signature children")
        return sigs[0]
    if "--node-name" in opts:
        ns, local = split_node_name(opts["--node-name"])
        el = next(tree.getroot().iter("{%s}%s" % (ns, local) if ns else local), None)
        if el is None:
            raise Failure(f"no node {opts['--node-name']}")
        sigs = el.findall("ds:Signature", NS)
        if len(sigs) != 1:
            raise Failure(f"node {opts['--node-name']} has {len(sigs)} ds:Signature children")
        return sigs[0]
    sig = next(tree.getroot().iter(f"{{{NS_DS}}}Signature"), None)
    if sig is None:
        raise Failure("no ds:Signature in the document")
    return sig


# --------------------------------------------------------------------------------------------------
# commands

def cmd_sign(opts, id_attrs, files):
    tree = parse_file(one_file(files))
    ids = register_ids(tree, id_attrs)
    sig = signature_node(tree, ids, opts)
    check_reference_targets(sig, ids)
    ctx = xmlsec.SignatureContext()
    ctx.key = private_key(opts)
    try:
        ctx.sign(sig)
    except xmlsec.Error as e:
        alg = sig.find("ds:SignedInfo/ds:SignatureMethod", NS)
        raise Failure(f"signing failed ({alg.get('Algorithm') if alg is not None else '?'}): {e}")
    write_output(opts, tree)


def check_reference_uris(sig, allowed):
    """--enabled-reference-uris: empty (URI=""), same-doc (URI="#..."), local, remote."""
    for ref in sig.iter(f"{{{NS_DS}}}Reference"):
        uri = ref.get("URI")
        kind = ("empty" if uri == "" else "same-doc" if uri is not None and uri.startswith("#")
                else "none" if uri is None else "remote")
        if kind == "none" and "empty" in allowed:
            continue
        if kind not in allowed:
            raise Failure(f"Reference URI {uri!r} ({kind}) not enabled")


def cmd_verify(opts, id_attrs, files):
    tree = parse_file(one_file(files))
    ids = register_ids(tree, id_attrs)
    sig = signature_node(tree, ids, opts)
    allowed = set(opts.get("--enabled-reference-uris", "empty,same-doc,local,remote").split(","))
    check_reference_uris(sig, allowed)
    check_reference_targets(sig, ids)
    ctx = xmlsec.SignatureContext()
    # With ctx.key set, libxmlsec1 does not read the message's ds:KeyInfo at all, which is stricter
    # than any --enabled-key-data list.
    ctx.key = public_key(opts)
    try:
        ctx.verify(sig)
    except xmlsec.Error as e:
        print(f"signature verification failed: {e}", file=sys.stderr)
        print("Verification status: FAILED", file=sys.stderr)
        return 1
    print("Verification status: OK", file=sys.stderr)
    return 0


def cmd_encrypt(opts, id_attrs, files):
    tmpl_tree = parse_file(one_file(files))
    if "--xml-data" not in opts:
        raise Usage("--encrypt needs --xml-data")
    data = parse_file(opts["--xml-data"])
    ids = register_ids(data, id_attrs)
    if "--node-id" in opts:
        node = element_by_id(ids, opts["--node-id"])
    elif "--node-xpath" in opts:
        hits = data.xpath(opts["--node-xpath"])
        if not hits or not isinstance(hits[0], etree._Element):
            raise Failure(f"--node-xpath {opts['--node-xpath']!r} selects no element")
        node = hits[0]
    else:
        node = data.getroot()
    was_root = node.getparent() is None
    kind, bits = SESSION_KEYS.get(opts.get("--session-key", "aes-256"), (None, None))
    if kind is None:
        raise Usage(f"unsupported --session-key {opts.get('--session-key')!r}")
    recipient = public_key(opts)
    mngr = xmlsec.KeysManager()
    # Key lookup in libxmlsec1's simple keys store is "first key that fits": the recipient (public
    # only) goes first so that an ECDH-ES originator lookup, which needs a private key, skips it.
    mngr.add_key(recipient)
    tmpl = tmpl_tree.getroot()
    if tmpl.find(".//xenc:AgreementMethod", NS) is not None:
        enable_keyvalue()
        mngr.add_key(ephemeral_ec_key(opts))
    ctx = xmlsec.EncryptionContext(mngr)
    ctx.key = xmlsec.Key.generate(kind, bits, xmlsec.constants.KeyDataTypeSession)
    try:
        enc = ctx.encrypt_xml(tmpl, node)
    except xmlsec.Error as e:
        raise Failure(f"encryption failed: {e}")
    write_output(opts, enc.getroottree() if was_root else data)


def ephemeral_ec_key(opts):
    """A fresh key on the recipient's curve, the ECDH-ES originator (libxmlsec1 does not make one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = opts.get("--pubkey-cert-pem")
    if not path:
        raise Usage("ECDH-ES encryption needs --pubkey-cert-pem")
    with open(path, "rb") as f:
        pub = x509.load_pem_x509_certificate(f.read()).public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise Usage("ECDH-ES needs an EC recipient certificate")
    eph = ec.generate_private_key(pub.curve)
    pem = eph.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return xmlsec.Key.from_memory(pem, PEM)


def cmd_decrypt(opts, id_attrs, files):
    enable_keyvalue()  # ECDH-ES: the originator's public key is in ds:KeyValue
    tree = parse_file(one_file(files))
    register_ids(tree, id_attrs)
    ed = next(tree.getroot().iter(f"{{{NS_XENC}}}EncryptedData"), None)
    if ed is None:
        raise Failure("no xenc:EncryptedData in the document")
    key = private_key(opts)
    mngr = xmlsec.KeysManager()
    mngr.add_key(key)
    ctx = xmlsec.EncryptionContext(mngr)
    ki = ed.find("ds:KeyInfo", NS)
    inline = ki is not None and any(ki.find(p, NS) is not None for p in
                                    ("xenc:EncryptedKey", "xenc:AgreementMethod", "ds:RetrievalMethod", "ds:KeyName"))
    was_root = ed.getparent() is None
    try:
        if not inline:
            # SAML style: xenc:EncryptedKey next to the EncryptedData (in EncryptedAssertion) with
            # no reference to it. Unwrap the content key, then decrypt the data with it.
            parent = ed.getparent()
            eks = parent.findall("xenc:EncryptedKey", NS) if parent is not None else []
            if len(eks) != 1:
                raise Failure(f"EncryptedData has no key ({len(eks)} sibling EncryptedKey elements)")
            raw = ctx.decrypt(eks[0])
            ctx = xmlsec.EncryptionContext(mngr)
            ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, raw)
        res = ctx.decrypt(ed)
    except xmlsec.Error as e:
        raise Failure(f"decryption failed: {e}")
    if was_root:
        write_output(opts, res if isinstance(res, bytes) else res.getroottree())
    else:
        write_output(opts, tree)


def main(argv):
    try:
        cmd, opts, id_attrs, files = parse_args(argv)
        if cmd == "version":
            print("xmlsec1 %d.%d.%d (openssl)" % xmlsec.get_libxmlsec_version())
            return 0
        if cmd == "list-transforms":
            print("Registered transform klasses:")
            print(",".join(f'"{n}"' for n in transform_names()))
            return 0
        rc = {"sign": cmd_sign, "verify": cmd_verify, "encrypt": cmd_encrypt, "decrypt": cmd_decrypt}[cmd](
            opts, id_attrs, files)
        return rc or 0
    except Usage as e:
        print(f"xmlsec1-shim: usage: {e}", file=sys.stderr)
        return 2
    except Failure as e:
        print(f"xmlsec1-shim: {e}", file=sys.stderr)
        if argv and argv[0].lstrip("-") == "verify":
            print("Verification status: FAILED", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
