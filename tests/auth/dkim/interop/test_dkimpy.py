#!/usr/bin/python3
"""Interop between Pigeon's DKIM (pigeon-dkim-tool) and dkimpy, plus OpenDKIM signing.

Usage: test_dkimpy.py PIGEON_DKIM_TOOL VECTORS_DIR

  - dkimpy signs (rsa-sha256 and ed25519-sha256; simple/simple, relaxed/relaxed and mixed;
    with and without l=) and Pigeon verifies: pass; a changed body byte or signed header fails;
    with l=, text appended after the signed prefix still passes and l= is reported.
  - Pigeon signs the same combinations and dkimpy verifies them through its dnsfunc hook;
    changed copies fail in dkimpy too.
  - opendkim-testmsg (libopendkim directly, no daemon) signs; Pigeon verifies.
Keys are dkimpy's test keys (conformance/dkim/vectors/dkimpy/data). No network.
"""
import os
import subprocess
import sys
import tempfile

import dkim

TOOL, VECTORS = sys.argv[1], sys.argv[2]
DATA = os.path.join(VECTORS, "dkimpy", "data")

failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def read(name, mode="rb"):
    with open(os.path.join(DATA, name), mode) as f:
        return f.read()


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


MESSAGE = crlf(read("test.message"))
KEYS = {
    # algorithm: (domain, private key bytes for dkimpy, key file for Pigeon, TXT record)
    b"rsa-sha256": ("example.com", read("test.private"), os.path.join(DATA, "test.private"),
                    read("test.txt").strip()),
    b"ed25519-sha256": ("example.net", read("ed25519test.key").strip(), os.path.join(DATA, "ed25519test.key"),
                        read("ed25519test.dns").strip()),
}
SELECTOR = b"test"
CANONS = [(b"simple", b"simple"), (b"relaxed", b"relaxed"), (b"relaxed", b"simple"), (b"simple", b"relaxed")]

tmp = tempfile.mkdtemp(prefix="pigeon-dkim-interop-")
zone_path = os.path.join(tmp, "keys.zone")
with open(zone_path, "wb") as z:
    for alg, (domain, _, _, record) in KEYS.items():
        z.write(b"test._domainkey." + domain.encode() + b". 300 IN TXT \"" + record + b"\"\n")


def dnsfunc(name, timeout=5):
    for alg, (domain, _, _, record) in KEYS.items():
        if name.rstrip(b".") == b"test._domainkey." + domain.encode():
            return record
    return None


def pigeon_verify(message):
    p = subprocess.run([TOOL, "verify", "--zone", zone_path], input=message, capture_output=True)
    return p.returncode, p.stdout.decode(errors="replace").strip()


def tamper_body(m):
    i = m.index(b"\r\n\r\n") + 4
    j = m.index(b"test", i)
    return m[:j] + b"Test" + m[j + 4:]


def tamper_header(m):
    return m.replace(b"Subject: Testing", b"Subject: Testinh", 1)


for alg, (domain, dkimpy_key, key_file, _) in KEYS.items():
    for canon in CANONS:
        label = "%s %s/%s" % (alg.decode(), canon[0].decode(), canon[1].decode())
        # ---- dkimpy signs, Pigeon verifies
        for length in (False, True):
            sig = dkim.sign(MESSAGE, SELECTOR, domain.encode(), dkimpy_key, canonicalize=canon,
                            signature_algorithm=alg, length=length)
            signed = sig + MESSAGE
            rc, out = pigeon_verify(signed)
            check(rc == 0 and out.startswith("pass"), "dkimpy->pigeon %s l=%s: %s" % (label, length, out))
            rc, out = pigeon_verify(tamper_body(signed))
            check(rc == 1 and out.startswith("fail"), "dkimpy->pigeon body changed %s l=%s: %s" % (label, length, out))
            rc, out = pigeon_verify(tamper_header(signed))
            check(rc == 1 and out.startswith("fail"), "dkimpy->pigeon header changed %s l=%s: %s" % (label, length, out))
            if length:
                rc, out = pigeon_verify(signed + b"Appended after the signed prefix.\r\n")
                check(rc == 0 and out.startswith("pass") and " l=" in out,
                      "dkimpy->pigeon appended beyond l= %s: %s" % (label, out))
        # ---- Pigeon signs, dkimpy verifies
        p = subprocess.run([TOOL, "sign", "--domain", domain, "--selector", "test", "--key", key_file,
                            "--algorithm", alg.decode(), "--canon", "%s/%s" % (canon[0].decode(), canon[1].decode())],
                           input=MESSAGE, capture_output=True)
        check(p.returncode == 0, "pigeon sign %s: %s" % (label, p.stderr.decode()))
        if p.returncode != 0:
            continue
        signed = p.stdout + MESSAGE
        check(dkim.verify(signed, dnsfunc=dnsfunc), "pigeon->dkimpy %s" % label)
        check(not dkim.verify(tamper_body(signed), dnsfunc=dnsfunc), "pigeon->dkimpy body changed %s" % label)
        check(not dkim.verify(tamper_header(signed), dnsfunc=dnsfunc), "pigeon->dkimpy header changed %s" % label)
        rc, out = pigeon_verify(signed)
        check(rc == 0, "pigeon->pigeon %s: %s" % (label, out))

# ---- OpenDKIM (libopendkim through opendkim-testmsg) signs, Pigeon verifies.
OPENDKIM = "/usr/sbin/opendkim-testmsg"
if os.path.exists(OPENDKIM):
    key_copy = os.path.join(tmp, "test.private")  # opendkim refuses keys it considers exposed
    with open(key_copy, "wb") as f:
        f.write(read("test.private"))
    os.chmod(key_copy, 0o600)
    p = subprocess.run([OPENDKIM, "-C", "-d", "example.com", "-s", "test", "-k", key_copy, "-t", tmp],
                       input=MESSAGE, capture_output=True)
    check(p.returncode == 0, "opendkim-testmsg sign: rc=%d %s" % (p.returncode, p.stderr.decode()))
    if p.returncode == 0:
        signed = crlf(p.stdout)
        check(b"DKIM-Signature:" in signed, "opendkim-testmsg output has a DKIM-Signature")
        rc, out = pigeon_verify(signed)
        check(rc == 0 and out.startswith("pass"), "opendkim->pigeon: %s" % out)
        rc, out = pigeon_verify(tamper_body(signed))
        check(rc == 1, "opendkim->pigeon body changed: %s" % out)
        check(dkim.verify(signed, dnsfunc=dnsfunc), "opendkim->dkimpy (sanity)")
else:
    print("SKIP: opendkim-testmsg not installed")

print("%d checks, %d failure(s)" % (checks, len(failures)))
sys.exit(1 if failures else 0)
