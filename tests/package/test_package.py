#!/usr/bin/python3
"""The Debian package, checked the way it is used: built by scripts/package, checked by lintian
and systemd-analyze, installed by dpkg into a throwaway root, and run from there.

    tests/package/test_package.py build/package/pigeon_0.1.0_amd64.deb

The throwaway root is an overlay of this machine's own root (it has the base system and the
package's dependencies) with a private upper directory, mounted in a private mount namespace
(`unshare --mount`). dpkg, the maintainer scripts (adduser, update-alternatives,
deb-systemd-helper), the server and its files all live in that overlay: the host's /etc/passwd,
dpkg database and alternatives are not touched, and everything goes when the namespace ends.
systemd is not PID 1 here, so the postinst enables the units but starts nothing, and the test
starts the installed /usr/sbin/pigeon itself, as root in a chroot, as systemd would.

It then checks what the package installed (binary, conffiles, the logrotate snippet (which
`logrotate -d` must accept), man pages, units, user, modes,
the sendmail alternative), runs the installed binary with the packaged /etc/pigeon/pigeon.toml
adapted to loopback ports and a zone-file DNS, delivers one message with smtplib, hands one
to it through the sendmail alternative as an unprivileged user (over the packaged
[sendmail] socket in /run/pigeon, made as pigeon.service's RuntimeDirectory= and ExecStartPre=+
make it), checks the process credentials and the owner and mode of every file the server wrote
under /var/lib/pigeon, checks its [log] target = "file" log in /var/log/pigeon (written as
pigeon, the lines from before the drop included, reopened after a logrotate-style move),
stops it, and purges the package.

Needs root (mounts, chroot). Every wait is bounded; the server is killed at the end in any case.
"""

import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import smtplib
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pigeon_harness as harness  # noqa: E402  (free ports, the zone, bounded waits)

DOMAIN = "test.example"
USER = "alice"
PASSWORD = "alice-Packaged-pw!"
LOG_FILE = "/var/log/pigeon/pigeon.log"
UNITS = ("pigeon.service", "pigeon.socket")
failures = []
passed = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    (passed if ok else failures).append(what)
    return ok


def summary():
    print("%d passed, %d failed" % (len(passed), len(failures)), flush=True)
    return 1 if failures else 0


