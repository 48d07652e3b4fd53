"""Test harness for Pigeon's integration tests: starts `pigeon serve` on loopback.

Every server started here stops by itself: stop() sends SIGTERM, then SIGKILL after a bound,
and an atexit hook stops whatever a test forgot. Every wait is bounded in time; every socket
has a timeout.

The pigeon binary comes from argv[1] (ctest passes $<TARGET_FILE:pigeon>), else from the
environment variable PIGEON_BIN.

Typical use:

    bin = pigeon_binary()
    with PigeonServer(bin, limits={"max_recipients": 100}) as srv:
        c = SmtpClient(srv.ports["inbound"]); c.expect(220); c.cmd("EHLO x", 250) ...
        srv.wait_for_messages("bob", 1)
"""

import atexit
import base64
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (tests/integration/peers.py; importing it only registers its exit cleanup)

HOSTNAME = "mx.test.example"
DOMAIN = "test.example"
USERS = {
    # login -> (password, aliases)
    "alice": ("alice-S3cret-pw!", ["sales"]),
    "bob": ("bob-An0ther-pw?", []),
}

_live_servers = []
_hash_cache = {}


def pigeon_binary():
    """The pigeon binary: argv[1] if it names an executable, else $PIGEON_BIN."""
    for arg in sys.argv[1:]:
        if os.path.isfile(arg) and os.access(arg, os.X_OK):
            return os.path.abspath(arg)
    env = os.environ.get("PIGEON_BIN")
    if env and os.path.isfile(env):
        return os.path.abspath(env)
    raise SystemExit("usage: %s PIGEON_BINARY (or set PIGEON_BIN)" % sys.argv[0])


def strip_binary_arg():
    """Removes the binary path from sys.argv so unittest.main() does not see it."""
    sys.argv[:] = [sys.argv[0]] + [a for a in sys.argv[1:]
                                   if not (os.path.isfile(a) and os.access(a, os.X_OK))]


def address(user):
    """user@DOMAIN; a text with an "@" ("@DOMAIN", a catch-all) as it is."""
    return user if "@" in user else "%s@%s" % (user, DOMAIN)


def password(user):
    return USERS[user][0]


def secret_strings():
    """Every form in which a test password could leak into a log."""
    out = []
    for user, (pw, _aliases) in USERS.items():
        addr = address(user)
        out.append(pw)
        out.append(base64.b64encode(pw.encode()).decode())
        out.append(base64.b64encode(("\0%s\0%s" % (addr, pw)).encode()).decode())
        out.append(base64.b64encode(("%s\0%s\0%s" % (addr, addr, pw)).encode()).decode())
    return out


