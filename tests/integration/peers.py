"""Real mail servers as test peers on loopback: a private Postfix instance and Postfix's
smtp-sink, for testing Pigeon's outbound role (and its inbound role as Postfix's next hop).

PostfixPeer runs `/usr/lib/postfix/sbin/master -c DIR -d` in the foreground with its own
config, queue, data and mail directories under a temporary directory. It never reads or
writes /etc/postfix (the `postfix` command is not used: it insists that a second instance be
listed in /etc/postfix/main.cf). Mail for `user@postfix.test` is delivered by virtual(8) to
Maildir files the test can read; mail for `pigeon.test` is relayed to
`smtp:[127.0.0.1]:<relay_port>` (a Pigeon inbound listener the test started; until one is
set, RCPT for it gets 450); any other domain is refused at RCPT with 550 (default_transport =
error). Nothing leaves loopback and nothing asks DNS. See docs/testing-peers.md for why each
setting is there.

SmtpSink runs `smtp-sink -u nobody` saving each transaction to a file; scripted failures
(hard/soft reject, drop, 421) are options; restart() changes them on the same port.

Every wait is bounded; stop() kills the whole process group, reaps it and waits until no
process of it is left; an atexit hook stops whatever a test forgot, and a watchdog process
kills the group if the test process itself is killed.

Typical use:

    with PostfixPeer(relay_port=pigeon.ports["inbound"]) as pf:
        send(pf.port, "a@client.test", "bob@postfix.test", "Subject: hi\\r\\n\\r\\nhello\\r\\n")
        raw = pf.wait_for_messages("bob", 1)[0]
    with SmtpSink(hard=["RCPT"]) as sink:
        ... sink.restart()   # now accepting, same port
        sink.wait_for_messages(1)[0].data
"""

import atexit
import grp
import os
import pwd
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
MASTER = os.path.join(POSTFIX_DAEMONS, "master")
POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
SMTP_SINK = "/usr/sbin/smtp-sink"
OPENSSL = "/usr/bin/openssl"

_live = []


# ---------------------------------------------------------------------- helpers

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until it is true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def processes_in_group(pgid, zombies=False):
    """PIDs whose process group is pgid, from /proc (zombies only when asked)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may contain spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and (zombies or fields[0] != "Z"):
            out.append(int(name))
    return out


_subreaper = False


def _become_subreaper():
    """Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER).
    Postfix's master, on SIGTERM, signals its process group and exits without waiting, so its
    daemons become orphans; without this they would linger as zombies until PID 1 reaps them
    (which this sandbox's PID 1 does only after seconds). With it, stop() reaps them itself."""
    global _subreaper
    if _subreaper:
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) == 0:  # PR_SET_CHILD_SUBREAPER
            _subreaper = True
    except Exception:  # noqa: BLE001 - then PID 1 reaps them, later
        pass


_WATCHDOG = """
import os, signal, sys
sys.stdin.buffer.read()          # returns at EOF: the test process closed the pipe or died
try:
    os.killpg(int(sys.argv[1]), signal.SIGKILL)
except OSError:
    pass
"""


def _start_watchdog(pgid):
    """A small process, in its own session, that SIGKILLs process group pgid when the test
    process dies in any way (even by SIGKILL, as on a ctest timeout): it waits for EOF on a
    pipe whose only writer is this process. PR_SET_PDEATHSIG cannot do this for Postfix's
    master or smtp-sink: both change their effective uid, which clears it."""
    return subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(pgid)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop_watchdog(w):
    """Ends the watchdog without letting it fire (before the group it guards is gone, so
    it can never signal a reused process group id)."""
    if w is None:
        return
    try:
        w.kill()
        w.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        w.stdin.close()
    except OSError:
        pass


def _reap(pids):
    """Collects the exit status of those pids that are our (adopted) children."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _kill_group(proc, grace):
    """SIGTERM to the leader, then SIGKILL to its whole process group until nothing of it is
    left, reaping the members this process adopted. Raises if a live member survives."""
    if proc is None:
        return
    pgid = proc.pid
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        members = processes_in_group(pgid, zombies=True)
        _reap(members)
        if not processes_in_group(pgid, zombies=True) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    left = processes_in_group(pgid)
    if left:
        raise RuntimeError("processes of group %d survived SIGKILL: %r" % (pgid, left))


def tls_context():
    """A client context that accepts the peers' self-signed certificates."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class SendError(Exception):
    """A refusal while sending: stage is "connect", "ehlo", "starttls", "mail", "rcpt",
    "data" or "dot"; code and text are the server's reply (code 0 for a dropped connection)."""

    def __init__(self, stage, code, text):
        super().__init__("%s: %s %s" % (stage, code, text))
        self.stage = stage
        self.code = code
        self.text = text