def run(args, timeout=300, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


# ---- outside the throwaway root ----------------------------------------------------------


def check_lintian(deb):
    r = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", deb])
    lines = (r.stdout + r.stderr).strip().splitlines()
    for ln in lines:
        print("      lintian: " + ln)
    check(r.returncode == 0 and not any(ln.startswith("E:") for ln in lines),
          "lintian reports no errors (exit %d)" % r.returncode)


# ---- inside: the overlay root ------------------------------------------------------------


class Root:
    """An overlay of / mounted at TOP/merged, private to this process's mount namespace. The
    mounts end with the namespace; main() removes TOP after that, never through a mount."""

    def __init__(self, top):
        self.top = top
        self.merged = os.path.join(self.top, "merged")
        for d in ("upper", "work", "merged"):
            os.mkdir(os.path.join(self.top, d))
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (self.top, self.top),
                        self.merged], check=True, timeout=30)
        subprocess.run(["mount", "-t", "proc", "proc", self.path("/proc")], check=True, timeout=30)
        subprocess.run(["mount", "--rbind", "/dev", self.path("/dev")], check=True, timeout=30)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.path("/tmp")], check=True, timeout=30)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.path("/run")], check=True, timeout=30)

    def path(self, p):
        return os.path.join(self.merged, p.lstrip("/"))

    def chroot(self, args, timeout=300, **kw):
        return run(["chroot", self.merged] + args, timeout=timeout, **kw)

    def ids(self, user, group):
        """uid and gid from the root's own passwd and group files."""
        uid = gid = None
        with open(self.path("/etc/passwd")) as f:
            for ln in f:
                parts = ln.split(":")
                if parts[0] == user:
                    uid = int(parts[2])
        with open(self.path("/etc/group")) as f:
            for ln in f:
                parts = ln.split(":")
                if parts[0] == group:
                    gid = int(parts[2])
        return uid, gid


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def check_install(root, deb):
    shutil.copy(deb, root.path("/tmp/pigeon.deb"))
    r = root.chroot(["dpkg", "-i", "/tmp/pigeon.deb"])
    print("      dpkg -i: " + (r.stdout + r.stderr).strip().replace("\n", "\n      dpkg -i: "))
    if not check(r.returncode == 0, "dpkg -i installs the package into the throwaway root"):
        return False

    uid, gid = root.ids("pigeon", "pigeon")
    check(uid is not None and gid is not None, "the postinst created the pigeon user and group")
    with open(root.path("/etc/passwd")) as f:
        entry = [ln for ln in f if ln.startswith("pigeon:")]
    check(bool(entry) and entry[0].rstrip().endswith(":/var/lib/pigeon:/usr/sbin/nologin"),
          "pigeon is a system user with home /var/lib/pigeon and no login shell: %r" % entry)
    check(uid is not None and uid < 1000, "pigeon's uid %s is in the system range" % uid)
    check(owner_mode(root.path("/var/lib/pigeon")) == (uid, gid, 0o700),
          "/var/lib/pigeon is pigeon:pigeon 0700")
    check(owner_mode(root.path("/etc/pigeon/pigeon.toml")) == (0, gid, 0o640),
          "/etc/pigeon/pigeon.toml is root:pigeon 0640")
    st = os.stat(root.path("/usr/sbin/pigeon"))
    check(stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0, "/usr/sbin/pigeon is root 0755")

    r = root.chroot(["dpkg-query", "-W", "-f", "${Conffiles}", "pigeon"])
    check("/etc/pigeon/pigeon.toml" in r.stdout, "/etc/pigeon/pigeon.toml is a conffile")
    check("/etc/logrotate.d/pigeon" in r.stdout, "/etc/logrotate.d/pigeon is a conffile")
    check(owner_mode(root.path("/etc/logrotate.d/pigeon")) == (0, 0, 0o644), "/etc/logrotate.d/pigeon is root 0644")
    check_logrotate(root)
    r = root.chroot(["update-alternatives", "--query", "sendmail"])
    check("Alternative: /usr/lib/pigeon/sendmail" in r.stdout and "/usr/bin/mailq" in r.stdout,
          "sendmail is an alternative with mailq as its slave")
    check(os.path.realpath(root.path("/usr/lib/pigeon/sendmail")) == root.path("/usr/sbin/pigeon"),
          "/usr/lib/pigeon/sendmail is a link to /usr/sbin/pigeon")
    for unit in UNITS:
        check(os.path.isfile(root.path("/lib/systemd/system/" + unit)), unit + " is installed")
    check(os.path.islink(root.path("/etc/systemd/system/multi-user.target.wants/pigeon.service")),
          "the postinst enabled pigeon.service")
    check(os.path.islink(root.path("/etc/systemd/system/sockets.target.wants/pigeon.socket")),
          "the postinst enabled pigeon.socket")

    for page in ("/usr/share/man/man8/pigeon.8.gz", "/usr/share/man/man5/pigeon.toml.5.gz"):
        r = root.chroot(["env", "LC_ALL=C.UTF-8", "MANWIDTH=80", "man", "--warnings", "-E", "UTF-8",
                         "-l", page])
        check(r.returncode == 0 and not r.stderr.strip() and len(r.stdout) > 2000,
              "%s renders without groff warnings (%d chars) %s" % (page, len(r.stdout), r.stderr.strip()))
    r = root.chroot(["zcat", "/usr/share/man/man5/pigeon.toml.5.gz"])
    check("limits.max_recipients" in r.stdout and "listeners.port" in r.stdout,
          "pigeon.toml(5) documents the keys of docs/configuration.md")
    r = root.chroot(["zcat", "/usr/share/man/man8/pigeon.8.gz"])
    check(re.search(r"check\\?-config", r.stdout) and "queue list" in r.stdout,
          "pigeon(8) documents the commands of pigeon --help")

    r = root.chroot(["/usr/sbin/pigeon", "check-config", "--config", "/etc/pigeon/pigeon.toml"])
    check(r.returncode == 0, "the packaged configuration passes check-config: %s"
          % (r.stdout + r.stderr).strip())

    r = run(["systemd-analyze", "verify", "--root=" + root.merged, "--recursive-errors=no",
                                # man: would look on this machine, not in the root (checked above)
                                "--man=no"] + list(UNITS))
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 0 and not out, "systemd-analyze verify accepts the units%s" % (": " + out if out else ""))
    return True


