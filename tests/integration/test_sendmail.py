"""pigeon sendmail: local programs hand mail to the running server over its Unix socket, as an
ordinary (non-root) user, authenticated by SO_PEERCRED (docs/security.md).

A throwaway Unix user is created for the run (useradd) and removed at the end; the CLI runs as
that user through setpriv. Checked: the message reaches a local user's Maildir with From:,
Date:, Message-ID: added and a DKIM signature dkimpy verifies; -t takes To:/Cc:/Bcc: and the
delivered copies have no Bcc:; a line of a single "." ends the message without -i and is
content with it; -f with someone else's address is refused (EX_NOPERM) and nothing is queued;
s-nail (Debian's s-nail) with mta= pointing at pigeon sendmail; with the server down the caller
gets EX_TEMPFAIL (75) and a clear message, and the same message goes through once it is back;
sendmail -bp / mailq list the queue in Postfix's layout.
"""

import base64
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import dkim
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
BOB = h.address("bob")
ALICE = h.address("alice")
SEED = bytes(range(32))
PUBLIC = base64.b64encode(nacl.signing.SigningKey(SEED).verify_key.encode()).decode()
LOGIN = "pgsm%d" % (os.getpid() % 100000)
CALLER = "%s@%s" % (LOGIN, h.DOMAIN)
EX_TEMPFAIL, EX_NOPERM = 75, 77


def token(label):
    return "sendmail-%s-%d-%d" % (label, os.getpid(), time.monotonic_ns())


def dkim_verifies(raw):
    record = ("v=DKIM1; k=ed25519; p=%s" % PUBLIC).encode()
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return dkim.verify(crlf, dnsfunc=lambda name, timeout=5:
                       record if name.rstrip(b".") == b"s1._domainkey.test.example" else None)


def lf(raw):
    """The Maildir copy has LF line ends."""
    return raw.replace(b"\r\n", b"\n")


def header_of(raw):
    return lf(raw).split(b"\n\n", 1)[0]


class SendmailTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", LOGIN],
                       check=True, timeout=30)
        cls.user = pwd.getpwnam(LOGIN)
        # The socket's directory: reachable by every user (the state directory is private).
        cls.public = tempfile.mkdtemp(prefix="pigeon-sendmail-")
        os.chmod(cls.public, 0o755)
        cls.socket = os.path.join(cls.public, "sendmail.sock")
        cls.srv = h.PigeonServer(BIN)
        key_file = os.path.join(cls.srv.state_dir, "s1.key")
        with open(key_file, "w") as f:
            f.write(base64.b64encode(SEED).decode() + "\n")
        os.chmod(key_file, 0o600)  # a private key others may read is refused
        cls.srv.extra_config = ('\n[[dkim.keys]]\ndomain = "test.example"\nselector = "s1"\nkey_file = %s\n'
                                '\n[sendmail]\nsocket = %s\n' % (h._toml_str(key_file), h._toml_str(cls.socket)))
        cls.srv.start()
        cls.wrapper = os.path.join(cls.public, "sendmail-wrapper")
        with open(cls.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s sendmail \"$@\"\n" % BIN)
        os.chmod(cls.wrapper, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        shutil.rmtree(cls.public, ignore_errors=True)
        subprocess.run(["userdel", LOGIN], timeout=30)

    def as_caller(self, args, stdin, timeout=60):
        """Runs args as the throwaway user, with the test's socket."""
        env = {"PATH": "/usr/bin:/bin", "PIGEON_SENDMAIL_SOCKET": self.socket, "ASAN_OPTIONS": "detect_leaks=0",
               "HOME": self.public}
        cmd = ["setpriv", "--reuid=%d" % self.user.pw_uid, "--regid=%d" % self.user.pw_gid, "--clear-groups"] + args
        return subprocess.run(cmd, input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout)

    def sendmail(self, args, stdin):
        return self.as_caller([BIN, "sendmail"] + args, stdin)

    def delivered(self, user, tok, count=1):
        msgs = self.srv.wait_for_messages(user, count, token=tok)
        self.assertEqual(len(msgs), count, "%s: %d of %d copies arrived\n%s" % (user, len(msgs), count,
                                                                               self.srv.log_text()[-3000:]))
        return msgs[0][1]

    def test_message_arrives_signed_with_the_callers_address(self):
        tok = token("plain")
        r = self.sendmail(["-FCron Daemon", "-i", "-oem", "-odi", BOB],
                          "To: %s\nSubject: %s\n\nhello from cron\n" % (BOB, tok))
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = self.delivered("bob", tok)
        head = header_of(raw)
        self.assertIn(("From: Cron Daemon <%s>" % CALLER).encode(), head)
        self.assertIn(b"\nDate: ", b"\n" + head)
        self.assertIn(b"\nMessage-ID: <", b"\n" + head)
        self.assertIn(("from userid %d" % self.user.pw_uid).encode(), head)
        self.assertIn(b"d=test.example", head)
        self.assertTrue(dkim_verifies(raw), "dkimpy refused the signature")
        # The operator's log says it as Postfix's pickup and qmgr do (docs/operations.md, Logs).
        log = self.srv.log_text()
        picked = re.findall(r"pigeon/pickup\[\d+\]: (\w+): uid=%d from=<%s>" % (self.user.pw_uid, re.escape(CALLER)), log)
        self.assertTrue(picked, log[-3000:])
        self.assertTrue(any(re.search(r"pigeon/qmgr\[\d+\]: %s: from=<%s>, size=\d+, nrcpt=1 \(queue active\)"
                                      % (qid, re.escape(CALLER)), log) for qid in picked), log[-3000:])

    def test_t_takes_to_cc_bcc_and_bcc_is_removed(self):
        tok = token("bcc")
        r = self.sendmail(["-t", "-i"], "From: %s\nTo: Bob <%s>\nBcc: (hidden) %s\nSubject: %s\n\nbody\n"
                          % (CALLER, BOB, ALICE, tok))
        self.assertEqual(r.returncode, 0, r.stderr)
        for user in ("bob", "alice"):
            head = header_of(self.delivered(user, tok))
            self.assertNotIn(b"bcc:", head.lower())
            self.assertNotIn(b"hidden", head)
        self.assertNotIn(ALICE.encode(), header_of(self.delivered("bob", tok)))

    def test_dot_line_ends_the_message_unless_i(self):
        tok = token("dot")
        r = self.sendmail([BOB], "Subject: %s-a\n\nbefore\n.\nafter-the-dot\n" % tok)
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = self.delivered("bob", tok + "-a")
        self.assertIn(b"\n\nbefore\n", lf(raw))
        self.assertNotIn(b"after-the-dot", raw)
        r = self.sendmail(["-i", BOB], "Subject: %s-b\n\nbefore\n.\nafter-the-dot\n" % tok)
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = self.delivered("bob", tok + "-b")
        self.assertIn(b"\n\nbefore\n.\nafter-the-dot\n", lf(raw))

    def test_another_sender_is_refused_for_an_untrusted_caller(self):
        tok = token("forged")
        before = self.srv.queue_list()
        r = self.sendmail(["-f", ALICE, BOB], "From: %s\nSubject: %s\n\nforged\n" % (ALICE, tok))
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        self.assertIn(b"553 5.7.1", r.stderr)
        self.assertIn(("not owned by user %s" % LOGIN).encode(), r.stderr)
        # A From: of someone else is refused too, with the caller's own envelope sender.
        r = self.sendmail([BOB], "From: %s\nSubject: %s\n\nforged\n" % (ALICE, tok))
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        time.sleep(0.5)
        self.assertEqual(self.srv.messages_with("bob", tok), [])
        self.assertEqual(self.srv.queue_list(), before)

    def test_s_nail_with_mta_pointing_at_pigeon_sendmail(self):
        tok = token("snail")
        r = self.as_caller(["s-nail", "-:/", "-S", "mta=%s" % self.wrapper, "-S", "sendwait",
                            "-s", tok, BOB], "sent by s-nail\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = self.delivered("bob", tok)
        self.assertIn(("From: %s" % CALLER).encode(), header_of(raw).replace(b"<", b"").replace(b">", b""))
        self.assertIn(b"sent by s-nail", raw)
        self.assertTrue(dkim_verifies(raw))

    def test_mailq_lists_the_queue_in_postfix_layout(self):
        r = subprocess.run([BIN, "mailq", "-C", self.srv.config_path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertTrue(out == "Mail queue is empty\n" or out.startswith("-Queue ID-"), out)
        r2 = subprocess.run([BIN, "sendmail", "-bp", "-C", self.srv.config_path], stdout=subprocess.PIPE,
                            timeout=60, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(r2.stdout.decode().splitlines()[:1], out.splitlines()[:1])

    def test_z_server_down_tempfails_and_nothing_is_lost(self):
        tok = token("down")
        text = "Subject: %s\n\nwhile the server was down\n" % tok
        self.srv.stop()
        try:
            r = self.sendmail([BOB], text)
            self.assertEqual(r.returncode, EX_TEMPFAIL, r.stderr)
            self.assertIn(b"not running", r.stderr)
            self.assertIn(b"nothing was sent", r.stderr)
        finally:
            self.srv.start()
        r = self.sendmail([BOB], text)  # what cron or a queueing caller does next
        self.assertEqual(r.returncode, 0, r.stderr)
        self.delivered("bob", tok)


if __name__ == "__main__":
    unittest.main(verbosity=2)