def send(port, mail_from, rcpt, body, starttls=False, host="127.0.0.1", ehlo="client.test",
         timeout=15):
    """Sends one message with smtplib on a fresh connection. rcpt is a string or a list; body
    is bytes or str (UTF-8), a complete message with CRLF or LF line ends (smtplib dot-stuffs
    and normalises to CRLF). BODY=8BITMIME is declared when the body has 8-bit bytes and the
    server offers it. Returns (code, text) of the reply to the final "."; raises SendError on
    any refusal, with the stage and reply."""
    rcpts = [rcpt] if isinstance(rcpt, str) else list(rcpt)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    stage = "connect"
    try:
        s = smtplib.SMTP(host, port, local_hostname=ehlo, timeout=timeout)
    except smtplib.SMTPConnectError as e:
        raise SendError(stage, e.smtp_code, e.smtp_error.decode("utf-8", "replace"))
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise SendError(stage, 0, str(e))
    try:
        stage = "ehlo"
        code, text = s.ehlo()
        if code != 250:
            raise SendError(stage, code, text.decode("utf-8", "replace"))
        if starttls:
            stage = "starttls"
            if not s.has_extn("starttls"):
                raise SendError(stage, 0, "STARTTLS not offered")
            code, text = s.starttls(context=tls_context())
            if code != 220:
                raise SendError(stage, code, text.decode("utf-8", "replace"))
            stage = "ehlo"
            code, text = s.ehlo()
            if code != 250:
                raise SendError(stage, code, text.decode("utf-8", "replace"))
        options = []
        if any(b > 127 for b in data) and s.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        stage = "mail"
        code, text = s.mail(mail_from, options)
        if code != 250:
            raise SendError(stage, code, text.decode("utf-8", "replace"))
        for r in rcpts:
            stage = "rcpt"
            code, text = s.rcpt(r)
            if code not in (250, 251):
                raise SendError(stage, code, text.decode("utf-8", "replace"))
        stage = "data"
        # CRLF line ends; smtplib.data() dot-stuffs bytes and sends the final ".".
        data = re.sub(br"\r\n|\n|\r", b"\r\n", data)
        try:
            code, text = s.data(data)
        except smtplib.SMTPDataError as e:
            raise SendError(stage, e.smtp_code, e.smtp_error.decode("utf-8", "replace"))
        stage = "dot"
        if code != 250:
            raise SendError(stage, code, text.decode("utf-8", "replace"))
        result = (code, text.decode("utf-8", "replace"))
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
        return result
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise SendError(stage, 0, str(e))
    finally:
        s.close()


# ---------------------------------------------------------------------- Postfix

_MAIN_CF = """\
# Generated by tests/integration/peers.py: a private Postfix test peer. See docs/testing-peers.md.
compatibility_level = 3.6
config_directory = {conf}
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = {hostname}
mydomain = {hostname}
myorigin = {hostname}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Treat loopback clients as remote: headers are not rewritten or added (no Message-Id, Date,
# From added to what Pigeon sends), as a real MX on another host would behave.
local_header_rewrite_clients =
smtp_bind_address = 127.0.0.1
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
# Delivery to Maildir files under the temporary directory.
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
# Relay to the Pigeon under test; every other destination fails at once.
relay_domains = {relay_domain}
transport_maps = texthash:{conf}/transport
default_transport = error:5.7.1 test peer: no delivery outside loopback
relay_transport = $default_transport
relayhost =
# No DNS, ever.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
dnssec_probe =
# TLS: offered by smtpd with a self-signed certificate; opportunistic in the smtp client.
smtpd_tls_security_level = may
smtpd_tls_cert_file = {conf}/tls/cert.pem
smtpd_tls_key_file = {conf}/tls/key.pem
smtpd_tls_loglevel = 1
smtp_tls_security_level = may
smtp_tls_loglevel = 1
# Fast retries so a test that defers and then flushes does not wait minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
smtp_address_preference = ipv4
# Logging to a file in the temporary directory, through postlogd.
maillog_file = {log}
maillog_file_prefixes = {root}
"""