def check_logrotate(root):
    """logrotate (debug mode: nothing is rotated) parses the installed snippet, with its user
    and group resolved in the root, and finds the file it names."""
    r = root.chroot(["logrotate", "-d", "--state", "/tmp/logrotate.state", "/etc/logrotate.d/pigeon"])
    out = r.stdout + r.stderr
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    check(r.returncode == 0 and not errors and "/var/log/pigeon/pigeon.log" in out,
          "logrotate -d accepts /etc/logrotate.d/pigeon (exit %d)%s" % (r.returncode, "".join("\n      " + e for e in errors)))


def adapted_config(root, ports, zone_path, password_hash):
    """The packaged configuration on loopback ports with a zone-file DNS and one user."""
    with open(root.path("/etc/pigeon/pigeon.toml")) as f:
        text = f.read()
    for packaged, role in ((25, "inbound"), (587, "submission"), (465, "submissions")):
        text, n = re.subn(r"(?m)^port = %d$" % packaged, "port = %d" % ports[role], text)
        assert n == 1, "no 'port = %d' line in the packaged configuration" % packaged
    text = text.replace('address = "::"', 'address = "127.0.0.1"')
    text, n = re.subn(r"(?m)^\[dns\]$", '[dns]\nzone_file = "%s"' % zone_path, text)
    assert n == 1, "no [dns] table in the packaged configuration"
    text = text.replace("#hostname = \"mail.example.org\"", 'hostname = "mx.%s"' % DOMAIN)
    text = text.replace("#local_domains = [\"example.org\"]", 'local_domains = ["%s"]' % DOMAIN)
    text += ('\n[[users]]\naddress = "%s@%s"\npassword_hash = "%s"\n' % (USER, DOMAIN, password_hash))
    # The file target the package makes room for (/var/log/pigeon, its logrotate snippet).
    text, n = re.subn(r"(?m)^\[log\]$", '[log]\ntarget = "file"\nfile = "%s"' % LOG_FILE, text)
    if n == 0:
        text += '\n[log]\ntarget = "file"\nfile = "%s"\n' % LOG_FILE
    return text


def check_log_file(root, proc, uid):
    """[log] target = "file" under the unit's settings: the server, dropped to pigeon, writes
    /var/log/pigeon/pigeon.log (pigeon:adm 0640 despite UMask=0077), the start-up lines it
    wrote as root included; after a logrotate-style move and SIGUSR2 it creates the file anew,
    as pigeon."""
    adm = root.ids("pigeon", "adm")[1]
    logs = root.path("/var/log/pigeon")
    check(owner_mode(logs) == (uid, adm, 0o2750),
          "/var/log/pigeon is pigeon:adm 2750 (%d:%d %o)" % owner_mode(logs))
    check("/var/log/pigeon" in unit_setting(root, "ReadWritePaths"),
          "pigeon.service may write /var/log/pigeon (ReadWritePaths=%s)" % " ".join(unit_setting(root, "ReadWritePaths")))
    path = root.path(LOG_FILE)
    if not check(os.path.exists(path), "the server created %s" % LOG_FILE):
        return
    check(owner_mode(path) == (uid, adm, 0o640), "%s is pigeon:adm 0640 (%d:%d %o)" % ((LOG_FILE,) + owner_mode(path)))
    with open(path) as f:
        text = f.read()
    check("starting as mx.%s" % DOMAIN in text and "privileges: now pigeon:pigeon" in text and
          "from=<someone@example.org>" in text,
          "the log file holds the lines from before the drop (start-up) and after it (the message)")
    os.rename(path, path + ".1")
    os.kill(_server_pid(proc), signal.SIGUSR2)
    reload = [w.replace("/etc/pigeon/pigeon.toml", "/etc/pigeon-test/pigeon.toml") for w in unit_setting(root, "ExecReload")]
    root.chroot(reload)  # a line to write after the move

    def reopened():
        try:
            with open(path) as f:
                return "log file reopened (SIGUSR2)" in f.read()
        except OSError:
            return False
    if check(harness.wait_until(reopened, 20), "after the move and SIGUSR2 the server, as pigeon, opens %s anew" % LOG_FILE):
        check(owner_mode(path) == (uid, adm, 0o640), "the new %s is pigeon:adm 0640 (%d:%d %o)" % ((LOG_FILE,) + owner_mode(path)))


