#!/usr/bin/python3
"""Submission AUTH through a real Dovecot's auth service ([auth] dovecot).

A private Dovecot (dovecot-core; no mail protocol, only its auth service, with the
auth-client listener in its own base_dir) and one `pigeon serve` pointed at it. Against the
real binary:
  - carol exists only in Dovecot's passwd-file: she logs in over STARTTLS (smtplib, PLAIN;
    swaks, PLAIN and LOGIN), sends as her own address (accepted, delivered to bob's Maildir)
    and not as another (553); a wrong password gets 535, and Dovecot's FAIL counts for
    limits.auth_failures_per_ip_per_minute;
  - alice is in both: Dovecot's password counts (her [[users]] hash no longer does) and the
    aliases of her [[users]] entry stay hers;
  - adversarial: a login name with a TAB or LF (an attempt to inject a protocol field) is
    one user name to Dovecot and gets 535; the server keeps serving;
  - Dovecot stopped: 454 4.7.0 (never 535, never 235) and inbound mail still flows; Dovecot
    hung (SIGSTOP): 454 4.7.0 after the configured timeouts; Dovecot back: logins work
    again without a Pigeon restart;
  - a live reload that removes [auth] dovecot brings the [[users]] hashes back for new
    connections, and one that restores it brings Dovecot back;
  - no password in any form appears in Pigeon's log.

usage: test_dovecot_auth.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
DOVECOT = "/usr/sbin/dovecot"
SWAKS = "/usr/bin/swaks"
CAROL = "carol@" + h.DOMAIN
CAROL_PW = "carol-D0vecot-pw%"
ALICE_DOVECOT_PW = "alice-D0vecot-pw&"
SECRETS = [CAROL_PW, ALICE_DOVECOT_PW, h.password("alice")]


def secret_forms():
    out = []
    for pw in SECRETS:
        out.append(pw)
        out.append(base64.b64encode(pw.encode()).decode())
        for user in (CAROL, h.address("alice")):
            out.append(base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode())
    return out


class DovecotAuth(peers.Managed):
    """`dovecot -F` with its own config, base_dir and passwd-file under a temporary directory;
    only the auth service runs (protocols = none). auth-client is a Unix socket for this
    process's user (mode 0600)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pigeon-dovecot-")
        os.chmod(self.dir, 0o755)  # the dovecot user reads the passwd-file below it
        self.socket = os.path.join(self.dir, "run", "auth-client")
        self.proc = None
        self._watchdog = None
        users = os.path.join(self.dir, "users")
        with open(users, "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (CAROL, CAROL_PW))
            f.write("%s:{PLAIN}%s::::::\n" % (h.address("alice"), ALICE_DOVECOT_PW))
        os.chmod(users, 0o644)
        me = pwd.getpwuid(os.getuid()).pw_name
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = none
ssl = no
# Pigeon says `secured` for sessions under TLS: plaintext mechanisms need it.
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
service auth {{
  unix_listener auth-client {{
    mode = 0600
    user = {me}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
""".format(d=self.dir, me=me, users=users))

    def start(self):
        assert self.proc is None
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        self._track()
        if not peers.wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, 20):
            raise RuntimeError("dovecot did not create %s:\n%s" % (self.socket, self.log()))
        if self.proc.poll() is not None:
            raise RuntimeError("dovecot exited:\n" + self.log())
        return self

    def log(self):
        text = ""
        for name in ("stdout.log", "dovecot.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
        return text

    def stop(self):
        if self.proc is not None:
            self._stop_group(grace=5)
            self.out.close()
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # a socket nobody listens on: connect() is refused

    def pause(self):
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def cleanup(self):
        try:
            if self.proc is not None:
                self.resume()
        except ProcessLookupError:
            pass
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# Dovecot delays a FAIL more for each earlier failure from the same rip (its auth penalty, up
# to 15 s): each attempt expected to fail comes from an address of its own in 127/8, so that
# no answer outlasts the short dovecot_timeout_seconds this test configures.
_sources = iter("127.0.%d.%d" % (n // 250, 2 + n % 250) for n in range(10000))


def fresh_source():
    return next(_sources)


def smtplib_login(port, user, pw, source=None):
    """(code, message) of one AUTH PLAIN over STARTTLS with smtplib. (login() would try LOGIN
    after a failed PLAIN: a second failure from the same address, which Dovecot delays.)"""
    with smtplib.SMTP("127.0.0.1", port, timeout=40, source_address=(source, 0) if source else None) as s:
        s.starttls(context=h.client_tls_context())
        s.ehlo()
        s.user, s.password = user, pw
        try:
            code, text = s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
        return code, text.decode("utf-8", "replace")


def raw_auth(port, authcid, pw, timeout=40, source=None):
    """The reply to AUTH PLAIN with exactly these octets (no client-side checks)."""
    with h.SmtpClient(port, timeout=timeout, source=source) as c:
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.starttls()
        c.cmd("EHLO client.test", 250)
        token = base64.b64encode(b"\0" + authcid.encode() + b"\0" + pw.encode()).decode()
        r = c.cmd("AUTH PLAIN " + token)
        # The session goes on after any answer: a harmless command is still answered.
        c.cmd("NOOP", 250)
        return r


def swaks(*args, timeout=90):
    return subprocess.run([SWAKS, "--server", "127.0.0.1", "--timeout", "40"] + list(args),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)


class DovecotAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = DovecotAuth().start()
        extra = ('\n[auth]\ndovecot = "unix:%s"\ndovecot_connect_timeout_seconds = 2\n'
                 'dovecot_timeout_seconds = 3\n' % cls.dovecot.socket)
        cls.srv = h.PigeonServer(BIN, extra_config=extra).start()
        cls.port = cls.srv.ports["submission"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.dovecot.cleanup()

    def send_as(self, user, pw, mail_from, token):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=40) as s:
            s.starttls(context=h.client_tls_context())
            s.login(user, pw)
            msg = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n" % (mail_from, h.address("bob"), token, token)
            return s.sendmail(mail_from, [h.address("bob")], msg)

    def test_1_dovecot_only_user_logs_in_and_sends_as_herself(self):
        self.assertIn("Dovecot's auth service at unix:" + self.dovecot.socket, self.srv.log_text())
        code, _ = smtplib_login(self.port, CAROL, CAROL_PW)
        self.assertEqual(code, 235)
        self.assertEqual(self.send_as(CAROL, CAROL_PW, CAROL, "carol-own-1"), {})
        self.assertEqual(len(self.srv.wait_for_messages("bob", 1, token="carol-own-1")), 1)

    def test_2_dovecot_user_may_not_send_as_another(self):
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            self.send_as(CAROL, CAROL_PW, h.address("alice"), "carol-as-alice")
        self.assertEqual(e.exception.smtp_code, 553)
        self.assertIn(b"not owned by user " + CAROL.encode(), e.exception.smtp_error)

    def test_3_wrong_password_gets_535(self):
        code, text = smtplib_login(self.port, CAROL, "not-her-password", source=fresh_source())
        self.assertEqual(code, 535)
        self.assertIn("5.7.8", text)

    def test_4_swaks_plain_and_login(self):
        for mech in ("PLAIN", "LOGIN"):
            token = "swaks-" + mech.lower()
            r = swaks("--port", str(self.port), "--tls", "--auth", mech, "--auth-user", CAROL,
                      "--auth-password", CAROL_PW, "--from", CAROL, "--to", h.address("bob"),
                      "--header", "Subject: " + token, "--body", token)
            out = r.stdout.decode("utf-8", "replace")
            self.assertEqual(r.returncode, 0, out)
            self.assertIn("235 2.7.0", out)
            self.assertEqual(len(self.srv.wait_for_messages("bob", 1, token=token)), 1)
        r = swaks("--port", str(self.port), "--local-interface", fresh_source(), "--tls", "--auth", "LOGIN",
                  "--auth-user", CAROL,
                  "--auth-password", "wrong", "--from", CAROL, "--to", h.address("bob"))
        self.assertIn("535 5.7.8", r.stdout.decode("utf-8", "replace"))

    def test_5_a_user_in_both_uses_dovecots_password_and_keeps_her_aliases(self):
        self.assertEqual(smtplib_login(self.port, h.address("alice"), ALICE_DOVECOT_PW)[0], 235)
        # The [[users]] hash is not asked when Dovecot is.
        self.assertEqual(smtplib_login(self.port, h.address("alice"), h.password("alice"), source=fresh_source())[0],
                         535)
        self.assertEqual(self.send_as(h.address("alice"), ALICE_DOVECOT_PW, h.address("sales"), "alias-sales"), {})
        self.assertEqual(len(self.srv.wait_for_messages("bob", 1, token="alias-sales")), 1)

    def test_6_tab_or_newline_in_the_login_injects_nothing(self):
        for authcid in (CAROL + "\tuser=" + h.address("alice"),
                        CAROL + "\nOK\t1\tuser=" + h.address("alice"),
                        "x\tnologin\tresp=AGNhcm9sAHB3"):
            r = raw_auth(self.port, authcid, CAROL_PW, source=fresh_source())
            self.assertEqual(r.code, 535, r.lines)
        # Each was one user name inside resp= (no field of its own): FAIL, 535; carol still logs in.
        self.assertEqual(smtplib_login(self.port, CAROL, CAROL_PW)[0], 235)

    def test_7_dovecot_down_gets_454_and_the_server_keeps_serving(self):
        self.dovecot.stop()
        try:
            r = raw_auth(self.port, CAROL, CAROL_PW)
            self.assertEqual(r.code, 454, r.lines)
            self.assertIn("4.7.0 Temporary authentication failure", r.text)
            # Another role still works: inbound mail for bob is accepted and delivered.
            reply = h.send_message(self.srv.ports["inbound"], "someone@example.org", [h.address("bob")],
                                   "Subject: while-down\r\n\r\nwhile-down\r\n")
            self.assertEqual(reply.code, 250)
            self.assertEqual(len(self.srv.wait_for_messages("bob", 1, token="while-down")), 1)
        finally:
            self.dovecot.start()
        pid = self.srv.proc.pid
        # Back: logins work again, with no Pigeon restart.
        self.assertTrue(peers.wait_until(lambda: smtplib_login(self.port, CAROL, CAROL_PW)[0] == 235, 20))
        self.assertEqual(self.srv.proc.pid, pid)
        self.assertTrue(self.srv.running())
        self.assertIn("cannot connect", self.srv.log_text())

    def test_8_dovecot_hung_gets_454_after_the_timeouts(self):
        self.assertEqual(smtplib_login(self.port, CAROL, CAROL_PW)[0], 235)  # a connection is open
        self.dovecot.pause()
        try:
            started = time.monotonic()
            r = raw_auth(self.port, CAROL, CAROL_PW)
            waited = time.monotonic() - started
            self.assertEqual(r.code, 454, r.lines)
            self.assertLess(waited, 20)
            # A new connection (the old one was given up) meets the connect timeout.
            r = raw_auth(self.port, CAROL, CAROL_PW)
            self.assertEqual(r.code, 454, r.lines)
        finally:
            self.dovecot.resume()
        self.assertTrue(peers.wait_until(lambda: smtplib_login(self.port, CAROL, CAROL_PW)[0] == 235, 30))
        log = self.srv.log_text()
        self.assertIn("no answer within 3 s", log)
        self.assertIn("no connection and handshake within 2 s", log)

    def test_9_reload_switches_between_dovecot_and_the_users_hashes(self):
        extra = self.srv.extra_config
        try:
            self.srv.extra_config = ""
            self.srv.write_config()
            r = self.srv.pigeon("reload")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn(b"needs a restart", r.stdout)
            # New connections: the [[users]] hashes again; carol is unknown there.
            self.assertEqual(smtplib_login(self.port, h.address("bob"), h.password("bob"))[0], 235)
            self.assertEqual(smtplib_login(self.port, CAROL, CAROL_PW, source=fresh_source())[0], 535)
        finally:
            self.srv.extra_config = extra
            self.srv.write_config()
            r = self.srv.pigeon("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(smtplib_login(self.port, CAROL, CAROL_PW)[0], 235)
        self.assertIn("submission AUTH: the [[users]] password hashes", self.srv.log_text())

    def test_a_dovecots_fail_counts_for_the_auth_failure_throttle(self):
        # A server of its own with a low limit; a longer answer timeout, as Dovecot delays a
        # second failure from one address.
        extra = ('\n[auth]\ndovecot = "unix:%s"\ndovecot_timeout_seconds = 25\n' % self.dovecot.socket)
        with h.PigeonServer(BIN, limits={"auth_failures_per_ip_per_minute": 2}, extra_config=extra) as srv:
            port = srv.ports["submission"]
            source = fresh_source()
            self.assertEqual(smtplib_login(port, CAROL, "wrong-1", source=source)[0], 535)
            self.assertEqual(smtplib_login(port, CAROL, "wrong-2", source=source)[0], 535)
            # Throttled: 454 without asking Dovecot, even with the right password.
            code, text = smtplib_login(port, CAROL, CAROL_PW, source=source)
            self.assertEqual(code, 454)
            self.assertIn("too many failures from " + source, srv.log_text())
            self.assertEqual(smtplib_login(port, CAROL, CAROL_PW)[0], 235)  # another address

    def test_z_no_password_in_the_log(self):
        log = self.srv.all_logs()
        for secret in secret_forms():
            self.assertNotIn(secret, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