_MASTER_CF = """\
# Generated by tests/integration/peers.py. No service runs chrooted: the queue is in a
# temporary directory, not /var/spool/postfix with its chroot copies of /etc files.
{listen} inet n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# Queue subdirectories and their owners/modes, as in /etc/postfix/postfix-files.
_QUEUE_DIRS = [
    ("active", "postfix", None, 0o700), ("bounce", "postfix", None, 0o700),
    ("corrupt", "postfix", None, 0o700), ("defer", "postfix", None, 0o700),
    ("deferred", "postfix", None, 0o700), ("flush", "postfix", None, 0o700),
    ("hold", "postfix", None, 0o700), ("incoming", "postfix", None, 0o700),
    ("private", "postfix", None, 0o700), ("maildrop", "postfix", "postdrop", 0o730),
    ("public", "postfix", "postdrop", 0o710), ("pid", "root", None, 0o755),
    ("saved", "postfix", None, 0o700), ("trace", "postfix", None, 0o700),
]

DEFAULT_USERS = ("user", "alice", "bob", "carol", "postmaster")


class Managed:
    """A context manager over start() and cleanup(): entering starts it (unless it runs
    already), a start that fails cleans up before the exception goes on, leaving always
    cleans up. The peers here and the benchmark's servers (bench/servers.py) use it."""

    def __enter__(self):
        if getattr(self, "proc", None) is None:
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # For subclasses, around the process group they start (self.proc, start_new_session):
    def _track(self):
        """After Popen: a watchdog kills the group if this process dies, and stop_all() at
        exit stops it."""
        self._watchdog = _start_watchdog(self.proc.pid)
        _live.append(self)

    def _stop_group(self, grace):
        """Stops the group (SIGTERM, SIGKILL after grace seconds) and forgets it."""
        try:
            _stop_watchdog(self._watchdog)
            _kill_group(self.proc, grace=grace)
        finally:
            self._watchdog = None
            self.proc = None
            if self in _live:
                _live.remove(self)