def check_serve(root):
    """True when the message was delivered."""
    uid, gid = root.ids("pigeon", "pigeon")
    ports = harness.PigeonServer._pick_ports()
    # The test's own files stay out of /etc/pigeon, which purge must leave empty.
    os.makedirs(root.path("/etc/pigeon-test"))
    zone = "/etc/pigeon-test/zone.db"
    with open(root.path(zone), "w") as f:
        f.write(harness.DEFAULT_ZONE)
    r = root.chroot(["/usr/sbin/pigeon", "passwd"], input=PASSWORD + "\n")
    if not check(r.returncode == 0, "the installed pigeon passwd makes a hash"):
        return False
    with open(root.path("/etc/pigeon-test/pigeon.toml"), "w") as f:
        f.write(adapted_config(root, ports, zone, r.stdout.strip()))

    log_path = os.path.join(root.top, "serve.log")
    log = open(log_path, "w")

    def as_the_unit_starts_it():
        harness._die_with_parent()
        os.umask(unit_umask(root))

    if not prepare_runtime_directory(root, uid, gid):
        return False
    # As pigeon.service starts it: root, with the unit's capability bounding set and
    # NoNewPrivileges (setpriv), and its UMask.
    proc = subprocess.Popen(["chroot", root.merged, "setpriv", "--no-new-privs", "--bounding-set",
                             unit_bounding_set(root), "/usr/sbin/pigeon", "serve", "--config",
                             "/etc/pigeon-test/pigeon.toml"], stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=as_the_unit_starts_it)
    try:
        def listening():
            try:
                with smtplib.SMTP("127.0.0.1", ports["inbound"], timeout=2) as s:
                    return s.noop()[0] == 250
            except OSError:
                return proc.poll() is not None  # stop waiting: it exited
        harness.wait_until(listening, 60, 0.2)
        if not check(proc.poll() is None, "the installed server started as root, with the unit's "
                     "capability bounding set (%s) and the packaged user" % unit_bounding_set(root)):
            return False
        status = open("/proc/%d/status" % _server_pid(proc)).read()
        ids = re.search(r"Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
        gids = re.search(r"Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
        check(set(map(int, ids)) == {uid} and set(map(int, gids)) == {gid},
              "the server runs as pigeon:pigeon (real, effective, saved, fs): Uid %s Gid %s"
              % (" ".join(ids), " ".join(gids)))

        with smtplib.SMTP("127.0.0.1", ports["inbound"], timeout=10) as s:
            s.ehlo("client.example.org")
            s.starttls()
            s.ehlo("client.example.org")
            s.sendmail("someone@example.org", ["%s@%s" % (USER, DOMAIN)],
                       "From: someone@example.org\r\nTo: %s@%s\r\nSubject: packaged\r\n\r\n"
                       "Delivered by the installed package.\r\n" % (USER, DOMAIN))
        new = root.path("/var/lib/pigeon/mail/%s/%s/Maildir/new" % (DOMAIN, USER))

        def delivered():
            return os.path.isdir(new) and len(os.listdir(new)) == 1
        if not check(harness.wait_until(delivered, 20), "the message arrives in alice's Maildir/new"):
            return False
        message = os.path.join(new, os.listdir(new)[0])
        with open(message, "rb") as f:
            check(b"Delivered by the installed package." in f.read(), "the message reached alice's Maildir")
        check(owner_mode(message)[:2] == (uid, gid) and owner_mode(message)[2] & 0o077 == 0,
              "the Maildir message is pigeon:pigeon and private (mode %o)" % owner_mode(message)[2])
        check_sendmail(root, new, uid, gid)
        check_state_tree(root, uid, gid)
        check_log_file(root, proc, uid)

        # systemctl reload runs the unit's ExecReload as root: the server answers it.
        reload = [w.replace("/etc/pigeon/pigeon.toml", "/etc/pigeon-test/pigeon.toml")
                  for w in unit_setting(root, "ExecReload")]
        r = root.chroot(reload)
        check(r.returncode == 0 and "reloaded /etc/pigeon-test/pigeon.toml" in r.stdout,
              "the unit's ExecReload (%s) reloads the running server: %s%s"
              % (" ".join(reload), r.stdout.strip(), r.stderr.strip()))
        return True
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        with open(log_path) as f:
            text = f.read()
        for name in (LOG_FILE + ".1", LOG_FILE):
            try:
                with open(root.path(name)) as f:
                    text += f.read()
            except OSError:
                pass
        print("      serve log: " + text.strip().replace("\n", "\n      serve log: ")[-6000:])


def unit_settings(root, key):
    """Every value of `key` in the installed pigeon.service, in order."""
    with open(root.path("/lib/systemd/system/pigeon.service")) as f:
        return re.findall(r"(?m)^%s=(.*)$" % key, f.read())


def prepare_runtime_directory(root, uid, gid):
    """What systemd does for pigeon.service before ExecStart: RuntimeDirectory= (made root's,
    as the unit has no User=, with RuntimeDirectoryMode=), then the privileged ("+")
    ExecStartPre= commands, which hand it to pigeon. True when /run/pigeon is then pigeon's,
    0755."""
    names, modes = unit_settings(root, "RuntimeDirectory"), unit_settings(root, "RuntimeDirectoryMode")
    if not check(names == ["pigeon"] and modes == ["0755"],
                 "pigeon.service has RuntimeDirectory=pigeon, RuntimeDirectoryMode=0755: %r %r" % (names, modes)):
        return False
    run_dir = root.path("/run/pigeon")
    os.makedirs(run_dir)
    os.chmod(run_dir, int(modes[0], 8))
    for cmd in unit_settings(root, "ExecStartPre"):
        if cmd.startswith("+"):
            r = root.chroot(cmd[1:].split())
            check(r.returncode == 0, "ExecStartPre=%s: %s" % (cmd, (r.stdout + r.stderr).strip()))
    return check(owner_mode(run_dir) == (uid, gid, 0o755),
                 "/run/pigeon is pigeon:pigeon 0755 when the server starts: %r" % (owner_mode(run_dir),))


def check_sendmail(root, new, uid, gid):
    """An unprivileged user (nobody) hands a message to the running server with the sendmail
    of the alternative: /usr/sbin/sendmail when it is the alternative's link, else (another
    MTA's real file there, as Postfix's on a test machine) the alternative's target. It
    reaches the packaged socket without -C and the message arrives in alice's Maildir."""
    sock = root.path("/run/pigeon/sendmail.sock")
    st = os.lstat(sock) if os.path.exists(sock) else None
    check(st is not None and stat.S_ISSOCK(st.st_mode) and (st.st_uid, st.st_gid) == (uid, gid)
          and stat.S_IMODE(st.st_mode) == 0o666,
          "the server made /run/pigeon/sendmail.sock, pigeon's, mode 0666")
    linked = os.path.realpath(root.path("/usr/sbin/sendmail")) == root.path("/usr/sbin/pigeon")
    sendmail = "/usr/sbin/sendmail" if linked else "/usr/lib/pigeon/sendmail"
    before = set(os.listdir(new))
    body = ("To: %s@%s\r\nSubject: via sendmail\r\n\r\nHanded over by the packaged sendmail.\r\n"
            % (USER, DOMAIN))
    r = root.chroot(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sendmail, "-i",
                     "%s@%s" % (USER, DOMAIN)], input=body, env={"PATH": "/usr/sbin:/usr/bin:/bin"})
    if not check(r.returncode == 0, "%s as nobody queues the message (exit %d) %s"
                 % (sendmail, r.returncode, (r.stdout + r.stderr).strip())):
        return

    def arrived():
        return [n for n in os.listdir(new) if n not in before]
    if not check(harness.wait_until(lambda: bool(arrived()), 20), "the sendmail message arrives in alice's Maildir"):
        return
    with open(os.path.join(new, arrived()[0]), "rb") as f:
        raw = f.read()
    check(b"Handed over by the packaged sendmail." in raw and b"nobody@" + DOMAIN.encode() in raw,
          "it is the message sent, from nobody@%s" % DOMAIN)


def unit_setting(root, key):
    with open(root.path("/lib/systemd/system/pigeon.service")) as f:
        values = re.findall(r"(?m)^%s=(.*)$" % key, f.read())
    assert len(values) == 1, "pigeon.service sets %s %d times" % (key, len(values))
    return values[0].split()


def unit_bounding_set(root):
    """CapabilityBoundingSet=CAP_A CAP_B as setpriv's -all,+a,+b."""
    caps = unit_setting(root, "CapabilityBoundingSet")
    return ",".join(["-all"] + ["+" + c.lower().replace("cap_", "", 1) for c in caps])


def unit_umask(root):
    return int(unit_setting(root, "UMask")[0], 8)


def _server_pid(proc):
    """chroot and setpriv exec in place, so the child's pid is the server's."""
    with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
        argv = f.read().split(b"\0")
    assert argv[0].endswith(b"pigeon"), argv
    return proc.pid


def check_state_tree(root, uid, gid):
    """Every file and directory the server wrote under /var/lib/pigeon: pigeon:pigeon, and
    nothing readable or writable by others."""
    state = root.path("/var/lib/pigeon")
    seen, wrong = 0, []
    for dirpath, dirnames, filenames in os.walk(state):
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            o, g, mode = owner_mode(p)
            seen += 1
            if (o, g) != (uid, gid) or mode & 0o007:
                wrong.append("%s %d:%d %o" % (p[len(root.merged):], o, g, mode))
    check(seen >= 5 and not wrong,
          "all %d entries under /var/lib/pigeon are pigeon:pigeon with no access for others%s"
          % (seen, ": " + ", ".join(wrong[:10]) if wrong else ""))


def check_purge(root, delivered):
    r = root.chroot(["dpkg", "--purge", "pigeon"])
    check(r.returncode == 0, "dpkg --purge removes the package: %s" % (r.stdout + r.stderr).strip()[-500:])
    check(not os.path.exists(root.path("/etc/pigeon/pigeon.toml")), "purge removed the conffile")
    check(not os.path.exists(root.path("/var/lib/pigeon/queue")), "purge removed the queue")
    check(not os.path.exists(root.path("/etc/pigeon")), "purge left no /etc/pigeon")
    check(not os.path.exists(root.path("/var/log/pigeon")), "purge removed /var/log/pigeon and its logs")
    if delivered:
        check(os.path.isdir(root.path("/var/lib/pigeon/mail/%s/%s/Maildir/new" % (DOMAIN, USER))),
              "purge kept the mailbox that holds mail")
    r = root.chroot(["update-alternatives", "--query", "sendmail"])
    check("/usr/lib/pigeon/sendmail" not in r.stdout, "removal withdrew the sendmail alternative")
    check(root.ids("pigeon", "pigeon")[0] is not None, "the pigeon user stays after purge")


def inside(top, deb):
    root = Root(top)
    if check_install(root, deb):
        check_purge(root, check_serve(root))


def fingerprint():
    """What the host must still have unchanged afterwards."""
    h = hashlib.sha256()
    for p in ("/etc/passwd", "/etc/group", "/etc/shadow", "/var/lib/dpkg/status"):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(str(sorted(os.listdir("/etc/alternatives"))).encode())
    return h.hexdigest()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--inside":
        inside(sys.argv[2], sys.argv[3])
        print("in the throwaway root: ", end="")
        return summary()
    if len(sys.argv) != 2 or not sys.argv[1].endswith(".deb"):
        raise SystemExit("usage: %s PIGEON.deb (scripts/package prints it)" % sys.argv[0])
    if os.geteuid() != 0:
        raise SystemExit("test_package: needs root (overlay mount and chroot)")
    deb = os.path.abspath(sys.argv[1])
    before = fingerprint()
    check_lintian(deb)
    had_user = user_exists()
    top = tempfile.mkdtemp(prefix="pigeon-pkg-")
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), "--inside", top, deb], timeout=900)
    finally:
        # The namespace and its mounts are gone with the process: only plain files remain.
        shutil.rmtree(top, ignore_errors=True)
    check(r.returncode == 0, "the checks in the throwaway root passed")
    check(fingerprint() == before and user_exists() == had_user,
          "the host's users, groups, dpkg database and alternatives are unchanged")
    return summary()


def user_exists():
    try:
        pwd.getpwnam("pigeon")
        return True
    except KeyError:
        try:
            grp.getgrnam("pigeon")
            return True
        except KeyError:
            return False


if __name__ == "__main__":
    sys.exit(main())