def hash_password(binary, pw):
    """A hash from `pigeon passwd` (cached per process: Argon2 is slow under ASan)."""
    key = (binary, pw)
    if key not in _hash_cache:
        r = subprocess.run([binary, "passwd"], input=(pw + "\n").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pigeon passwd failed: %r" % r.stderr)
        h = r.stdout.decode().strip()
        if not (h.startswith("$argon2id$") or h.startswith("$2")):
            raise RuntimeError("pigeon passwd printed no hash: %r" % h)
        _hash_cache[key] = h
    return _hash_cache[key]


# free_port() and wait_until(): the same as the peers' (tests/integration/peers.py).
free_port = peers.free_port
wait_until = peers.wait_until


def _die_with_parent():
    """In the child before exec: SIGKILL it if the test process dies (even by SIGKILL, as on
    a ctest timeout), so that no server outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; stop()/atexit remain
        pass


def _toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The DNS the test servers see (dns.zone_file): example.org lets loopback clients send for it;
# spf-fail.example allows nobody; spf-temp.example times out. Names not here are NXDOMAIN.
DEFAULT_ZONE = """$TTL 300
example.org.       IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
spf-fail.example.  IN TXT "v=spf1 -all"
spf-temp.example.  IN TXT "v=spf1 -all"
; pigeon: timeout spf-temp.example
"""


class PigeonServer:
    """One `pigeon serve` process with its own state directory and loopback ports."""

    def __init__(self, binary, state_dir=None, limits=None, log_level="info", threads=2,
                 ports=None, zone=None, spf=None, dmarc=None, extra_config="", dns_lines=None,
                 extra_users=None, toml_users=True):
        self.binary = binary
        self.own_state = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="pigeon-it-")
        self.limits = {"shutdown_grace_seconds": 2, "auth_failures_per_ip_per_minute": 1000}
        self.limits.update(limits or {})
        # DNS answers come from a zone file, never from the network (SPF is on by default).
        self.zone = DEFAULT_ZONE if zone is None else zone
        self.spf = dict(spf or {})
        # DMARC refuses mail without a From: field (RFC 7489 6.6.1), which many protocol tests
        # send: it is on only where a test asks for it (test_dmarc.py).
        self.dmarc = {"check": False} if dmarc is None else dict(dmarc)
        self.extra_config = extra_config  # raw TOML appended to the generated file
        self.users = dict(USERS)  # login -> (password, aliases): USERS and extra_users
        self.users.update(extra_users or {})
        # Raw TOML lines for [dns] instead of the zone file (e.g. libunbound with stub zones).
        self.dns_lines = dns_lines
        # False: no [[users]] (a [directory] backend holds them: test_directory.py).
        self.toml_users = toml_users
        self.log_level = log_level
        self.threads = threads
        self.fixed_ports = bool(ports)
        self.ports = dict(ports) if ports else self._pick_ports()
        self.config_path = os.path.join(self.state_dir, "pigeon.toml")
        self.proc = None
        self.log_path = None
        self._log_file = None
        self.starts = 0

    @staticmethod
    def _pick_ports():
        # free_port() closes its socket, so two calls may return the same port: draw until
        # the three differ (else the config is refused as "already used by listeners[1]").
        for _ in range(100):
            ports = [free_port() for _ in range(3)]
            if len(set(ports)) == 3:
                break
        return dict(zip(("inbound", "submission", "submissions"), ports))

    # ------------------------------------------------------------------ lifecycle

    def write_config(self):
        lines = [
            "hostname = %s" % _toml_str(HOSTNAME),
            "local_domains = [%s]" % _toml_str(DOMAIN),
            "state_dir = %s" % _toml_str(self.state_dir),
            # The tests run as root (CI); test_privilege.py runs the server as a service user.
            "allow_root = true",
            "log_level = %s" % _toml_str(self.log_level),
            "threads = %d" % self.threads,
            "",
            "[limits]",
        ]
        for k, v in sorted(self.limits.items()):
            lines.append("%s = %d" % (k, v))
        zone_path = os.path.join(self.state_dir, "zone.db")
        with open(zone_path, "w") as f:
            f.write(self.zone)
        if self.dns_lines is None:
            lines += ["", "[dns]", "zone_file = %s" % _toml_str(zone_path), "", "[spf]"]
        else:
            lines += ["", "[dns]"] + list(self.dns_lines) + ["", "[spf]"]
        for k, v in sorted(self.spf.items()):
            lines.append("%s = %s" % (k, _toml_str(v) if isinstance(v, str) else str(v).lower()))
        lines += ["", "[dmarc]"]
        for k, v in sorted(self.dmarc.items()):
            if isinstance(v, list):
                lines.append("%s = [%s]" % (k, ", ".join(_toml_str(x) for x in v)))
            else:
                lines.append("%s = %s" % (k, _toml_str(v) if isinstance(v, str) else str(v).lower()))
        for name, role, tls in (("inbound", "inbound", "starttls"),
                                ("submission", "submission", "starttls"),
                                ("submissions", "submission", "implicit")):
            lines += ["", "[[listeners]]", 'address = "127.0.0.1"',
                      "port = %d" % self.ports[name], "role = %s" % _toml_str(role),
                      "tls = %s" % _toml_str(tls)]
        for user, (pw, aliases) in (self.users.items() if self.toml_users else ()):
            lines += ["", "[[users]]", "address = %s" % _toml_str(address(user)),
                      "password_hash = %s" % _toml_str(hash_password(self.binary, pw))]
            if aliases:
                lines.append("aliases = [%s]" % ", ".join(_toml_str(address(a)) for a in aliases))
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_config)

    def start(self, ready_timeout=60, _attempt=0):
        """Starts the server and waits (bounded) for "ready" on its stderr."""
        assert self.proc is None, "already running"
        self.write_config()
        self.starts += 1
        self.log_path = os.path.join(self.state_dir, "stderr-%d.log" % self.starts)
        self._log_file = open(self.log_path, "wb")
        env = dict(os.environ)
        # ASan: a leak report at exit is not what these tests check; keep exit codes meaningful.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent)
        _live_servers.append(self)
        ok = wait_until(lambda: self.proc.poll() is not None or re.search(r'[ "]ready', self.log_text()),  # text or JSON log
                        ready_timeout)
        if self.proc.poll() is not None or not ok:
            text = self.log_text()
            self.kill()
            if "cannot listen" in text and not self.fixed_ports and _attempt < 3:
                # Another process took a port between free_port() and our bind: new ports.
                self.ports = self._pick_ports()
                return self.start(ready_timeout, _attempt + 1)
            raise RuntimeError("pigeon did not become ready:\n" + text)
        return self

    def log_text(self):
        """Everything the server wrote (stdout and stderr) in its current/last run."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def all_logs(self):
        text = ""
        for i in range(1, self.starts + 1):
            p = os.path.join(self.state_dir, "stderr-%d.log" % i)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
        return text

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its status, or None on timeout."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=None):
        """SIGTERM, then SIGKILL after a bound. Returns the exit status."""
        if self.proc is None:
            return None
        if timeout is None:
            timeout = self.limits.get("shutdown_grace_seconds", 2) + 15
        status = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            status = self.wait_exit(timeout)
            if status is None:
                self.proc.kill()
                self.proc.wait(timeout=30)
                status = "killed after %s s" % timeout
        else:
            status = self.proc.returncode
        self._forget()
        return status

    def kill(self):
        """SIGKILL now (a crash)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self._forget()

    def _forget(self):
        self.proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if self in _live_servers:
            _live_servers.remove(self)

    def cleanup(self):
        self.stop()
        if self.own_state and os.environ.get("PIGEON_KEEP_STATE") is None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # ------------------------------------------------------------------ mailboxes and queue

    def maildir(self, user):
        return os.path.join(self.state_dir, "mail", DOMAIN, user, "Maildir")

    def maildir_new(self, user):
        return os.path.join(self.maildir(user), "new")

    def messages(self, user):
        """[(filename, bytes)] of every message in the user's Maildir new/ and cur/."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        out.append((name, f.read()))
                except FileNotFoundError:
                    pass
        return out

    def messages_with(self, user, token):
        tok = token.encode() if isinstance(token, str) else token
        return [m for m in self.messages(user) if tok in m[1]]

    def wait_for_messages(self, user, count, token=None, timeout=20):
        """Waits until the user has at least `count` messages (containing token, if given)."""
        def n():
            msgs = self.messages_with(user, token) if token else self.messages(user)
            return len(msgs) >= count
        wait_until(n, timeout)
        return self.messages_with(user, token) if token else self.messages(user)

    def pigeon(self, *args, timeout=60):
        """Runs `pigeon <args> --config <our config>`; returns CompletedProcess (text)."""
        return subprocess.run([self.binary] + list(args) + ["--config", self.config_path],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))

    def queue_list(self):
        r = self.pigeon("queue", "list")
        if r.returncode != 0:
            raise RuntimeError("pigeon queue list failed: %s" % r.stderr.decode(errors="replace"))
        return r.stdout.decode(errors="replace")


