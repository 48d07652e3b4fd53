#!/usr/bin/python3
"""Live reload (SIGHUP and `pigeon reload`) on a running server.

What the issue asks, each against the real binary:
  - a user added to the file logs in after a reload; one removed is refused, while a session
    that was open before the reload finishes with the users it started with;
  - a rotated certificate is what new sessions see, while a session in the middle of a
    transaction on the old one completes; an expiring certificate is warned about at reload;
  - a typo keeps the old configuration serving, and `pigeon reload` exits 1 naming key and line;
  - a listener change is reported as needing a restart and the old listener keeps serving;
  - limits apply to new sessions only; SIGHUP does what `pigeon reload` does.

usage: test_reload.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
SENDER = "someone@example.org"  # example.org's SPF allows loopback (pigeon_harness.DEFAULT_ZONE)
CAROL_PW = "carol-N3w-pw#"


def user_block(addr, pw):
    return '\n[[users]]\naddress = "%s"\npassword_hash = "%s"\n' % (addr, h.hash_password(BIN, pw))


def self_signed(directory, name, days):
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=" + h.HOSTNAME, "-days", str(days)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def login_on_submission(srv, addr, pw):
    """The AUTH reply code for addr/pw on a fresh submission connection (STARTTLS)."""
    with h.SmtpClient(srv.ports["submission"]) as c:
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.starttls()
        c.cmd("EHLO client.test", 250)
        token = base64.b64encode(("\0%s\0%s" % (addr, pw)).encode()).decode()
        return c.cmd("AUTH PLAIN " + token).code


def peer_certificate(port):
    """The DER certificate a fresh STARTTLS session on `port` presents."""
    with h.SmtpClient(port) as c:
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.starttls()
        return c.sock.getpeercert(binary_form=True)


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def reload(srv):
    return srv.pigeon("reload", timeout=60)


class Reload(unittest.TestCase):
    def setUp(self):
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.cleanup()

    def start(self, **kw):
        self.srv = h.PigeonServer(BIN, **kw).start()
        return self.srv

    def reload_ok(self):
        r = reload(self.srv)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def test_added_user_logs_in_and_removed_user_is_refused(self):
        srv = self.start()
        carol = "carol@" + h.DOMAIN
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 535)
        srv.extra_config = user_block(carol, CAROL_PW)
        srv.write_config()
        out = self.reload_ok()
        self.assertIn("3 user(s)", out)
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 235)
        # Carol's mailbox takes mail now, on a new inbound connection.
        token = "reload-added-user"
        r = h.send_message(srv.ports["inbound"], SENDER, [carol], "Subject: %s\r\n\r\nhello\r\n" % token, tls=True)
        self.assertEqual(r.code, 250, r.lines)
        self.assertTrue(srv.wait_for_messages("carol", 1, token=token))

        # A session open (and past EHLO) before carol is removed keeps the directory it began with.
        with h.SmtpClient(srv.ports["submission"]) as old:
            old.expect(220)
            old.cmd("EHLO client.test", 250)
            old.starttls()
            old.cmd("EHLO client.test", 250)
            srv.extra_config = ""
            srv.write_config()
            self.assertIn("2 user(s)", self.reload_ok())
            self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 535)
            old.auth_plain(carol, CAROL_PW, 235)
            old.cmd("QUIT", 221)
        # The other users are untouched.
        self.assertEqual(login_on_submission(srv, h.address("bob"), h.password("bob")), 235)

    def test_certificate_rotation_keeps_an_open_session(self):
        d = tempfile.mkdtemp(prefix="pigeon-reload-tls-")
        cert_a, key_a = self_signed(d, "a", 90)
        cert_b, key_b = self_signed(d, "b", 5)  # within the 14 days that get a warning
        live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
        for src, dst in ((cert_a, live_cert), (key_a, live_key)):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        os.chmod(live_key, 0o600)
        srv = self.start(extra_config='\n[tls]\ncert_file = "%s"\nkey_file = "%s"\n' % (live_cert, live_key))
        first = peer_certificate(srv.ports["inbound"])
        self.assertEqual(first, der(cert_a))

        old = h.SmtpClient(srv.ports["inbound"])
        try:
            old.expect(220)
            old.cmd("EHLO client.test", 250)
            old.starttls()
            old.cmd("EHLO client.test", 250)
            old.cmd("MAIL FROM:<%s>" % SENDER, 250)
            old.cmd("RCPT TO:<%s>" % h.address("alice"), 250)
            # certbot renews by replacing the files, then runs the deploy hook: `pigeon reload`.
            os.replace(cert_b, live_cert)
            os.replace(key_b, live_key)
            self.reload_ok()
            self.assertIn("expires on", srv.log_text())
            second = peer_certificate(srv.ports["inbound"])
            self.assertEqual(second, der(live_cert))
            self.assertNotEqual(first, second)
            # The open session still has the old certificate's channel and finishes its mail.
            self.assertEqual(old.sock.getpeercert(binary_form=True), first)
            old.cmd("DATA", 354)
            old.send(b"Subject: rotated-mid-session\r\n\r\nbody\r\n.\r\n")
            self.assertEqual(old.reply().code, 250)
            old.cmd("QUIT", 221)
        finally:
            old.close()
        self.assertTrue(srv.wait_for_messages("alice", 1, token="rotated-mid-session"))

        # A key others may read is refused at reload; the current certificate stays.
        os.chmod(live_key, 0o644)
        r = reload(srv)
        self.assertEqual(r.returncode, 1)
        self.assertIn("chmod o-rwx " + live_key, r.stderr.decode())
        self.assertEqual(peer_certificate(srv.ports["inbound"]), second)

    def test_typo_keeps_the_running_configuration(self):
        srv = self.start()
        carol = "carol@" + h.DOMAIN
        with open(srv.config_path) as f:
            good = f.read()
        lines = good.splitlines()
        at = lines.index("[limits]") + 1
        lines.insert(at, "max_conections = 5")  # the typo
        with open(srv.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + user_block(carol, CAROL_PW))
        # `pigeon reload` reads the file first (as check-config does): exit 2 with the file,
        # line and key, and the server is not asked.
        r = reload(srv)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("%s:%d: limits.max_conections: unknown key" % (srv.config_path, at + 1), err)
        # SIGHUP makes the server read it: the error is logged with key and line, nothing changes.
        srv.signal(signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: "nothing changed" in srv.log_text(), 30), srv.log_text())
        self.assertIn(":%d: limits.max_conections: unknown key" % (at + 1), srv.log_text())
        # The old configuration serves: carol (only in the broken file) is unknown, bob works.
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 535)
        self.assertEqual(login_on_submission(srv, h.address("bob"), h.password("bob")), 235)
        h.normal_client_works(srv)
        # Fixed, it applies.
        with open(srv.config_path, "w") as f:
            f.write(good + user_block(carol, CAROL_PW))
        self.reload_ok()
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 235)

    def test_dkim_keys_and_discard_list_apply(self):
        srv = self.start()
        d = tempfile.mkdtemp(prefix="pigeon-reload-dkim-")
        key = os.path.join(d, "s2.key")
        r = subprocess.run([BIN, "dkim", "keygen", "--domain", h.DOMAIN, "--selector", "s2", "--algorithm", "ed25519",
                            "--out", key], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(key, 0o600)
        noreply = "noreply@" + h.DOMAIN

        def submit(token):
            return h.send_message(srv.ports["submission"], h.address("bob"), [h.address("alice")],
                                  "From: %s\r\nSubject: %s\r\n\r\nbody\r\n" % (h.address("bob"), token),
                                  tls=True, auth=(h.address("bob"), h.password("bob")))

        def rcpt_code(addr):
            with h.SmtpClient(srv.ports["inbound"]) as c:
                c.expect(220)
                c.cmd("EHLO client.test", 250)
                c.cmd("MAIL FROM:<%s>" % SENDER, 250)
                return c.cmd("RCPT TO:<%s>" % addr).code

        self.assertEqual(submit("before-keys").code, 250)
        self.assertEqual(rcpt_code(noreply), 550)
        srv.extra_config = ('\n[delivery]\ndiscard = ["%s"]\n\n[[dkim.keys]]\ndomain = "%s"\nselector = "s2"\n'
                            'key_file = "%s"\n' % (noreply, h.DOMAIN, key))
        srv.write_config()
        self.assertIn("1 DKIM key(s)", self.reload_ok())
        self.assertEqual(submit("after-keys").code, 250)
        before = srv.wait_for_messages("alice", 1, token="before-keys")
        after = srv.wait_for_messages("alice", 1, token="after-keys")
        self.assertTrue(before and after)
        self.assertNotIn(b"DKIM-Signature:", before[0][1])
        self.assertIn(b"s=s2;", after[0][1])
        self.assertEqual(rcpt_code(noreply), 250)

    def test_listener_change_needs_a_restart(self):
        srv = self.start()
        old_port = srv.ports["inbound"]
        srv.ports["inbound"] = h.free_port()
        srv.write_config()
        out = self.reload_ok()
        self.assertIn("needs a restart to apply: listeners", out)
        self.assertIn("only a restart applies it", srv.log_text())
        new_port, srv.ports["inbound"] = srv.ports["inbound"], old_port
        h.normal_client_works(srv)  # still on the old port
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", new_port), timeout=2).close()

    def test_limits_apply_to_new_sessions_only(self):
        srv = self.start(limits={"max_message_octets": 10000000})
        old = h.SmtpClient(srv.ports["inbound"])
        try:
            old.expect(220)
            self.assertIn("SIZE 10000000", old.cmd("EHLO client.test", 250).text)
            srv.limits["max_message_octets"] = 100000
            srv.write_config()
            self.reload_ok()
            with h.SmtpClient(srv.ports["inbound"]) as new:
                new.expect(220)
                self.assertIn("SIZE 100000", new.cmd("EHLO client.test", 250).text)
                self.assertEqual(new.cmd("MAIL FROM:<%s> SIZE=500000" % SENDER).code, 552)
            old.cmd("MAIL FROM:<%s> SIZE=500000" % SENDER, 250)
            old.cmd("QUIT", 221)
        finally:
            old.close()

    def test_sighup_reloads(self):
        srv = self.start()
        carol = "carol@" + h.DOMAIN
        srv.extra_config = user_block(carol, CAROL_PW)
        srv.write_config()
        srv.signal(signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: "reload: done" in srv.log_text(), 30), srv.log_text())
        self.assertTrue(srv.running())
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 235)
        # A broken file on SIGHUP: logged with key and line, the server keeps serving.
        with open(srv.config_path, "a") as f:
            f.write("\n[limits]\nmax_connections = \"many\"\n")
        srv.signal(signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: "nothing changed" in srv.log_text(), 30), srv.log_text())
        self.assertTrue(srv.running())
        self.assertEqual(login_on_submission(srv, carol, CAROL_PW), 235)

    def test_reload_without_a_server(self):
        srv = h.PigeonServer(BIN)
        self.srv = srv
        srv.write_config()
        r = srv.pigeon("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no server", r.stderr.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