class PostfixPeer(Managed):
    """A private Postfix on 127.0.0.1:<port>: virtual Maildir delivery for `domain`, relay for
    `relay_domain` to 127.0.0.1:<relay_port>. Context manager; stop() always cleans up."""

    def __init__(self, port=None, relay_port=None, domain="postfix.test",
                 relay_domain="pigeon.test", users=DEFAULT_USERS, hostname="postfix.test",
                 extra_main=None, mailbox_user="nobody", keep=False, max_lifetime=1800):
        self.port = port or free_port()
        self.fixed_port = port is not None
        self.relay_port = relay_port
        self.domain = domain
        self.relay_domain = relay_domain
        self.users = list(users)
        self.hostname = hostname
        self.extra_main = dict(extra_main or {})
        self.mailbox_user = mailbox_user
        self.keep = keep or os.environ.get("PEERS_KEEP") is not None
        self.max_lifetime = max_lifetime  # master -e: it exits by itself after this many s
        self.proc = None
        self._watchdog = None
        self._tmp = None
        self.root = None

    # paths ------------------------------------------------------------------
    @property
    def conf_dir(self):
        return os.path.join(self.root, "conf")

    @property
    def queue_dir(self):
        return os.path.join(self.root, "queue")

    @property
    def data_dir(self):
        return os.path.join(self.root, "data")

    @property
    def mail_dir(self):
        return os.path.join(self.root, "mail")

    @property
    def log_path(self):
        return os.path.join(self.root, "maillog")

    @property
    def master_output_path(self):
        return os.path.join(self.root, "master.out")

    def maildir(self, user):
        return os.path.join(self.mail_dir, self.domain, user)

    # setup ------------------------------------------------------------------
    def _prepare(self):
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="postfix-peer-")
            self.root = self._tmp.name
            if self.keep:
                self._tmp._finalizer.detach()  # noqa: SLF001 - PEERS_KEEP: leave it for a look
            # Postfix daemons run as `postfix` and chdir to the queue: the path must be
            # traversable (mkdtemp makes it 0700).
            os.chmod(self.root, 0o755)
        pf = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        mbox = pwd.getpwnam(self.mailbox_user)
        os.makedirs(os.path.join(self.conf_dir, "tls"), exist_ok=True)
        os.makedirs(self.queue_dir, exist_ok=True)
        os.chmod(self.queue_dir, 0o755)
        for name, owner, group, mode in _QUEUE_DIRS:
            p = os.path.join(self.queue_dir, name)
            os.makedirs(p, exist_ok=True)
            uid = 0 if owner == "root" else pf.pw_uid
            os.chown(p, uid, postdrop if group else (0 if owner == "root" else pf.pw_gid))
            os.chmod(p, mode)
        os.makedirs(self.data_dir, exist_ok=True)
        os.chown(self.data_dir, pf.pw_uid, pf.pw_gid)
        os.chmod(self.data_dir, 0o700)
        os.makedirs(self.mail_dir, exist_ok=True)
        os.chown(self.mail_dir, mbox.pw_uid, mbox.pw_gid)
        cert = os.path.join(self.conf_dir, "tls", "cert.pem")
        key = os.path.join(self.conf_dir, "tls", "key.pem")
        if not os.path.exists(cert):
            r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                                "-subj", "/CN=" + self.hostname, "-keyout", key, "-out", cert],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            if r.returncode != 0:
                raise RuntimeError("openssl failed: %s" % r.stdout.decode(errors="replace"))
            os.chmod(key, 0o600)
        values = dict(conf=self.conf_dir, queue=self.queue_dir, data=self.data_dir,
                      mail=self.mail_dir, log=self.log_path, root=self.root,
                      hostname=self.hostname, domain=self.domain,
                      relay_domain=self.relay_domain, uid=mbox.pw_uid, gid=mbox.pw_gid)
        main = _MAIN_CF.format(**values)
        for k, v in self.extra_main.items():
            main += "%s = %s\n" % (k, v)
        self._write("main.cf", main)
        self._write("master.cf", _MASTER_CF.format(listen="127.0.0.1:%d" % self.port))
        self._write("vmailbox", "".join("%s@%s %s/%s/\n" % (u, self.domain, self.domain, u)
                                        for u in self.users))
        # Always an explicit next hop: without one Postfix would look the domain up (A/MX).
        if self.relay_port:
            transport = "%s smtp:[127.0.0.1]:%d\n" % (self.relay_domain, self.relay_port)
        else:
            transport = "%s retry:4.4.1 test peer: relay port not set\n" % self.relay_domain
        self._write("transport", transport)

    def _write(self, name, text):
        path = os.path.join(self.conf_dir, name)
        with open(path, "w") as f:
            f.write(text)
        # Postfix re-reads a table or main.cf, 300 ms apart, until its mtime is in the past
        # (a guard against reading a file that an editor is still writing): back-date it.
        past = time.time() - 5
        os.utime(path, (past, past))

    # lifecycle --------------------------------------------------------------
    def start(self, ready_timeout=20, _attempt=0):
        assert self.proc is None, "already running"
        _become_subreaper()
        self._prepare()
        out = open(self.master_output_path, "ab")
        try:
            # -d: stay in the foreground, so the test owns the process; master makes itself
            # the leader of a new session and process group, which stop() kills whole.
            self.proc = subprocess.Popen([MASTER, "-c", self.conf_dir, "-d",
                                          "-e", str(int(self.max_lifetime))],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        self._track()
        ok = wait_until(lambda: self.proc.poll() is not None or port_accepts(self.port),
                        ready_timeout)
        if self.proc.poll() is not None or not ok:
            text = self.master_output() + self.log()
            self.stop()
            if "Address already in use" in text and not self.fixed_port and _attempt < 3:
                self.port = free_port()
                return self.start(ready_timeout, _attempt + 1)
            raise RuntimeError("postfix master did not start:\n" + text)
        return self

    def stop(self):
        """Stops master and everything it spawned (SIGTERM, then SIGKILL to the group)."""
        self._stop_group(grace=5)

    def restart(self):
        """Stops and starts again on the same port with the same queue and mailboxes."""
        self.stop()
        self.fixed_port, was = True, self.fixed_port
        try:
            return self.start()
        finally:
            self.fixed_port = was

    def set_relay_port(self, port):
        """Points the relay domain at 127.0.0.1:port; restarts Postfix if it runs (same port,
        same queue), since long-running daemons keep texthash tables in memory."""
        self.relay_port = port
        if self.proc is not None:
            self.restart()

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self._tmp is not None and not self.keep:
                self._tmp.cleanup()
            self._tmp = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The live processes of this peer (its process group: master or smtp-sink and every
        daemon it spawned)."""
        return processes_in_group(self.proc.pid) if self.proc is not None else []

    # mail -------------------------------------------------------------------
    def messages(self, user):
        """The bytes of each message delivered to user@domain (Maildir new/ and cur/), in
        delivery order. Line ends are LF, as Postfix stores them."""
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                p = os.path.join(d, name)
                try:
                    with open(p, "rb") as f:
                        found.append((os.stat(p).st_mtime_ns, name, f.read()))
                except FileNotFoundError:
                    pass
        return [raw for _t, _n, raw in sorted(found)]

    def wait_for_messages(self, user, n, timeout=20):
        """Waits (bounded) until user has at least n messages; returns messages(user)."""
        wait_until(lambda: len(self.messages(user)) >= n, timeout)
        return self.messages(user)

    def log(self):
        """The mail log (postlogd's maillog_file) as text."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (FileNotFoundError, TypeError):
            return ""

    def master_output(self):
        """What master and its early children wrote to stdout/stderr."""
        try:
            with open(self.master_output_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (FileNotFoundError, TypeError):
            return ""

    def postqueue(self, *args, timeout=30):
        return subprocess.run([POSTQUEUE, "-c", self.conf_dir] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)

    def flush(self):
        """`postqueue -f`: attempts delivery of all queued mail now."""
        r = self.postqueue("-f")
        if r.returncode != 0:
            raise RuntimeError("postqueue -f: %s" % r.stdout.decode(errors="replace"))

    def queue(self):
        """`postqueue -p` output ("Mail queue is empty" when it is)."""
        r = self.postqueue("-p")
        if r.returncode != 0:
            raise RuntimeError("postqueue -p: %s" % r.stdout.decode(errors="replace"))
        return r.stdout.decode("utf-8", "replace")

    def queue_empty(self):
        return "Mail queue is empty" in self.queue()

    def postconf(self, *args):
        """`postconf -c DIR ARGS` (e.g. "-n" for the effective non-default settings)."""
        r = subprocess.run([POSTCONF, "-c", self.conf_dir] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return r.stdout.decode("utf-8", "replace")


# ---------------------------------------------------------------------- smtp-sink

class SinkMessage:
    """One transaction saved by smtp-sink: helo, mail_from (the MAIL arguments), rcpts (the
    RCPT arguments), received (smtp-sink's own Received field) and data (the message as the
    client sent it, un-dot-stuffed, LF line ends)."""

    def __init__(self, path, raw):
        self.path = path
        self.raw = raw
        self.helo = None
        self.client_addr = None
        self.proto = None
        self.mail_args = None
        self.rcpt_args = []
        lines = raw.split(b"\n")
        i = 0
        while i < len(lines) and not lines[i].startswith(b"Received:"):
            key, _, value = lines[i].partition(b": ")
            value = value.decode("utf-8", "replace")
            if key == b"X-Client-Addr":
                self.client_addr = value
            elif key == b"X-Client-Proto":
                self.proto = value
            elif key == b"X-Helo-Args":
                self.helo = value
            elif key == b"X-Mail-Args":
                self.mail_args = value
            elif key == b"X-Rcpt-Args":
                self.rcpt_args.append(value)
            i += 1
        start = i
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
        self.received = b"\n".join(lines[start:i]).decode("utf-8", "replace")
        rest = b"\n".join(lines[i:])
        # smtp-sink appends one empty line after the message.
        self.data = rest[:-1] if rest.endswith(b"\n\n") else rest

    @property
    def mail_from(self):
        """The reverse-path in the MAIL arguments, without <>."""
        a = self.mail_args or ""
        return a[a.find("<") + 1:a.find(">")] if "<" in a else a.split(" ")[0]

    @property
    def rcpts(self):
        return [a[a.find("<") + 1:a.find(">")] if "<" in a else a for a in self.rcpt_args]

    def __repr__(self):
        return "SinkMessage(%r, from=%r, rcpts=%r, %d bytes)" % (
            os.path.basename(self.path), self.mail_from, self.rcpts, len(self.data))


class SmtpSink(Managed):
    """smtp-sink on 127.0.0.1:<port>, saving each transaction to a file in a directory.

    Scripted failures (lists of SMTP command names: CONNECT, HELO, EHLO, MAIL, RCPT, DATA,
    ".", RSET, NOOP, QUIT):
      hard=[...]        reply 5xx to those commands (-f; implies no PIPELINING)
      soft=[...]        reply 4xx (-r; implies no PIPELINING)
      disconnect=[...]  close the connection without a reply (-q)
      drop_421=[...]    reply 421 and close (-Q)
      extra_args=[...]  any other smtp-sink options (e.g. ["-w", "5"] to delay DATA)
    smtp-sink cannot fail only the first N attempts: start failing, then restart() with
    other options on the same port. It offers no STARTTLS."""

    def __init__(self, port=None, hard=(), soft=(), disconnect=(), drop_421=(),
                 extra_args=(), hostname="sink.test", keep=False):
        self.port = port or free_port()
        self.fixed_port = port is not None
        self.hostname = hostname
        self.options = dict(hard=list(hard), soft=list(soft), disconnect=list(disconnect),
                            drop_421=list(drop_421), extra_args=list(extra_args))
        self.keep = keep or os.environ.get("PEERS_KEEP") is not None
        self.proc = None
        self._watchdog = None
        self._tmp = None
        self.root = None
        self.starts = 0

    @property
    def dump_dir(self):
        return os.path.join(self.root, "messages")

    def _args(self):
        o = self.options
        args = [SMTP_SINK, "-u", "nobody", "-4", "-h", self.hostname,
                "-d", os.path.join(self.dump_dir, "%Y%m%d%H%M%S.")]
        for flag, key in (("-f", "hard"), ("-r", "soft"), ("-q", "disconnect"),
                          ("-Q", "drop_421")):
            if o[key]:
                args += [flag, ",".join(o[key])]
        args += list(o["extra_args"])
        args += ["127.0.0.1:%d" % self.port, "100"]
        return args

    def start(self, ready_timeout=10, _attempt=0):
        assert self.proc is None, "already running"
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-sink-")
            self.root = self._tmp.name
            if self.keep:
                self._tmp._finalizer.detach()  # noqa: SLF001
            os.chmod(self.root, 0o755)
            os.makedirs(self.dump_dir)
            nobody = pwd.getpwnam("nobody")
            # smtp-sink writes the files after switching to `nobody`.
            os.chown(self.dump_dir, nobody.pw_uid, nobody.pw_gid)
        self.starts += 1
        out = open(os.path.join(self.root, "sink-%d.out" % self.starts), "wb")
        try:
            self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        self._track()
        ok = wait_until(lambda: self.proc.poll() is not None or port_accepts(self.port),
                        ready_timeout)
        if self.proc.poll() is not None or not ok:
            text = self.output()
            self.stop()
            if "in use" in text and not self.fixed_port and _attempt < 3:
                self.port = free_port()
                return self.start(ready_timeout, _attempt + 1)
            raise RuntimeError("smtp-sink did not start: %r\n%s" % (self._args(), text))
        return self

    def output(self):
        """What smtp-sink printed in its current/last run."""
        try:
            with open(os.path.join(self.root, "sink-%d.out" % self.starts), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (FileNotFoundError, TypeError):
            return ""

    def restart(self, hard=(), soft=(), disconnect=(), drop_421=(), extra_args=()):
        """Stops and starts again on the same port with new failure options (default: none,
        i.e. accept everything). Saved messages are kept."""
        self.stop()
        self.options = dict(hard=list(hard), soft=list(soft), disconnect=list(disconnect),
                            drop_421=list(drop_421), extra_args=list(extra_args))
        self.fixed_port, was = True, self.fixed_port
        try:
            # The port was just released by our own process; smtp-sink binds with
            # SO_REUSEADDR, but give the kernel a bounded moment anyway.
            return self.start()
        finally:
            self.fixed_port = was

    def stop(self):
        self._stop_group(grace=3)

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self._tmp is not None and not self.keep:
                self._tmp.cleanup()
            self._tmp = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The live processes of this peer (its process group: master or smtp-sink and every
        daemon it spawned)."""
        return processes_in_group(self.proc.pid) if self.proc is not None else []

    def messages(self):
        """Every completed transaction saved so far, oldest first, as SinkMessage."""
        found = []
        for dirpath, _dirs, files in os.walk(self.dump_dir):
            for name in files:
                p = os.path.join(dirpath, name)
                try:
                    with open(p, "rb") as f:
                        raw = f.read()
                    found.append((os.stat(p).st_mtime_ns, p, raw))
                except FileNotFoundError:
                    pass
        out = []
        for _t, p, raw in sorted(found):
            # A file is complete once smtp-sink has written its Received field and the
            # trailing empty line after the message.
            if b"\nReceived:" in raw and raw.endswith(b"\n\n"):
                out.append(SinkMessage(p, raw))
        return out

    def wait_for_messages(self, n, timeout=20):
        wait_until(lambda: len(self.messages()) >= n, timeout)
        return self.messages()


# ---------------------------------------------------------------------- cleanup at exit

def stop_all():
    for peer in list(_live):
        try:
            peer.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(stop_all)
