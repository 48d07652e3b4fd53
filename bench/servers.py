"""The two servers under benchmark, started and measured the same way.

BenchPigeon runs the release `pigeon serve` with a durable spool in a temporary directory
(sink@bench.test is a `[delivery] discard` address, as Postfix's discard(8); bench@bench.test
is a user with a Maildir; SPF and DKIM/DMARC checks off, DNS from an empty zone file, so
nothing leaves loopback). BenchPostfix is tests/integration/peers.py's private
Postfix instance (`master -c DIR -d`, its own queue, no /etc/postfix) with relay_domains =
bench.test and relay_transport = discard, or relaying sink.test to an smtp-sink.

Both run in their own process group with a watchdog (peers.py) that kills the group if this
process dies; stop() always ends every process of the group, and peers.stop_all() (at exit)
stops whatever is still running.

Measurements come from /proc: cpu_seconds() sums utime+stime+cutime+cstime of every process
in the group (zombies included), so a daemon that exits and is reaped by its parent stays
counted; peak_rss_kb() is the sum of VmHWM of the group's live processes (one process for
Pigeon).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import peers  # noqa: E402  (tests/integration/peers.py)

CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_DOMAIN = "bench.test"
SINK_DOMAIN = "sink.test"
USER = "bench@bench.test"            # a user: AUTH, and a Maildir
DISCARD = "sink@bench.test"          # accepted, made durable, then discarded
PASSWORD = "bench-pw-Not-Secret-1"


# ---------------------------------------------------------------------- /proc helpers

def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds_of(pids):
    """utime+stime+cutime+cstime of these processes, in seconds (missing ones count 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # After ')': state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / CLK_TCK


def proc_kb(pid, key, name="status"):
    """A "kB" field of /proc/PID/<name> (status: VmHWM, VmRSS; smaps_rollup: Pss), or 0."""
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_kb(pid, key):
    return proc_kb(pid, key)


def pss_kb(pid):
    return proc_kb(pid, "Pss", "smaps_rollup")


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def files_under(path, suffix=None):
    n = 0
    for _d, _s, files in os.walk(path):
        n += sum(1 for f in files if suffix is None or f.endswith(suffix))
    return n


def wait_until(predicate, timeout, interval=0.02):
    return peers.wait_until(predicate, timeout, interval)


# ---------------------------------------------------------------------- Pigeon

def _toml(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _greets(port):
    """True when an SMTP server on 127.0.0.1:port sends its 220 greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(4).startswith(b"220")
    except OSError:
        return False


class BenchPigeon(peers.Managed):
    """`pigeon serve` (release build) on loopback ports with its own temporary state dir."""

    name = "Pigeon"

    def __init__(self, binary, workdir, password_hash, dkim_key=None, sink_port=None,
                 max_connections=12000, log_level="info"):
        self.binary = binary
        self.log_level = log_level
        self.root = tempfile.mkdtemp(prefix="pigeon-bench-", dir=workdir)
        self.password_hash = password_hash
        self.dkim_key = dkim_key
        self.sink_port = sink_port
        self.max_connections = max_connections
        self.proc = None
        self.config_path = None
        self._watchdog = None
        self.port = peers.free_port()
        self.submission_port = peers.free_port()

    @property
    def spool_dir(self):
        return os.path.join(self.root, "queue")

    @property
    def log_path(self):
        return os.path.join(self.root, "pigeon.log")

    def _config(self):
        zone = os.path.join(self.root, "zone.db")
        with open(zone, "w") as f:
            f.write("$TTL 300\nbench.test. IN TXT \"benchmark zone\"\n")
        lines = [
            "hostname = %s" % _toml("mx.bench.test"),
            "local_domains = [%s]" % _toml(BENCH_DOMAIN),
            "state_dir = %s" % _toml(self.root),
            "allow_root = true  # the benchmark runs as root, beside Postfix",
            "log_level = %s" % _toml(self.log_level),
            "threads = 0",
            "",
            "[limits]",
            "max_connections = %d" % self.max_connections,
            "max_connections_per_ip = %d" % self.max_connections,
            "shutdown_grace_seconds = 1",
            "auth_failures_per_ip_per_minute = 1000",
            "",
            "[dns]",
            "zone_file = %s" % _toml(zone),
            "",
            "[spf]",
            "check = false",
            "",
            "[dmarc]",
            "check = false",
            "",
            "[outbound]",
            "max_per_destination = 20",
            "",
        ]
        if self.sink_port:
            lines += ["[[outbound.routes]]", "domain = %s" % _toml(SINK_DOMAIN),
                      'host = "127.0.0.1"', "port = %d" % self.sink_port, 'tls = "none"', ""]
        for port, role in ((self.port, "inbound"), (self.submission_port, "submission")):
            lines += ["[[listeners]]", 'address = "127.0.0.1"', "port = %d" % port,
                      "role = %s" % _toml(role), 'tls = "starttls"', ""]
        lines += ["[delivery]", "discard = [%s]" % _toml(DISCARD), ""]
        lines += ["[[users]]", "address = %s" % _toml(USER),
                  "password_hash = %s" % _toml(self.password_hash), ""]
        if self.dkim_key:
            lines += ["[[dkim.keys]]", "domain = %s" % _toml(BENCH_DOMAIN), 'selector = "bench"',
                      "key_file = %s" % _toml(self.dkim_key), ""]
        path = os.path.join(self.root, "pigeon.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def start(self, timeout=60):
        config = self.config_path = self._config()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "serve", "--config", config],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self._track()
        # Below info the "ready" line is not written: the listeners' greetings say it instead.
        if self.log_level in ("info", "debug"):
            ready = lambda: " ready" in self.log()  # noqa: E731
        else:
            ready = lambda: all(_greets(p) for p in (self.port, self.submission_port))  # noqa: E731
        ok = wait_until(lambda: self.proc.poll() is not None or ready(), timeout, 0.05)
        if self.proc.poll() is not None or not ok:
            text = self.log()
            self.stop()
            raise RuntimeError("pigeon did not become ready:\n" + text[-3000:])
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def pids(self):
        return peers.processes_in_group(self.proc.pid, zombies=True) if self.proc else []

    def main_pid(self):
        return self.proc.pid

    def cpu_seconds(self):
        return cpu_seconds_of(self.pids())

    def peak_rss_kb(self):
        return status_kb(self.proc.pid, "VmHWM")

    def rss_kb(self):
        return status_kb(self.proc.pid, "VmRSS")

    def queued(self):
        """Messages still in the spool (not yet delivered), as `pigeon queue list` sees them
        (a read-only look at the live spool: segments hold many messages per file)."""
        r = subprocess.run([self.binary, "queue", "list", "--config", self.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout.decode(errors="replace")
        if r.returncode == 0 and "queue is empty" in out:
            return 0
        m = re.search(r"^(\d+) message\(s\)$", out, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError("pigeon queue list failed (%d): %s" % (r.returncode, out[-2000:]))
        return int(m.group(1))

    def delivered(self):
        return files_under(os.path.join(self.root, "mail"))

    def stop(self):
        self._stop_group(grace=10)

    def cleanup(self):
        try:
            self.stop()
        finally:
            subprocess.run(["rm", "-rf", self.root], check=False)


# ---------------------------------------------------------------------- Postfix

class BenchPostfix(peers.Managed):
    """peers.PostfixPeer configured as the benchmark anchor: mydestination empty,
    relay_domains = bench.test with relay_transport = discard (or sink.test relayed to
    smtp-sink), a durable queue as usual, default_process_limit raised to 300 so that 200
    concurrent sessions each get an smtpd."""

    name = "Postfix"

    def __init__(self, sink_port=None, process_limit=300):
        extra = {"default_process_limit": str(process_limit)}
        if sink_port:
            self.peer = peers.PostfixPeer(relay_port=sink_port, relay_domain=SINK_DOMAIN,
                                          domain="postfix-local.test", hostname="postfix.bench",
                                          extra_main=extra)
        else:
            extra.update({"relay_transport": "discard", "transport_maps": ""})
            self.peer = peers.PostfixPeer(relay_domain=BENCH_DOMAIN, domain="postfix-local.test",
                                          hostname="postfix.bench", extra_main=extra)

    @property
    def port(self):
        return self.peer.port

    @property
    def submission_port(self):
        return self.peer.port

    def start(self):
        self.peer.start()
        return self

    def pids(self):
        return self.peer.proc and peers.processes_in_group(self.peer.proc.pid, zombies=True) or []

    def main_pid(self):
        return self.peer.proc.pid

    def cpu_seconds(self):
        return cpu_seconds_of(self.pids())

    def peak_rss_kb(self):
        return sum(status_kb(p, "VmHWM") for p in self.pids())

    def rss_kb(self):
        return sum(status_kb(p, "VmRSS") for p in self.pids())

    def smtpd_memory_kb(self):
        """(mean VmRSS, mean Pss) of the live smtpd processes, or (0, 0)."""
        pids = [p for p in self.pids() if comm(p) == "smtpd"]
        if not pids:
            return 0, 0
        return (sum(status_kb(p, "VmRSS") for p in pids) / len(pids),
                sum(pss_kb(p) for p in pids) / len(pids))

    def queued(self):
        q = self.peer.queue_dir
        return sum(files_under(os.path.join(q, d))
                   for d in ("maildrop", "incoming", "active", "deferred", "hold"))

    def deferred(self):
        return files_under(os.path.join(self.peer.queue_dir, "deferred"))

    def log(self):
        return self.peer.log()

    def stop(self):
        self.peer.stop()

    def cleanup(self):
        self.peer.cleanup()


# ---------------------------------------------------------------------- smtp-sink

class FastSink(peers.SmtpSink):
    """smtp-sink that stores nothing (no -d): the cheapest possible next hop."""

    def _args(self):
        return [peers.SMTP_SINK, "-u", "nobody", "-4", "-h", self.hostname,
                "127.0.0.1:%d" % self.port, "1000"]


def install_signal_handlers():
    """SIGTERM/SIGINT/SIGHUP: stop every server (atexit hooks run on sys.exit)."""
    def handler(signum, _frame):
        sys.exit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)
