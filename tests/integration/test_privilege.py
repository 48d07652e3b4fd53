#!/usr/bin/python3
"""Least privilege, against the real binary (docs/operations.md "Privileges and systemd"):

- started as root with user = "nobody", the server binds a port below 1024 and reads its keys
  as root, then runs as nobody:nogroup: /proc/PID/status shows every uid and gid (real,
  effective, saved, filesystem) and the only group changed, and no capability left, on every
  thread; every file it creates in the state directory is nobody's, and none is open to others;
- as root without `user` (and without allow_root) it refuses to start, and says why;
- a TLS or DKIM key that others may read is refused with the file's name; a state directory an
  earlier run left to root is refused with the chown that fixes it;
- sockets passed the way systemd passes them (systemd-socket-activate, systemd's own launcher,
  here binding a port below 1024 as root, then setpriv to nobody): the server serves them without
  ever having been root, tells NOTIFY_SOCKET READY=1, pings WATCHDOG=1 at half of WATCHDOG_USEC,
  and says STOPPING=1 at SIGTERM; a passed socket that no listener names is an error.

Needs root (as the integration tests run in CI); every server here stops by itself.
usage: test_privilege.py PIGEON_BINARY   (or PIGEON_BIN=...)
"""
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pigeon_harness as h  # noqa: E402

BIN = h.pigeon_binary()
h.strip_binary_arg()

NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrnam("nogroup")
BOB = h.address("bob")


def privileged_port():
    """A free TCP port below 1024 on 127.0.0.1 (binding it needs root)."""
    for port in range(1020, 900, -1):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below 1024")


def three_ports(first=None):
    ports = [first or h.peers.free_port()]
    while len(ports) < 3:
        p = h.peers.free_port()
        if p not in ports:
            ports.append(p)
    return ports


def status_fields(pid):
    """/proc/PID/status as a dict of field -> value text (the process must be alive)."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def thread_credentials(pid):
    """(Uid, Gid, Groups) of every thread of PID."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                s = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        out.append((s["Uid"].split(), s["Gid"].split(), s.get("Groups", "").split()))
    return out