def stop_all():
    for s in list(_live_servers):
        try:
            s.stop(timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            try:
                s.kill()
            except Exception:  # noqa: BLE001
                pass


atexit.register(stop_all)


def _terminate(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _terminate)


# ---------------------------------------------------------------------- raw SMTP client

def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % self.lines


class SmtpError(Exception):
    pass


class SmtpClient:
    """A minimal SMTP client on a raw socket: exact bytes out, replies parsed in."""

    def __init__(self, port, host="127.0.0.1", timeout=10, implicit_tls=False, source=None):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        if implicit_tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
            self.sock.settimeout(timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no complete reply within %s s" % self.timeout)
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def reply(self, timeout=None):
        """Reads one (possibly multi-line) reply."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 3 or not text[:3].isdigit():
                raise SmtpError("malformed reply line %r" % text)
            if len(text) == 3 or text[3] == " ":
                return Reply(int(text[:3]), lines)

    def expect(self, code, timeout=None):
        r = self.reply(timeout)
        if r.code != code:
            raise SmtpError("expected %d, got %r" % (code, r.lines))
        return r

    def cmd(self, line, code=None, timeout=None):
        self.send(line + "\r\n")
        r = self.reply(timeout)
        if code is not None and r.code != code:
            raise SmtpError("%r: expected %d, got %r" % (line, code, r.lines))
        return r

    def starttls(self):
        self.cmd("STARTTLS", 220)
        assert not self.buf, "server sent data after its 220 to STARTTLS"
        self.sock.settimeout(self.timeout)
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.sock.settimeout(self.timeout)

    def auth_plain(self, user, pw, code=235):
        token = base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()
        return self.cmd("AUTH PLAIN " + token, code)

    def read_until_closed(self, timeout=10, max_bytes=10 * 1024 * 1024):
        """Reads everything until EOF (bounded); returns (bytes, closed_by_server)."""
        deadline = time.monotonic() + timeout
        data = self.buf
        self.buf = b""
        while len(data) < max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return data, False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return data, False
            except (ConnectionResetError, ssl.SSLError):
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def reply_codes(data):
    """The reply lines of a raw byte stream: [(code, text)] of final lines only."""
    out = []
    for line in data.decode("utf-8", "replace").split("\r\n"):
        if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3] == " "):
            out.append((int(line[:3]), line))
    return out


def send_message(port, mail_from, rcpts, body, ehlo="client.test", tls=False,
                 implicit_tls=False, auth=None, timeout=15):
    """One complete transaction on a fresh connection; returns the final reply to DATA."""
    with SmtpClient(port, timeout=timeout, implicit_tls=implicit_tls) as c:
        c.expect(220)
        c.cmd("EHLO " + ehlo, 250)
        if tls:
            c.starttls()
            c.cmd("EHLO " + ehlo, 250)
        if auth:
            c.auth_plain(*auth)
        c.cmd("MAIL FROM:<%s>" % mail_from, 250)
        for r in rcpts:
            c.cmd("RCPT TO:<%s>" % r, 250)
        c.cmd("DATA", 354)
        if isinstance(body, str):
            body = body.encode()
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        c.send(body + b".\r\n")
        r = c.reply()
        try:
            c.cmd("QUIT")
        except (OSError, EOFError, SmtpError):
            pass
        return r


def normal_client_works(srv, user="bob", label="probe"):
    """A normal client can still deliver through the inbound listener; returns the token."""
    token = "probe-%s-%d-%d" % (label, os.getpid(), int(time.monotonic() * 1e6))
    body = "From: <probe@ext.example>\r\nSubject: %s\r\n\r\nprobe %s\r\n" % (token, token)
    r = send_message(srv.ports["inbound"], "probe@ext.example", [address(user)], body)
    if r.code != 250:
        raise AssertionError("normal client refused after %s: %r" % (label, r.lines))
    msgs = srv.wait_for_messages(user, 1, token=token, timeout=20)
    if len(msgs) != 1:
        raise AssertionError("probe after %s delivered %d times" % (label, len(msgs)))
    return token


def header_block(raw):
    """The header lines of a delivered Maildir file (LF line ends), unfolded."""
    text = raw.decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += " " + line.strip()
        else:
            fields.append(line)
    return fields


def field_names(raw):
    return [f.split(":", 1)[0].lower() for f in header_block(raw)]


QUEUE_ID = re.compile(r"queued as ([0-9A-Z]{16})")


# ---------------------------------------------------------------------- a private Dovecot

DOVECOT = "/usr/sbin/dovecot"
VMAIL = "vmail"  # Dovecot refuses uid 0 for mail users: mailboxes belong to this one


def ensure_vmail_user():
    """The mail user Dovecot's mailboxes belong to (useradd -r, no home, no shell)."""
    import pwd
    try:
        return pwd.getpwnam(VMAIL)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", VMAIL], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return pwd.getpwnam(VMAIL)


class DovecotPeer(peers.Managed):
    """`dovecot -F -c DIR/dovecot.conf` as this process's child: its own base_dir, state,
    log and passwd-file under a temporary directory; IMAP on a loopback port, LMTP on the
    Unix socket DIR/run/lmtp (self.lmtp_endpoint, for Pigeon's [delivery] lmtp). Mailboxes
    are DIR/vmail/%d/%n/Maildir (self.maildir_template), owned by the vmail user. LMTP also
    listens on a loopback port (self.lmtp_tcp_endpoint). Quarantined
    mail arrives as user+Junk@domain (recipient_delimiter = +) and lmtp_save_to_detail_mailbox
    files it in Junk, created on first use (lda_mailbox_autocreate). This is the configuration
    docs/operations.md shows ("Pigeon and Dovecot")."""

    def __init__(self, users, domain=DOMAIN):
        self.users = dict(users)  # login -> password; the address is login@domain
        self.domain = domain
        self.proc = None
        self._watchdog = None
        self.dir = tempfile.mkdtemp(prefix="dovecot-it-")
        os.chmod(self.dir, 0o755)  # dovecot and vmail must reach what is below
        self.imap_port = free_port()
        self.lmtp_port = free_port()  # LMTP over TCP as well: self.lmtp_tcp_endpoint
        self.vmail = ensure_vmail_user()

    @property
    def lmtp_endpoint(self):
        return "unix:" + os.path.join(self.dir, "run", "lmtp")

    @property
    def lmtp_tcp_endpoint(self):
        return "127.0.0.1:%d" % self.lmtp_port

    @property
    def maildir_template(self):
        return os.path.join(self.dir, "vmail", "%d", "%n", "Maildir")

    def maildir(self, user):
        return os.path.join(self.dir, "vmail", self.domain, user, "Maildir")

    @property
    def log_path(self):
        return os.path.join(self.dir, "dovecot.log")

    def config_text(self):
        d = self.dir
        return """# Pigeon + Dovecot (docs/operations.md): IMAP for the users, LMTP for Pigeon.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/vmail/%d/%n/Maildir
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
# Quarantine: Pigeon sends DMARC-quarantined mail to user+Junk@domain.
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
lda_mailbox_autocreate = yes
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
""".format(d=d, port=self.imap_port, lmtp_port=self.lmtp_port)

    def _prepare(self):
        for sub in ("run", "state", "vmail"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(os.path.join(self.dir, "run"), 0o755)
        os.chown(os.path.join(self.dir, "vmail"), self.vmail.pw_uid, self.vmail.pw_gid)
        with open(os.path.join(self.dir, "users"), "w") as f:
            for login, pw in self.users.items():
                f.write("%s@%s:{PLAIN}%s:%d:%d::%s\n" % (login, self.domain, pw, self.vmail.pw_uid,
                                                      self.vmail.pw_gid, os.path.join(self.dir, "vmail")))
        os.chmod(os.path.join(self.dir, "users"), 0o644)
        with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
            f.write(self.config_text())

    def start(self, ready_timeout=20):
        assert self.proc is None, "already running"
        peers._become_subreaper()
        self._prepare()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", os.path.join(self.dir, "dovecot.conf")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._track()
        lmtp = self.lmtp_endpoint[len("unix:"):]
        ok = wait_until(lambda: self.proc.poll() is not None or
                        (peers.port_accepts(self.imap_port) and peers.port_accepts(self.lmtp_port) and
                         os.path.exists(lmtp)), ready_timeout)
        if self.proc.poll() is not None or not ok:
            text = self.log()
            self.stop()
            raise RuntimeError("dovecot did not start:\n" + text)
        return self

    def stop(self):
        """Stops the master and its children (SIGTERM, then SIGKILL to the group)."""
        if self.proc is not None:
            self._stop_group(grace=5)

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def give_mailboxes_to_vmail(self):
        """chown -R vmail: what Pigeon (running as root here) wrote under the template."""
        for root, dirs, files in os.walk(os.path.join(self.dir, "vmail")):
            for name in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(name, self.vmail.pw_uid, self.vmail.pw_gid)

    def imap_messages(self, user, mailbox="INBOX", timeout=10):
        """[bytes] of every message in the user's mailbox, read over IMAP (imaplib)."""
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=timeout)
        try:
            m.login("%s@%s" % (user, self.domain), self.users[user])
            typ, _ = m.select('"%s"' % mailbox, readonly=True)
            if typ != "OK":
                return []
            typ, data = m.search(None, "ALL")
            out = []
            for num in data[0].split():
                typ, parts = m.fetch(num, "(BODY.PEEK[])")
                out.append(parts[0][1])
            return out
        finally:
            try:
                m.logout()
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass

    def imap_mailboxes(self, user, timeout=10):
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=timeout)
        try:
            m.login("%s@%s" % (user, self.domain), self.users[user])
            typ, data = m.list()
            return [line.decode(errors="replace") for line in data if line]
        finally:
            m.logout()

    def wait_for_imap(self, user, token, mailbox="INBOX", timeout=20):
        """The messages of `mailbox` holding token, once there is one (bounded wait)."""
        tok = token.encode() if isinstance(token, str) else token
        found = []

        def look():
            found[:] = [m for m in self.imap_messages(user, mailbox) if tok in m]
            return bool(found)
        wait_until(look, timeout, interval=0.2)
        return list(found)
