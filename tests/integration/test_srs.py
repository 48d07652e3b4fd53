#!/usr/bin/python3
"""Pigeon's SRS (src/policy/srs.hpp, `pigeon srs forward|reverse`) against postsrsd 1.10, the
Debian package Postfix sites use for the same job, with the same secret file:

- every sender forwarded by both comes out byte for byte the same (SRS0 for a plain sender,
  SRS1 for someone else's SRS0 or SRS1);
- each decodes what the other made back to the original sender;
- a two-hop chain: postsrsd forwards as first.example (its own secret), Pigeon forwards that
  as forwarder.example (SRS1, the same as postsrsd would make); Pigeon's reverse gives postsrsd's SRS0 back, and postsrsd's
  reverse of that gives the original sender;
- a tampered hash, an unknown secret and a malformed address are refused by both.

postsrsd runs on loopback ports chosen by the test (its Postfix tcp_table protocol: "get ADDR"
-> "200 RESULT" or "500 reason"), as nobody, and is killed at the end.

usage: test_srs.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as harness  # noqa: E402

PIGEON = harness.pigeon_binary()
harness.strip_binary_arg()

SECRET = "pigeon-and-postsrsd-share-this\n"
SENDERS = ["alice@origin.example", "Bob.Smith@Mixed.Example", "a=b@origin.example",
           "bob+tag@x.example", "o'hara@ireland.example", "x@y.z"]


class Postsrsd:
    def __init__(self, domain, secret_file):
        self.forward_port = harness.free_port()
        self.reverse_port = harness.free_port()
        while self.reverse_port == self.forward_port:
            self.reverse_port = harness.free_port()
        self.proc = subprocess.Popen(
            ["postsrsd", "-s", secret_file, "-d", domain, "-l", "127.0.0.1", "-4",
             "-f", str(self.forward_port), "-r", str(self.reverse_port), "-u", "nobody", "-t", "30"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=harness._die_with_parent)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.reverse_port), timeout=1):
                    return True
            except OSError:
                return self.proc.poll() is not None
        harness.wait_until(up, 10, 0.05)
        if self.proc.poll() is not None:
            raise RuntimeError("postsrsd exited: %s" % self.proc.stderr.read().decode(errors="replace"))

    def ask(self, port, address):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"get " + address.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        code, _, text = data.decode().rstrip("\n").partition(" ")
        return code, text

    def forward(self, address):
        return self.ask(self.forward_port, address)

    def reverse(self, address):
        return self.ask(self.reverse_port, address)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def pigeon_srs(verb, domain, secret_file, addresses):
    r = subprocess.run([PIGEON, "srs", verb, "--domain", domain, "--secret-file", secret_file] + addresses,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, text=True)
    return r.returncode, r.stdout.split("\n")[:-1], r.stderr


class SrsAgainstPostsrsd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("postsrsd") is None:
            raise unittest.SkipTest("postsrsd is not installed (scripts/deps test installs it)")
        cls.dir = tempfile.mkdtemp(prefix="pigeon-srs-")
        os.chmod(cls.dir, 0o755)
        cls.secret = os.path.join(cls.dir, "srs.secret")
        with open(cls.secret, "w") as f:
            f.write(SECRET)
        os.chmod(cls.secret, 0o644)  # postsrsd reads it before it drops to nobody; 0644 for the test only
        cls.other = os.path.join(cls.dir, "other.secret")
        with open(cls.other, "w") as f:
            f.write("a-different-secret\n")
        os.chmod(cls.other, 0o644)
        cls.fwd = Postsrsd("forwarder.example", cls.secret)
        cls.first = Postsrsd("first.example", cls.other)  # another forwarder, its own secret

    @classmethod
    def tearDownClass(cls):
        for p in (getattr(cls, "fwd", None), getattr(cls, "first", None)):
            if p:
                p.stop()
        shutil.rmtree(getattr(cls, "dir", "/nonexistent"), ignore_errors=True)

    def both_forward(self, senders):
        """postsrsd's and Pigeon's rewrites of senders, made on the same UTC day."""
        for _ in range(2):  # a run across midnight UTC: once more
            day = int(time.time() // 86400)
            theirs = []
            for s in senders:
                code, text = self.fwd.forward(s)
                self.assertEqual(code, "200", "postsrsd forward %s: %s %s" % (s, code, text))
                theirs.append(text)
            status, ours, err = pigeon_srs("forward", "forwarder.example", self.secret, senders)
            self.assertEqual(status, 0, err)
            if int(time.time() // 86400) == day:
                return theirs, ours
        self.fail("the day changed twice")

    def test_forward_is_byte_for_byte_postsrsd(self):
        theirs, ours = self.both_forward(SENDERS)
        self.assertEqual(ours, theirs)
        for a in ours:
            self.assertTrue(a.startswith("SRS0=") and a.endswith("@forwarder.example"), a)

    def test_each_decodes_the_other(self):
        theirs, ours = self.both_forward(SENDERS)
        status, decoded, err = pigeon_srs("reverse", "forwarder.example", self.secret, theirs)
        self.assertEqual(status, 0, err)
        self.assertEqual(decoded, SENDERS)
        for original, address in zip(SENDERS, ours):
            self.assertEqual(self.fwd.reverse(address), ("200", original))

    def test_a_second_hop_makes_srs1_and_the_chain_unwinds(self):
        code, hop1 = self.first.forward("carol@origin.example")
        self.assertEqual(code, "200")
        self.assertTrue(hop1.startswith("SRS0=") and hop1.endswith("@first.example"), hop1)
        theirs, ours = self.both_forward([hop1])
        self.assertEqual(ours, theirs)
        self.assertTrue(ours[0].startswith("SRS1=") and ours[0].endswith("@forwarder.example"), ours[0])
        # A third hop (first.example's postsrsd again, with its secret) keeps the first
        # forwarder in SRS1 and signs anew; Pigeon with that secret makes the same.
        relayed = ours[0].replace("@forwarder.example", "@third.example")
        code, hop3 = self.first.forward(relayed)
        self.assertEqual(code, "200", hop3)
        status, ours3, err = pigeon_srs("forward", "first.example", self.other, [relayed])
        self.assertEqual((status, ours3), (0, [hop3]), err)
        # The bounce comes back: Pigeon unwinds its SRS1 to first.example's SRS0 ...
        status, back, err = pigeon_srs("reverse", "forwarder.example", self.secret, ours)
        self.assertEqual((status, back), (0, [hop1]), err)
        # ... which first.example's postsrsd turns into the original sender.
        self.assertEqual(self.first.reverse(back[0]), ("200", "carol@origin.example"))

    def test_forgeries_are_refused_by_both(self):
        _, ours = self.both_forward(["dave@origin.example"])
        good = ours[0]
        hash_ = good.split("=")[1]
        flipped = ("A" if hash_[0] != "A" else "B") + hash_[1:]
        tampered = good.replace("=" + hash_ + "=", "=" + flipped + "=", 1)
        other_sender = good.replace("=dave@", "=mallory@")
        for bad in (tampered, other_sender, "SRS0=abcd@forwarder.example"):
            code, _ = self.fwd.reverse(bad)
            self.assertEqual(code, "500", "postsrsd accepted %s" % bad)
            status, out, err = pigeon_srs("reverse", "forwarder.example", self.secret, [bad])
            self.assertEqual((status, out), (1, []), "pigeon accepted %s" % bad)
            self.assertIn(bad + ": ", err)
        status, out, err = pigeon_srs("reverse", "forwarder.example", self.other, [good])
        self.assertEqual((status, out), (1, []))
        self.assertIn("hash does not match", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