class Setup:
    """A configuration file (outside the state directory, root's) and a fresh state directory
    path inside a directory every user may traverse, as /var/lib is."""

    def __init__(self, top="", ports=None, extra=""):
        self.root = tempfile.mkdtemp(prefix="pigeon-priv-")
        os.chmod(self.root, 0o755)
        self.state = os.path.join(self.root, "state")
        self.ports = ports or three_ports()
        zone = os.path.join(self.root, "zone.db")
        with open(zone, "w") as f:
            f.write(h.DEFAULT_ZONE)
        lines = ["hostname = %s" % h._toml_str(h.HOSTNAME),
                 "local_domains = [%s]" % h._toml_str(h.DOMAIN),
                 "state_dir = %s" % h._toml_str(self.state), top, 'log_level = "info"',
                 "threads = 2", "", "[limits]", "shutdown_grace_seconds = 2",
                 "", "[dns]", "zone_file = %s" % h._toml_str(zone), "", "[dmarc]", "check = false"]
        for port, role, tls in zip(self.ports, ("inbound", "submission", "submission"),
                                   ("starttls", "starttls", "implicit")):
            lines += ["", "[[listeners]]", 'address = "127.0.0.1"', "port = %d" % port,
                      "role = %s" % h._toml_str(role), "tls = %s" % h._toml_str(tls)]
        for user in ("alice", "bob"):
            lines += ["", "[[users]]", "address = %s" % h._toml_str(h.address(user)),
                      "password_hash = %s" % h._toml_str(h.hash_password(BIN, h.password(user)))]
        self.config = os.path.join(self.root, "pigeon.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        self.log = os.path.join(self.root, "stderr.log")

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def env():
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    for k in ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        e.pop(k, None)
    return e


def start(setup, argv=None, extra_env=None):
    def child():
        h._die_with_parent()
        os.umask(0o022)  # what a shell gives: private modes must be the server's doing
    e = env()
    e.update(extra_env or {})
    log = open(setup.log, "wb")
    proc = subprocess.Popen(argv or [BIN, "serve", "--config", setup.config], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, env=e, preexec_fn=child)
    log.close()
    return proc


def wait_ready(setup, proc, timeout=60):
    ok = h.wait_until(lambda: proc.poll() is not None or " ready" in setup.log_text(), timeout)
    if proc.poll() is not None or not ok:
        proc.kill()
        proc.wait(timeout=30)
        raise AssertionError("pigeon did not become ready:\n" + setup.log_text())


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            return "killed"
    return proc.returncode


def refusal(setup, timeout=30):
    """Runs the server expecting it to refuse to start: (exit status, its output)."""
    proc = start(setup)
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise AssertionError("the server started instead of refusing:\n" + setup.log_text())
    return status, setup.log_text()


def deliver(port, token):
    body = "From: <a@example.org>\r\nSubject: %s\r\n\r\n%s\r\n" % (token, token)
    r = h.send_message(port, "a@example.org", [BOB], body)
    assert r.code == 250, r.lines


def wait_delivered(state, token, timeout=20):
    new = os.path.join(state, "mail", h.DOMAIN, "bob", "Maildir", "new")

    def found():
        if not os.path.isdir(new):
            return None
        for name in os.listdir(new):
            with open(os.path.join(new, name), "rb") as f:
                if token.encode() in f.read():
                    return os.path.join(new, name)
        return None
    return h.wait_until(found, timeout)


def self_signed(directory, name="tls"):
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=" + h.HOSTNAME, "-days", "2"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


class StartedAsRoot(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")

    def test_drops_to_the_service_user_after_binding_a_privileged_port(self):
        s = Setup(top='user = "nobody"\ngroup = "nogroup"', ports=three_ports(privileged_port()))
        self.addCleanup(s.cleanup)
        proc = start(s)
        try:
            wait_ready(s, proc)
            st = status_fields(proc.pid)
            self.assertEqual(st["Uid"].split(), [str(NOBODY.pw_uid)] * 4, st["Uid"])
            self.assertEqual(st["Gid"].split(), [str(NOGROUP.gr_gid)] * 4, st["Gid"])
            self.assertEqual(st["Groups"].split(), [str(NOGROUP.gr_gid)], st["Groups"])
            for cap in ("CapPrm", "CapEff", "CapAmb"):
                self.assertEqual(int(st[cap], 16), 0, "%s %s" % (cap, st[cap]))
            threads = thread_credentials(proc.pid)
            self.assertGreater(len(threads), 1)
            for uids, gids, groups in threads:
                self.assertEqual(uids, [str(NOBODY.pw_uid)] * 4)
                self.assertEqual(gids, [str(NOGROUP.gr_gid)] * 4)
                self.assertEqual(groups, [str(NOGROUP.gr_gid)])
            self.assertIn("privileges: now nobody:nogroup", s.log_text())
            # The privileged port serves, and mail lands in a Maildir the server created as nobody.
            deliver(s.ports[0], "priv-token-1")
            self.assertTrue(wait_delivered(s.state, "priv-token-1"), s.log_text())
            r = h.send_message(s.ports[1], h.address("alice"), [BOB],
                               "From: <%s>\r\nSubject: t\r\n\r\npriv-token-2\r\n" % h.address("alice"),
                               tls=True, auth=(h.address("alice"), h.password("alice")))
            self.assertEqual(r.code, 250, r.lines)
            self.assertTrue(wait_delivered(s.state, "priv-token-2"), s.log_text())
        finally:
            self.assertEqual(stop(proc), 0, s.log_text())
        checked = 0
        for top, dirs, files in os.walk(s.state):
            for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                info = os.lstat(name)
                self.assertEqual(info.st_uid, NOBODY.pw_uid, "%s is uid %d" % (name, info.st_uid))
                self.assertEqual(info.st_gid, NOGROUP.gr_gid, "%s is gid %d" % (name, info.st_gid))
                self.assertEqual(stat.S_IMODE(info.st_mode) & 0o007, 0,
                                 "%s is open to others: %o" % (name, stat.S_IMODE(info.st_mode)))
                checked += 1
        # The state directory, its lock, the generated certificate, the spool, the Maildir.
        self.assertGreater(checked, 10)
        self.assertEqual(stat.S_IMODE(os.stat(s.state).st_mode), 0o700)
        # A second start: everything it finds is already nobody's, so it starts again, even as
        # a root without CAP_DAC_OVERRIDE (as the packaged unit's bounding set has it): root
        # only makes the state directory; what is inside is touched after the drop.
        proc = start(s, ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--",
                         BIN, "serve", "--config", s.config])
        try:
            wait_ready(s, proc)
        finally:
            self.assertEqual(stop(proc), 0, s.log_text())

    def test_reload_from_root_reads_keys_as_the_service_user(self):
        s0 = Setup()
        self.addCleanup(s0.cleanup)
        cert, key = self_signed(s0.root)  # root's, 0600: readable at start (as root) only
        s = Setup(top='user = "nobody"\ngroup = "nogroup"',
                  extra="\n[tls]\ncert_file = %s\nkey_file = %s\n" % (h._toml_str(cert), h._toml_str(key)))
        self.addCleanup(s.cleanup)
        proc = start(s)
        try:
            wait_ready(s, proc)

            def reload():  # as certbot's deploy hook runs it: root, with the server's config
                return subprocess.run([BIN, "reload", "--config", s.config], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env(), timeout=60)
            r = reload()
            self.assertEqual(r.returncode, 1, r.stdout)
            err = r.stderr.decode()
            self.assertIn("cannot read %s as nobody" % key, err)
            self.assertIn("chgrp nogroup %s; chmod 0640 %s" % (key, key), err)
            self.assertTrue(proc.poll() is None)
            os.chown(key, 0, NOGROUP.gr_gid)
            os.chmod(key, 0o640)
            r = reload()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("reloaded " + s.config, r.stdout.decode())
            deliver(s.ports[0], "after-reload-token")
            self.assertTrue(wait_delivered(s.state, "after-reload-token"), s.log_text())
        finally:
            self.assertEqual(stop(proc), 0, s.log_text())
        # The CLI acted as nobody: nothing it left in the state directory is root's.
        for top, dirs, files in os.walk(s.state):
            for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                self.assertEqual(os.lstat(name).st_uid, NOBODY.pw_uid, name)

    def test_root_without_user_refuses_to_start_and_says_why(self):
        s = Setup()
        self.addCleanup(s.cleanup)
        status, out = refusal(s)
        self.assertNotEqual(status, 0)
        self.assertIn("refusing to run as root", out)
        self.assertIn('user = "pigeon"', out)
        self.assertIn("allow_root = true", out)
        self.assertFalse(os.path.exists(s.state), "nothing may be created before the refusal")

    def test_allow_root_keeps_root_and_warns(self):
        s = Setup(top="allow_root = true")
        self.addCleanup(s.cleanup)
        proc = start(s)
        try:
            wait_ready(s, proc)
            self.assertEqual(status_fields(proc.pid)["Uid"].split(), ["0"] * 4)
            self.assertIn("warning: running as root (allow_root = true)", s.log_text())
        finally:
            stop(proc)

    def test_an_unknown_user_is_refused_by_name(self):
        s = Setup(top='user = "pigeon-no-such-user"')
        self.addCleanup(s.cleanup)
        status, out = refusal(s)
        self.assertNotEqual(status, 0)
        self.assertIn('user = "pigeon-no-such-user": no such user', out)

    def test_keys_others_may_read_are_refused(self):
        s0 = Setup()
        self.addCleanup(s0.cleanup)
        cert, key = self_signed(s0.root)
        dkim = os.path.join(s0.root, "dkim.key")
        with open(dkim, "w") as f:  # dkimpy's Ed25519 format: base64 of the 32-byte seed
            f.write("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n")
        os.chmod(dkim, 0o600)
        extra = ('\n[tls]\ncert_file = %s\nkey_file = %s\n\n[[dkim.keys]]\ndomain = "%s"\nselector = "s1"\n'
                 'key_file = %s\n' % (h._toml_str(cert), h._toml_str(key), h.DOMAIN, h._toml_str(dkim)))
        for bad in (key, dkim):
            with self.subTest(key=os.path.basename(bad)):
                s = Setup(top='user = "nobody"', extra=extra)
                self.addCleanup(s.cleanup)
                os.chmod(bad, 0o644)
                status, out = refusal(s)
                os.chmod(bad, 0o600)
                self.assertNotEqual(status, 0)
                self.assertIn(bad + " is a private key readable or writable by every user (mode 0644)", out)
                self.assertIn("chmod o-rwx " + bad, out)
        # With both keys private (and root's: mode 0600, owner root), the server reads them
        # before the drop and serves with them.
        s = Setup(top='user = "nobody"', extra=extra)
        self.addCleanup(s.cleanup)
        proc = start(s)
        try:
            wait_ready(s, proc)
            self.assertIn("TLS: certificate " + cert, s.log_text())
            # openssl -days 2: within the 14 days that get a warning at start.
            self.assertRegex(s.log_text(), r"warn pigeon/master\[\d+\]: warning: TLS: the certificate for mx.test.example expires on "
                                           r"\S+ \S+ UTC, in 1 day\(s\): renew it")
            self.assertIn("DKIM: submission signs mail from " + h.DOMAIN, s.log_text())
            with h.SmtpClient(s.ports[2], implicit_tls=True) as c:
                c.expect(220)
        finally:
            stop(proc)

    def test_a_state_directory_left_to_root_is_refused_with_the_fix(self):
        s = Setup(top="allow_root = true")
        self.addCleanup(s.cleanup)
        proc = start(s)
        wait_ready(s, proc)
        stop(proc)
        with open(s.config) as f:
            text = f.read()
        with open(s.config, "w") as f:
            f.write(text.replace("allow_root = true", 'user = "nobody"'))
        status, out = refusal(s)
        self.assertNotEqual(status, 0)
        self.assertIn("does not belong to nobody", out)
        self.assertIn("chown -R nobody:nogroup " + s.state, out)


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; nobody may send to it."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.settimeout(0.2)
        self.messages = []

    def wait_for(self, text, timeout, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for m in self.messages if text in m.split("\n")) >= count:
                return True
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return sum(1 for m in self.messages if text in m.split("\n")) >= count

    def close(self):
        self.sock.close()


class SocketActivation(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        if shutil.which("systemd-socket-activate") is None:
            self.fail("systemd-socket-activate (Debian's systemd package) is missing")

    def launch(self, setup, listen, notify=None, watchdog_usec=None):
        argv = ["systemd-socket-activate"]
        for port in listen:
            argv += ["-l", "127.0.0.1:%d" % port]
        if notify:
            argv += ["-E", "NOTIFY_SOCKET=" + notify.path]
        if watchdog_usec:
            argv += ["-E", "WATCHDOG_USEC=%d" % watchdog_usec]
        # The launcher binds as root; the server itself is nobody from its first instruction.
        argv += ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                 BIN, "serve", "--config", setup.config]
        return start(setup, argv, extra_env={"ASAN_OPTIONS": "detect_leaks=0"})

    def test_passed_sockets_serve_without_root_and_systemd_hears_the_states(self):
        ports = three_ports(privileged_port())
        s = Setup(top='user = "nobody"', ports=ports)
        self.addCleanup(s.cleanup)
        os.mkdir(s.state, 0o700)
        os.chown(s.state, NOBODY.pw_uid, NOGROUP.gr_gid)
        notify = NotifySocket(s.root)
        self.addCleanup(notify.close)
        proc = self.launch(s, ports, notify, watchdog_usec=400000)
        try:
            # systemd-socket-activate starts the server at the first connection, which waits
            # in the passed socket's backlog meanwhile.
            self.assertTrue(h.wait_until(lambda: proc.poll() is not None or "Listening on" in s.log_text(), 20),
                            s.log_text())
            deliver(ports[0], "activated-token")
            self.assertTrue(notify.wait_for("READY=1", 30), notify.messages)
            self.assertIn("3 socket(s) passed by the service manager", s.log_text())
            self.assertIn("running as nobody (started so", s.log_text())
            st = status_fields(proc.pid)
            self.assertEqual(st["Uid"].split(), [str(NOBODY.pw_uid)] * 4)
            self.assertTrue(wait_delivered(s.state, "activated-token"), s.log_text())
            # Pings at half the interval: several within a second and a half.
            self.assertTrue(notify.wait_for("WATCHDOG=1", 5, count=4), notify.messages)
            # A reload says RELOADING=1, then READY=1 again, as Type=notify expects.
            proc.send_signal(signal.SIGHUP)
            self.assertTrue(notify.wait_for("RELOADING=1", 30), notify.messages)
            self.assertTrue(notify.wait_for("READY=1", 30, count=2), notify.messages)
            self.assertTrue(h.wait_until(lambda: "reload: done" in s.log_text(), 10), s.log_text())
        finally:
            status = stop(proc)
        self.assertEqual(status, 0, s.log_text())
        self.assertTrue(notify.wait_for("STOPPING=1", 5), notify.messages)

    def test_a_passed_socket_no_listener_names_is_an_error(self):
        s = Setup(top='user = "nobody"')
        self.addCleanup(s.cleanup)
        os.mkdir(s.state, 0o700)
        os.chown(s.state, NOBODY.pw_uid, NOGROUP.gr_gid)
        stray = three_ports()[0]
        while stray in s.ports:
            stray = three_ports()[0]
        proc = self.launch(s, s.ports + [stray])
        try:
            self.assertTrue(h.wait_until(lambda: "Listening on" in s.log_text(), 20), s.log_text())
            try:
                with socket.create_connection(("127.0.0.1", s.ports[0]), timeout=5) as c:
                    c.recv(100)
            except OSError:
                pass
            proc.wait(timeout=30)
        finally:
            stop(proc)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("passed a socket for 127.0.0.1:%d, which no [[listeners]] entry names" % stray,
                      s.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
