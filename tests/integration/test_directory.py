#!/usr/bin/python3
"""[directory] backends against the real `pigeon serve`: PostgreSQL (a private server started
here with initdb and pg_ctl as the postgres user, on a loopback port, stopped at the end) and
Dovecot's passwd-file format.

PostgreSQL:
  - a user who exists only in the table gets mail (RCPT 250, the message in their Maildir), an
    alias in the table delivers to its user, an unknown address gets 550 5.1.1, and an address
    with a quote and a semicolon is only data (550, the table still answers);
  - AUTH on submission with the table's {SHA512-CRYPT} hash works, and MAIL and From: as the
    user's own address and alias are accepted, another address is 553;
  - PostgreSQL stopped: RCPT 451 4.3.0 and AUTH 454 4.7.0, never 550 or 535, not counted as
    failed logins, and the server keeps serving (other answers unchanged); started again:
    accepted again;
  - mail for the user that reaches local delivery while PostgreSQL is down (through pigeon
    sendmail, which does not ask at submission) stays queued, not bounced, and is delivered
    once it is back;
  - a user deleted from the table is refused once the cache time has passed.
passwd-file:
  - {SHA512-CRYPT} and {PLAIN} users receive and log in (the {PLAIN} one warned about at
    start); an unknown user 550 5.1.1; a wrong password 535; a user added to the file is
    known after `pigeon reload`; a file with an unknown scheme is refused naming its line.

usage: test_directory.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import base64
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated since 3.11, still in Debian 12's Python: SHA512-CRYPT hashes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()
PG = "/usr/lib/postgresql/15/bin"
SENDER = "someone@example.org"  # example.org's SPF allows loopback (pigeon_harness.DEFAULT_ZONE)
DANA_PW = "dana-Pg-pw!7"
CACHE_SECONDS = 2


def sha512_crypt(pw):
    return "{SHA512-CRYPT}" + crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512))


class Postgres:
    """A private PostgreSQL 15 in a temporary directory, as recipes.md does it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pigeon-pg-")
        os.chmod(self.dir, 0o755)
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = h.free_port()
        self.as_postgres("%s/initdb -D %s/data -A trust -U pigeon >/dev/null" % (PG, self.dir))
        self.start()

    def as_postgres(self, command, timeout=60):
        r = subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (command, r.stdout.decode(errors="replace")))

    def start(self):
        self.as_postgres("%s/pg_ctl -D %s/data -o '-k %s -c listen_addresses=127.0.0.1 -p %d' -l %s/log -w -t 30 start"
                         " >/dev/null" % (PG, self.dir, self.dir, self.port, self.dir))

    def stop(self):
        self.as_postgres("%s/pg_ctl -D %s/data -m fast -w -t 30 stop >/dev/null" % (PG, self.dir))

    def sql(self, text):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "pigeon", "-d", "postgres",
                            "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", text],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def cleanup(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def rcpt_reply(port, to):
    with h.SmtpClient(port) as c:
        c.expect(220)
        c.cmd("EHLO client.test", 250)
        c.cmd("MAIL FROM:<%s>" % SENDER, 250)
        return c.cmd("RCPT TO:<%s>" % to)


def login(port, user, pw):
    """EHLO, STARTTLS, AUTH PLAIN on submission: the reply to AUTH and the open client."""
    c = h.SmtpClient(port)
    c.expect(220)
    c.cmd("EHLO client.test", 250)
    c.starttls()
    c.cmd("EHLO client.test", 250)
    token = base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()
    return c.cmd("AUTH PLAIN " + token), c


def directory_config(lines):
    return "\n[directory]\n" + "\n".join(lines) + "\n"


class PostgresDirectory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.pg.sql("CREATE TABLE users (address text PRIMARY KEY, password text NOT NULL);"
                   "CREATE TABLE aliases (alias text PRIMARY KEY, address text NOT NULL REFERENCES users);"
                   "INSERT INTO users VALUES ('dana@test.example', '%s');"
                   "INSERT INTO users VALUES ('erin@test.example', '%s');"
                   "INSERT INTO aliases VALUES ('d.ana@test.example', 'dana@test.example');"
                   % (sha512_crypt(DANA_PW), sha512_crypt("erin-pw")))
        conninfo = "host=127.0.0.1 port=%d user=pigeon dbname=postgres" % cls.pg.port
        cls.public = tempfile.mkdtemp(prefix="pigeon-dir-sock-")  # pigeon sendmail's socket
        os.chmod(cls.public, 0o755)
        cls.socket = os.path.join(cls.public, "sendmail.sock")
        # Two failed logins per minute and the client is throttled: the AUTHs refused while
        # PostgreSQL is down must not count, or the login after it comes back is refused.
        cls.srv = h.PigeonServer(BIN, toml_users=False, limits={"auth_failures_per_ip_per_minute": 2},
                                 extra_config=directory_config([
            'backend = "postgresql"',
            'conninfo = "%s"' % conninfo,
            'recipient_query = "SELECT address FROM users WHERE address = $1 '
            'UNION ALL SELECT address FROM aliases WHERE alias = $1"',
            'login_query = "SELECT password FROM users WHERE address = $1"',
            'sender_query = "SELECT alias FROM aliases WHERE address = $1"',
            "cache_seconds = %d" % CACHE_SECONDS,
            "timeout_ms = 1000",
        ]) + "\n[sendmail]\nsocket = %s\n" % h._toml_str(cls.socket)).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.pg.cleanup()
        shutil.rmtree(cls.public, ignore_errors=True)

    def wait_past_cache(self):
        time.sleep(CACHE_SECONDS + 0.5)

    def test_the_whole_story(self):
        srv, inbound, sub = self.srv, self.srv.ports["inbound"], self.srv.ports["submission"]
        self.assertIn("directory: users from PostgreSQL", srv.log_text())
        # A user only in PostgreSQL gets mail; an alias there reaches them too.
        r = h.send_message(inbound, SENDER, ["dana@test.example", "d.ana@test.example"],
                           "From: <%s>\r\nSubject: pg\r\n\r\ntoken-pg-1\r\n" % SENDER)
        self.assertEqual(r.code, 250, r.lines)
        self.assertEqual(len(srv.wait_for_messages("dana", 1, token="token-pg-1")), 1)
        unknown = rcpt_reply(inbound, "nobody@test.example")
        self.assertEqual(unknown.lines, ["550 5.1.1 <nobody@test.example>: Recipient address rejected: User unknown"])
        # A quote and a semicolon are data, never SQL.
        evil = rcpt_reply(inbound, "\"o'x;drop table users;--\"@test.example")
        self.assertTrue(evil.lines[0].startswith("550 5.1.1"), evil.lines)
        self.assertEqual(self.pg.sql("SELECT count(*) FROM users").strip(), "2")

        # AUTH with the table's SHA512-CRYPT hash; MAIL and From: as the user's own addresses.
        auth, c = login(sub, "dana@test.example", DANA_PW)
        with c:
            self.assertEqual(auth.code, 235, auth.lines)
            self.assertEqual(c.cmd("MAIL FROM:<alice@test.example>").code, 553)
            c.cmd("RSET", 250)
            c.cmd("MAIL FROM:<d.ana@test.example>", 250)
            c.cmd("RCPT TO:<dana@test.example>", 250)
            c.cmd("DATA", 354)
            c.send("From: <d.ana@test.example>\r\nSubject: self\r\n\r\ntoken-pg-2\r\n.\r\n")
            self.assertEqual(c.reply().code, 250)
        self.assertEqual(len(srv.wait_for_messages("dana", 1, token="token-pg-2")), 1)
        bad, c = login(sub, "dana@test.example", "wrong")
        c.close()
        self.assertEqual(bad.code, 535, bad.lines)

        # PostgreSQL stopped: temporary answers only, and the server keeps serving.
        self.pg.stop()
        self.wait_past_cache()
        down = rcpt_reply(inbound, "dana@test.example")
        self.assertEqual(down.lines, ["451 4.3.0 User directory temporarily unavailable; try again later"])
        self.assertTrue(rcpt_reply(inbound, "nobody@test.example").lines[0].startswith("451 4.3.0"))
        for _ in range(3):
            auth, c = login(sub, "dana@test.example", DANA_PW)
            c.close()
            self.assertEqual(auth.code, 454, auth.lines)
            self.assertTrue(auth.lines[0].startswith("454 4.7.0"), auth.lines)
        self.assertEqual(rcpt_reply(inbound, "x@elsewhere.example").code, 554)  # still answering
        self.assertIn("user directory unavailable", srv.log_text())
        # Mail for her that reaches local delivery now (pigeon sendmail does not ask the
        # directory at submission) is deferred, never bounced.
        r = subprocess.run([BIN, "sendmail", "-i", "dana@test.example"], input=b"Subject: later\n\ntoken-pg-3\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                           env=dict(os.environ, PIGEON_SENDMAIL_SOCKET=self.socket, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(r.returncode, 0, r.stderr)
        deferred = re.compile(r"to=<dana@test\.example>.*status=deferred \(user directory unavailable")
        self.assertTrue(h.wait_until(lambda: deferred.search(srv.log_text()), 20), srv.log_text()[-2000:])
        queued = json.loads(srv.pigeon("queue", "list", "--json").stdout)
        later = [m for m in queued if any(rc["address"] == "<dana@test.example>" and rc["state"] == "pending"
                                          for rc in m["recipients"])]
        self.assertEqual(len(later), 1, queued)
        self.assertNotIn("status=bounced", srv.log_text())

        # Started again: accepted again (a new connection is made).
        self.pg.start()
        self.assertTrue(h.wait_until(lambda: rcpt_reply(inbound, "dana@test.example").code == 250, 20))
        auth, c = login(sub, "dana@test.example", DANA_PW)
        c.close()
        self.assertEqual(auth.code, 235, auth.lines)
        # The deferred message, woken (hold and release), now reaches her Maildir.
        for verb in ("hold", "release"):
            r = srv.pigeon("queue", verb, later[0]["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(srv.wait_for_messages("dana", 1, token="token-pg-3")), 1, srv.log_text()[-2000:])

        # Deleted from the table: refused once the cache time has passed.
        self.pg.sql("DELETE FROM aliases; DELETE FROM users WHERE address = 'dana@test.example'")
        self.wait_past_cache()
        gone = rcpt_reply(inbound, "dana@test.example")
        self.assertTrue(gone.lines[0].startswith("550 5.1.1"), gone.lines)
        self.assertTrue(srv.running())


class PasswdFileDirectory(unittest.TestCase):
    def test_receive_login_reload_and_a_bad_file(self):
        d = tempfile.mkdtemp(prefix="pigeon-passwd-")
        try:
            users = os.path.join(d, "users")
            with open(users, "w") as f:
                f.write("# Dovecot passwd-file\n"
                        "fred@test.example:%s:1000:1000::/home/fred::\n"
                        "gina@test.example:{PLAIN}gina-pw\n" % sha512_crypt("fred-pw"))
            srv = h.PigeonServer(BIN, toml_users=False, extra_config=directory_config([
                'backend = "passwd-file"', 'path = "%s"' % users, "cache_seconds = 0"]))
            with srv:  # started by __enter__
                self.assertIn("gina@test.example has a {PLAIN} password", srv.log_text())
                inbound, sub = srv.ports["inbound"], srv.ports["submission"]
                r = h.send_message(inbound, SENDER, ["fred@test.example", "gina@test.example"],
                                   "From: <%s>\r\n\r\ntoken-pf-1\r\n" % SENDER)
                self.assertEqual(r.code, 250, r.lines)
                self.assertEqual(len(srv.wait_for_messages("fred", 1, token="token-pf-1")), 1)
                self.assertEqual(len(srv.wait_for_messages("gina", 1, token="token-pf-1")), 1)
                self.assertTrue(rcpt_reply(inbound, "hank@test.example").lines[0].startswith("550 5.1.1"))
                for user, pw, code in (("fred@test.example", "fred-pw", 235), ("gina@test.example", "gina-pw", 235),
                                       ("fred@test.example", "gina-pw", 535), ("hank@test.example", "x", 535)):
                    auth, c = login(sub, user, pw)
                    c.close()
                    self.assertEqual(auth.code, code, (user, auth.lines))
                # A user added to the file is known after a reload.
                with open(users, "a") as f:
                    f.write("hank@test.example:{PLAIN}hank-pw\n")
                r = srv.pigeon("reload")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("users from [directory]", r.stdout.decode() + srv.log_text())
                self.assertEqual(rcpt_reply(inbound, "hank@test.example").code, 250)
                # A bad line: the reload is refused naming it, and the old file keeps serving.
                with open(users, "a") as f:
                    f.write("ivan@test.example:{MD5-CRYPT}$1$ab$cd\n")
                r = srv.pigeon("reload")
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("%s:5: unknown password scheme {MD5-CRYPT}" % users,
                              r.stdout.decode() + r.stderr.decode() + srv.log_text())
                self.assertEqual(rcpt_reply(inbound, "hank@test.example").code, 250)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
