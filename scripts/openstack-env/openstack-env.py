#!/usr/bin/python3
"""Start and stop real OpenStack telemetry daemons on free 127.0.0.1 ports, for integration tests.

    openstack-env.py start    --dir DIR [--components rabbitmq,postgresql,keystone,gnocchi,notification]
    openstack-env.py stop     --dir DIR
    openstack-env.py status   --dir DIR
    openstack-env.py selftest --dir DIR [--keep]

Everything lives under DIR (plus the Python venvs cached under ${TMPDIR:-/tmp}/nephometer-venv-<name>).
DIR/env.json describes the running environment (see README.md beside this file). Standard library only;
run it with Debian's /usr/bin/python3.
"""

import argparse
import base64
import datetime
import fcntl
import glob
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid

TOOL = os.path.abspath(__file__)
SCHEMA = 1
ALL_COMPONENTS = ["rabbitmq", "postgresql", "keystone", "gnocchi", "notification"]
# Hard dependencies: asking for the left one also starts the right ones.
REQUIRES = {"gnocchi": ["postgresql"], "notification": ["rabbitmq"]}
# Start phases: the components of one phase start in parallel; a phase starts when the one before is ready.
PHASES = [["rabbitmq", "postgresql", "keystone"], ["gnocchi"], ["notification"]]

MARK_DIR = "NEPHOMETER_OSENV_DIR"   # set in the environment of every process this tool starts
MARK_RUN = "NEPHOMETER_OSENV_RUN"

VENV_PYTHON = "/usr/bin/python3"
# name -> list of pip install steps (each a list of requirements); see openstack-bus.md B.3 / D.5.
VENVS = {
    "ceilometer": [["ceilometer==27.0.0"]],
    "gnocchi": [["gnocchi==4.7.1"],
                ["psycopg2-binary", "oslo.db", "sqlalchemy", "sqlalchemy-utils", "alembic", "keystonemiddleware"]],
    "keystone": [["keystone==30.0.0"]],   # Flask brings Werkzeug, which serves the WSGI app
}
COMPONENT_VENV = {"keystone": "keystone", "gnocchi": "gnocchi", "notification": "ceilometer"}

ADMIN = {"username": "admin", "password": "nephometer-admin", "project_name": "admin",
         "user_domain_name": "Default", "project_domain_name": "Default"}
SERVICE_USERS = {
    "ceilometer": {"username": "ceilometer", "password": "nephometer-ceilometer", "project_name": "service",
                   "user_domain_name": "Default", "project_domain_name": "Default", "roles": ["admin", "service"]},
    "gnocchi": {"username": "gnocchi", "password": "nephometer-gnocchi", "project_name": "service",
                "user_domain_name": "Default", "project_domain_name": "Default", "roles": ["admin", "service"]},
}
REGION = "RegionOne"
TELEMETRY_SECRET = "nephometer-secret"
GNOCCHI_PUBLISHER = "gnocchi://?archive_policy=low&filter_project=service"

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
EPMD = "/usr/bin/epmd"
ADDR_IN_USE = re.compile(r"(?i)address already in use|eaddrinuse|could not bind ipv4 address")

T0 = time.time()
_print_lock = threading.Lock()


def say(msg):
    with _print_lock:
        sys.stderr.write("[openstack-env +%6.1fs] %s\n" % (time.time() - T0, msg))
        sys.stderr.flush()


class Failure(Exception):
    """A start step failed; `logs` are the files whose tails explain it."""

    def __init__(self, msg, logs=()):
        super().__init__(msg)
        self.logs = list(logs)


class PortClash(Failure):
    """The port we picked was taken by someone else before our daemon bound it: retry with new ports."""


class Aborted(Failure):
    pass


# ---------------------------------------------------------------------------------------------------------
# small helpers

def tmpdir():
    return os.environ.get("TMPDIR") or "/tmp"


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            data = f.read().decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def free_ports(n):
    """n distinct free loopback ports (bound at the same time, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def clean_env():
    """The environment every child starts from: ours minus what would point it at someone else's services."""
    e = {}
    for k, v in os.environ.items():
        if k.startswith(("OS_", "RABBITMQ_", "ERL_", "PG", "VIRTUAL_ENV", "PYTHON", "CONDA")):
            continue
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            continue
        if k in (MARK_DIR, MARK_RUN):
            continue
        e[k] = v
    e["NO_PROXY"] = e["no_proxy"] = "127.0.0.1,localhost"
    e["LANG"] = e.get("LANG", "C.UTF-8") or "C.UTF-8"
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e["PYTHONUNBUFFERED"] = "1"
    return e


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body bytes); never raises on an HTTP status."""
    data = None
    hdrs = {"Accept": "application/json"}
    if headers:
        hdrs.update(headers)
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def http_json(method, url, body=None, headers=None, expect=(200,), timeout=10):
    st, h, b = http(method, url, body, headers, timeout)
    if st not in expect:
        raise Failure("%s %s -> %d %s" % (method, url, st, b[:500].decode("utf-8", "replace")))
    return (json.loads(b) if b else None), h


def basic_auth(user, password=""):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# ---------------------------------------------------------------------------------------------------------
# /proc

def proc_stat(pid):
    """(state, ppid, pgid, starttime) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return f[0], int(f[1]), int(f[2]), f[19]


def start_time(pid):
    st = proc_stat(pid)
    return st[3] if st else None


def alive(pid, started=None):
    st = proc_stat(pid)
    if not st or st[0] in ("Z", "X"):
        return False
    return started is None or st[3] == started


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def all_stats():
    out = {}
    for n in os.listdir("/proc"):
        if n.isdigit():
            st = proc_stat(int(n))
            if st and st[0] not in ("Z", "X"):
                out[int(n)] = st
    return out


def descendants(pids):
    stats = all_stats()
    kids = {}
    for pid, st in stats.items():
        kids.setdefault(st[1], []).append(pid)
    out, todo = set(), list(pids)
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


def marked_pids(d, run_id=None):
    """Live processes carrying our marker for DIR d (and run_id if given)."""
    want_dir = ("%s=%s" % (MARK_DIR, d)).encode()
    want_run = ("%s=%s" % (MARK_RUN, run_id)).encode() if run_id else None
    me = os.getpid()
    out = []
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        pid = int(n)
        if pid == me:
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want_dir in env and (want_run is None or want_run in env) and alive(pid):
            out.append(pid)
    return sorted(out)


def _decode_addr(h):
    b = bytes.fromhex(h)
    if len(b) == 4:
        return socket.inet_ntop(socket.AF_INET, b[::-1])
    return socket.inet_ntop(socket.AF_INET6, b"".join(b[i:i + 4][::-1] for i in range(0, 16, 4)))


def listening_sockets():
    """[(proto, ip, port, inode)] of listening TCP and bound UDP sockets in this network namespace."""
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open("/proc/net/" + proto) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 10:
                continue
            if (proto.startswith("tcp") and f[3] != "0A") or (proto.startswith("udp") and f[3] != "07"):
                continue
            ip_hex, port_hex = f[1].split(":")
            out.append((proto, _decode_addr(ip_hex), int(port_hex, 16), f[9]))
    return out


def socket_inodes(pids):
    """inode -> pid for the sockets held by pids."""
    m = {}
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                m[link[8:-1]] = pid
    return m


# ---------------------------------------------------------------------------------------------------------
# the environment state (DIR/env.json)

class Env:
    def __init__(self, d, components, run_id=None):
        self.dir = d
        self.lock = threading.RLock()
        self.popens = {}
        self.abort = threading.Event()
        self.deadline = None
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.data = {
            "schema": SCHEMA, "status": "starting", "run_id": self.run_id, "dir": d, "tool": TOOL,
            "created_at": now_iso(), "ready_at": None, "components": components,
            "marker_env": {MARK_DIR: d, MARK_RUN: self.run_id},
            "venvs": {}, "timings": {}, "processes": [],
        }

    @property
    def path(self):
        return os.path.join(self.dir, "env.json")

    def save(self):
        with self.lock:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)

    def set(self, component, value):
        with self.lock:
            self.data[component] = value
            self.save()

    def child_env(self, extra=None):
        e = clean_env()
        e[MARK_DIR] = self.dir
        e[MARK_RUN] = self.run_id
        if extra:
            e.update(extra)
        return e

    def remaining(self, want):
        if self.deadline is None:
            return want
        left = self.deadline - time.time()
        if left <= 0:
            raise Failure("overall start timeout reached")
        return min(want, left)

    def check_abort(self):
        if self.abort.is_set():
            raise Aborted("aborted")

    # processes ---------------------------------------------------------------------------------------
    def spawn(self, component, name, argv, log, extra_env=None, user=None, cwd=None):
        self.check_abort()
        env = self.child_env(extra_env)
        kw = {}
        if user:
            pw = pwd.getpwnam(user)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        with open(log, "ab") as lf:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT, env=env,
                                 cwd=cwd or self.dir, start_new_session=True, close_fds=True, **kw)
        rec = {"component": component, "name": name, "pid": p.pid, "pgid": p.pid, "start_time": start_time(p.pid),
               "argv": argv, "log": log, "user": user or pwd.getpwuid(os.geteuid()).pw_name}
        with self.lock:
            self.popens[p.pid] = p
            self.data["processes"].append(rec)
            self.save()
        say("%s: started %s (pid %d)" % (component, name, p.pid))
        return p

    def procs_of(self, component):
        with self.lock:
            return [r for r in self.data["processes"] if r["component"] == component]

    def run(self, argv, timeout, what, extra_env=None, user=None, cwd=None, log=None, check=True, input=None):
        """Run a short command in its own process group; (rc, output)."""
        self.check_abort()
        asked, timeout = timeout, self.remaining(timeout)
        if timeout < asked:
            what = "%s (cut short by the overall --timeout)" % what
        env = self.child_env(extra_env)
        kw = {}
        if user:
            pw = pwd.getpwnam(user)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd or self.dir,
                             start_new_session=True, close_fds=True, **kw)
        try:
            out, _ = p.communicate(input=input.encode() if input is not None else None, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            out, _ = p.communicate()
            if log:
                with open(log, "ab") as f:
                    f.write(out)
            raise Failure("%s timed out after %.0fs:\n%s" % (what, timeout, out.decode("utf-8", "replace")[-3000:]),
                          [log] if log else [])
        finally:
            # whatever it forked and left behind in its group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        text = out.decode("utf-8", "replace")
        if log:
            with open(log, "a") as f:
                f.write("$ %s\n%s\n" % (" ".join(argv), text))
        if check and p.returncode != 0:
            raise Failure("%s failed (exit %d):\n%s" % (what, p.returncode, text[-3000:]), [log] if log else [])
        return p.returncode, text

    def wait_for(self, what, fn, timeout, procs=(), interval=0.5, logs=(), ports=()):
        """Poll fn() until it returns a true value; fail early if one of procs (Popen) exits (PortClash if one
        of `ports` is then held by someone else, or its log says so)."""
        deadline = time.time() + self.remaining(timeout)
        last = None
        while True:
            self.check_abort()
            for p in procs:
                rc = p.poll()
                if rc is not None:
                    text = "".join(tail(l, 200) for l in logs)
                    cls = PortClash if ADDR_IN_USE.search(text) else Failure
                    for port in ports:
                        try:
                            self.port_ours(port)
                        except PortClash:
                            cls = PortClash
                    raise cls("%s: process %d (%s) exited with status %s" % (what, p.pid, p.args[0], rc), logs)
            try:
                r = fn()
                if r:
                    return r
            except (PortClash, Aborted):
                raise
            except Exception as e:  # noqa: BLE001 - keep polling, remember why
                last = e
            if time.time() >= deadline:
                raise Failure("timed out after %.0fs waiting for %s%s" % (timeout, what,
                              (": last error: %s" % last) if last else ""), logs)
            time.sleep(interval)

    def our_pids(self):
        """Marked processes, the members of the process groups we started and all descendants of the processes
        we started (postgres and setproctitle users overwrite their environment block, and postgres and Erlang
        children call setsid, so no single criterion is enough)."""
        with self.lock:
            live = [r for r in self.data["processes"] if alive(r["pid"], r.get("start_time"))]
        leaders = [r["pid"] for r in live]
        pgids = {r["pgid"] for r in live}
        pids = set(marked_pids(self.dir, self.run_id)) | set(leaders) | descendants(leaders)
        for pid, st in all_stats().items():
            if st[2] in pgids:
                pids.add(pid)
        return sorted(pids)

    def port_ours(self, port):
        """True if a socket listening on port belongs to one of our processes, PortClash if to someone else,
        False if nobody listens yet."""
        socks = [s for s in listening_sockets() if s[0].startswith("tcp") and s[2] == port]
        if not socks:
            return False
        mine = socket_inodes(self.our_pids())
        if any(s[3] in mine for s in socks):
            return True
        raise PortClash("port %d is taken by a process that is not ours" % port)

    def kill_component(self, component, grace=10):
        recs = self.procs_of(component)
        stop_records(self.dir, recs, grace, self.run_id, say)
        with self.lock:
            self.data["processes"] = [r for r in self.data["processes"] if r["component"] != component]
            self.save()


# ---------------------------------------------------------------------------------------------------------
# stopping

def _signal_record(rec, sig):
    """Signal a recorded process group, only if its leader is still the process we started."""
    if alive(rec["pid"], rec.get("start_time")):
        try:
            os.killpg(rec["pgid"], sig)
        except OSError:
            try:
                os.kill(rec["pid"], sig)
            except OSError:
                pass


def stop_records(d, recs, grace, run_id=None, log=lambda m: None):
    """SIGTERM the recorded groups (newest first) and their descendants, wait, then SIGKILL what is left."""
    recs = list(reversed(recs))
    pgids = {r["pgid"] for r in recs}
    leaders = [r["pid"] for r in recs if alive(r["pid"], r.get("start_time"))]

    def family():
        fam = set(p for p in leaders if alive(p)) | descendants(leaders)
        for pid in marked_pids(d, run_id):
            st = proc_stat(pid)
            if st and st[2] in pgids:
                fam.add(pid)
        return fam
    fam = family()
    for r in recs:
        _signal_record(r, signal.SIGTERM)
    for pid in fam:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + grace
    while time.time() < deadline:
        fam = {p for p in fam | family() if alive(p)}
        if not fam:
            return
        time.sleep(0.2)
    for r in recs:
        if alive(r["pid"], r.get("start_time")):
            log("%s: %s (pid %d) did not stop on SIGTERM: SIGKILL" % (r["component"], r["name"], r["pid"]))
        _signal_record(r, signal.SIGKILL)
    for pid in fam | family():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(p) for p in fam):
        time.sleep(0.1)


def stop_dir(d, log=say):
    """Stop everything started for DIR d. Idempotent."""
    path = os.path.join(d, "env.json")
    data = None
    if os.path.exists(path):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            log("cannot read %s (%s): stopping by marker only" % (path, e))
    recs = (data or {}).get("processes", [])
    by_comp = {}
    for r in recs:
        by_comp.setdefault(r["component"], []).append(r)
    # graceful, in reverse dependency order
    for comp in reversed(ALL_COMPONENTS):
        crecs = by_comp.get(comp, [])
        if not any(alive(r["pid"], r.get("start_time")) for r in crecs):
            continue
        log("stopping %s" % comp)
        if comp == "postgresql" and data and data.get("postgresql"):
            pg = data["postgresql"]
            server = [r for r in crecs if r["name"] == "postgres"]
            if server and alive(server[0]["pid"], server[0].get("start_time")):
                argv = [os.path.join(pg["bin_dir"], "pg_ctl"), "stop", "-D", pg["data_dir"], "-m", "fast",
                        "-w", "-t", "20"]
                kw = {}
                if server[0].get("user") and server[0]["user"] != pwd.getpwuid(os.geteuid()).pw_name:
                    pw = pwd.getpwnam(server[0]["user"])
                    kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
                try:
                    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30, cwd="/", env=clean_env(), **kw)
                except (OSError, subprocess.SubprocessError):
                    pass
        # rabbitmq: beam first, epmd last (newest-first order already does it)
        stop_records(d, crecs, 20 if comp in ("rabbitmq", "notification") else 10, None, log)
    # anything else that carries our DIR marker (daemonized helpers, stray CLI runs, records lost in a crash)
    left = marked_pids(d)
    if left:
        log("stopping %d remaining marked process(es): %s" % (len(left), ", ".join(
            "%d %s" % (p, cmdline(p)[:60]) for p in left)))
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            for p in marked_pids(d):
                try:
                    os.kill(p, sig)
                except OSError:
                    pass
            deadline = time.time() + wait
            while time.time() < deadline and marked_pids(d):
                time.sleep(0.2)
            if not marked_pids(d):
                break
    left = marked_pids(d)
    if data is not None:
        data["status"] = "stopped" if not left else "stop-failed"
        data["stopped_at"] = now_iso()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    return left


# ---------------------------------------------------------------------------------------------------------
# venvs

def venv_dir(name):
    return os.path.join(tmpdir(), "nephometer-venv-" + name)


def ensure_venv(name):
    """Create/reuse ${TMPDIR:-/tmp}/nephometer-venv-<name>; a marker file records a complete install."""
    d = venv_dir(name)
    steps = VENVS[name]
    reqs = [r for step in steps for r in step]
    marker = os.path.join(d, ".installed-" + "_".join(reqs).replace("/", "_"))
    if os.path.exists(marker):
        return d, 0.0
    os.makedirs(d, exist_ok=True)
    fd = os.open(d, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # another run may be building the same venv
        if os.path.exists(marker):
            return d, 0.0
        t = time.time()
        py = VENV_PYTHON if os.access(VENV_PYTHON, os.X_OK) else shutil.which("python3")
        say("venv %s: creating with %s -m venv (cold start: this takes a minute or two)" % (d, py))
        env = clean_env()
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_INPUT"] = "1"
        r = subprocess.run([py, "-m", "venv", "--clear", d], stdin=subprocess.DEVNULL, env=env, timeout=300)
        if r.returncode != 0:
            raise Failure("python -m venv %s failed (exit %d)" % (d, r.returncode))
        for step in steps:
            say("venv %s: pip install %s" % (name, " ".join(step)))
            # quiet, but errors (stderr) are shown
            r = subprocess.run([os.path.join(d, "bin", "pip"), "install", "-q", "--no-cache-dir",
                                "--disable-pip-version-check", "--no-input"] + step,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env, timeout=1200)
            if r.returncode != 0:
                raise Failure("pip install %s into %s failed (exit %d); see the pip errors above"
                              % (" ".join(step), d, r.returncode))
        open(marker, "w").close()
        dt = time.time() - t
        say("venv %s: ready in %.0fs" % (name, dt))
        return d, dt
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------
# AMQP 0-9-1: a minimal login (connection.start / start-ok PLAIN / tune / open / close)

def _amqp_frame(channel, payload, ftype=1):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + b"\xce"


def _shortstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def _longstr(b):
    return struct.pack(">I", len(b)) + b


def _read_frame(sock):
    def readn(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise Failure("AMQP: connection closed by the broker")
            buf += chunk
        return buf
    ftype, ch, size = struct.unpack(">BHI", readn(7))
    payload = readn(size)
    if readn(1) != b"\xce":
        raise Failure("AMQP: bad frame end")
    return ftype, ch, payload


def _read_method(sock):
    while True:
        ftype, ch, payload = _read_frame(sock)
        if ftype == 1:
            cls, meth = struct.unpack(">HH", payload[:4])
            return cls, meth, payload[4:]
        # heartbeats etc.: ignore


def amqp_login(port, user="guest", password="guest", vhost="/", timeout=5):
    """Full AMQP connection handshake with PLAIN auth; returns the broker's product/version string."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"AMQP\x00\x00\x09\x01")
        cls, meth, args = _read_method(s)
        if (cls, meth) != (10, 10):
            raise Failure("AMQP: expected connection.start, got %d.%d" % (cls, meth))
        info = args.decode("latin-1")
        product = "RabbitMQ" if "RabbitMQ" in info else "?"
        m = re.search(r"versionS....([0-9][0-9.]*)", info, re.S)
        version = m.group(1) if m else "?"
        start_ok = (struct.pack(">HH", 10, 11) + struct.pack(">I", 0) + _shortstr("PLAIN")
                    + _longstr(b"\0" + user.encode() + b"\0" + password.encode()) + _shortstr("en_US"))
        s.sendall(_amqp_frame(0, start_ok))
        cls, meth, args = _read_method(s)
        if (cls, meth) == (10, 50):
            code = struct.unpack(">H", args[:2])[0]
            raise Failure("AMQP: login refused: %d %s" % (code, args[3:3 + args[2]].decode("utf-8", "replace")))
        if (cls, meth) != (10, 30):
            raise Failure("AMQP: expected connection.tune, got %d.%d" % (cls, meth))
        channel_max, frame_max, _hb = struct.unpack(">HIH", args[:8])
        s.sendall(_amqp_frame(0, struct.pack(">HHHIH", 10, 31, channel_max, frame_max, 0)))
        s.sendall(_amqp_frame(0, struct.pack(">HH", 10, 40) + _shortstr(vhost) + _shortstr("") + b"\x00"))
        cls, meth, args = _read_method(s)
        if (cls, meth) != (10, 41):
            raise Failure("AMQP: connection.open refused (%d.%d): %r" % (cls, meth, args[:200]))
        s.sendall(_amqp_frame(0, struct.pack(">HHH", 10, 50, 200) + _shortstr("bye") + struct.pack(">HH", 0, 0)))
        try:
            _read_method(s)
        except Exception:  # noqa: BLE001 - close-ok or EOF, both fine
            pass
        return "%s %s" % (product, version)
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------------------
# components

def make_test_ca(env, d):
    """A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost (EC P-256, 2 days)."""
    os.makedirs(d, exist_ok=True)
    f = {k: os.path.join(d, v) for k, v in (("ca_key", "ca.key"), ("ca_file", "ca.pem"), ("key_file", "server.key"),
                                            ("csr", "server.csr"), ("cert_file", "server.pem"), ("ext", "server.ext"))}
    write_file(f["ext"], "subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    log = os.path.join(d, "openssl.log")
    env.run(["openssl", "req", "-x509"] + ec + ["-keyout", f["ca_key"], "-out", f["ca_file"], "-days", "2",
             "-subj", "/CN=nephometer test CA %s" % env.run_id], 30, "openssl (test CA)", log=log)
    env.run(["openssl", "req"] + ec + ["-keyout", f["key_file"], "-out", f["csr"], "-subj", "/CN=localhost"], 30,
            "openssl (server key)", log=log)
    env.run(["openssl", "x509", "-req", "-in", f["csr"], "-CA", f["ca_file"], "-CAkey", f["ca_key"], "-CAcreateserial",
             "-out", f["cert_file"], "-days", "2", "-extfile", f["ext"]], 30, "openssl (server certificate)", log=log)
    return f


def start_rabbitmq(env):
    d = os.path.join(env.dir, "rabbitmq")
    if os.path.exists(d):
        shutil.rmtree(d)
    home, mnesia, logdir = (os.path.join(d, x) for x in ("home", "mnesia", "log"))
    for x in (d, home, mnesia, logdir):
        os.makedirs(x, exist_ok=True)
    for exe in (RABBITMQ_SERVER, RABBITMQCTL, EPMD):
        if not os.access(exe, os.X_OK):
            raise Failure("%s not found: apt-get install rabbitmq-server (scripts/install-deps.sh)" % exe)
    amqp_port, dist_port, epmd_port, tls_port = free_ports(4)
    node = "rabbit-%s@localhost" % env.run_id
    tls = make_test_ca(env, os.path.join(d, "tls"))
    conf = os.path.join(d, "rabbitmq.conf")
    write_file(conf, "\n".join([
        "listeners.tcp.default = 127.0.0.1:%d" % amqp_port,
        # AMQP over TLS on a second port (rabbit+ssl://), with a certificate of this node's own test CA
        "listeners.ssl.default = 127.0.0.1:%d" % tls_port,
        "ssl_options.cacertfile = %s" % tls["ca_file"],
        "ssl_options.certfile = %s" % tls["cert_file"],
        "ssl_options.keyfile = %s" % tls["key_file"],
        "ssl_options.verify = verify_none",
        "ssl_options.fail_if_no_peer_cert = false",
        "loopback_users.guest = true",   # guest/guest, from loopback only (the default, made explicit)
        "log.console = false",
        "log.file.level = info",
        ""]))
    plugins = os.path.join(d, "enabled_plugins")
    write_file(plugins, "[].\n")
    cookie = os.path.join(home, ".erlang.cookie")
    write_file(cookie, uuid.uuid4().hex.upper()[:20], 0o400)
    write_file(os.path.join(d, "rabbitmq-env.conf"), "# intentionally empty: do not read /etc/rabbitmq\n")
    ctl_env = {
        "HOME": home,
        "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": node,
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": conf,
        "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(d, "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": plugins,
        "RABBITMQ_MNESIA_BASE": mnesia,
        "RABBITMQ_LOG_BASE": logdir,
        "RABBITMQ_PID_FILE": os.path.join(d, "rabbit.pid"),
        # the CLI tools' own distribution listener: loopback, kernel-chosen port (default 35672-35682 is global)
        "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_CTL_DIST_PORT_MIN": "0",
        "RABBITMQ_CTL_DIST_PORT_MAX": "0",
    }
    server_env = dict(ctl_env)
    server_env.update({
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 1:1 +A 4 +sbwt none +sbwtdcpu none +sbwtdio none "
                                               "-kernel inet_dist_use_interface {127,0,0,1}",
    })
    wrapper = os.path.join(d, "rabbitmqctl.sh")
    write_file(wrapper, "#!/bin/sh\n# rabbitmqctl for this private node\n" + "".join(
        "export %s='%s'\n" % (k, v) for k, v in sorted(ctl_env.items())) + 'exec %s "$@"\n' % RABBITMQCTL, 0o755)
    info = {
        "host": "127.0.0.1", "port": amqp_port, "dist_port": dist_port, "epmd_port": epmd_port, "node": node,
        "username": "guest", "password": "guest", "vhost": "/",
        "transport_url": "rabbit://guest:guest@127.0.0.1:%d/" % amqp_port,
        "tls_port": tls_port, "tls_transport_url": "rabbit+ssl://guest:guest@127.0.0.1:%d/" % tls_port,
        "tls_ca_file": tls["ca_file"], "tls_cert_file": tls["cert_file"], "tls_key_file": tls["key_file"],
        "amqp_url": "amqp://guest:guest@127.0.0.1:%d/%%2f" % amqp_port,
        "exchange": "ceilometer", "sample_queue": "notifications.sample", "sample_routing_key": "notifications.sample",
        "rabbitmqctl": RABBITMQCTL, "rabbitmqctl_wrapper": wrapper, "ctl_env": ctl_env,
        "config_file": conf, "cookie_file": cookie, "home": home, "mnesia_dir": mnesia, "log_dir": logdir,
        "log": os.path.join(d, "server.log"), "logs": [os.path.join(d, "server.log"), os.path.join(d, "epmd.log"),
                                                        os.path.join(logdir, node + ".log")],
    }
    env.set("rabbitmq", info)
    logs = info["logs"]
    epmd_log = os.path.join(d, "epmd.log")
    ep = env.spawn("rabbitmq", "epmd", [EPMD, "-port", str(epmd_port), "-address", "127.0.0.1"], epmd_log,
                   extra_env={"ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(epmd_port), "HOME": home}, cwd=d)
    env.wait_for("epmd on 127.0.0.1:%d" % epmd_port, lambda: env.port_ours(epmd_port), 15, [ep], 0.2, [epmd_log],
                 [epmd_port])
    srv = env.spawn("rabbitmq", "rabbitmq-server", [RABBITMQ_SERVER], info["log"], extra_env=server_env, cwd=d)
    version = env.wait_for("RabbitMQ AMQP login on 127.0.0.1:%d" % amqp_port,
                           lambda: env.port_ours(amqp_port) and amqp_login(amqp_port), 120, [srv, ep], 0.5, logs,
                           [amqp_port, dist_port])
    env.wait_for("RabbitMQ distribution port %d" % dist_port, lambda: env.port_ours(dist_port), 30, [srv], 0.5, logs)
    env.wait_for("RabbitMQ TLS listener on 127.0.0.1:%d" % tls_port, lambda: env.port_ours(tls_port), 30, [srv], 0.5, logs)
    ctl_log = os.path.join(d, "rabbitmqctl.log")
    ctl = lambda *a, **kw: env.run([RABBITMQCTL] + list(a), kw.pop("timeout", 60), "rabbitmqctl " + a[0],
                                   extra_env=ctl_env, log=ctl_log, cwd=d, **kw)
    ctl("await_startup", "--timeout", "60", timeout=90)
    ctl("-q", "list_queues", "name", "messages")
    info["version"] = version
    info["rabbitmqctl_log"] = ctl_log
    env.set("rabbitmq", info)
    say("rabbitmq: ready (%s, node %s, AMQP 127.0.0.1:%d)" % (version, node, amqp_port))


def rabbitmqctl(env, *args, timeout=60):
    info = env.data["rabbitmq"]
    return env.run([RABBITMQCTL] + list(args), timeout, "rabbitmqctl " + args[0], extra_env=info["ctl_env"],
                   log=info.get("rabbitmqctl_log"), cwd=os.path.dirname(info["config_file"]))[1]


def pg_bin_dir():
    for v in ("15",) + tuple(sorted((x for x in os.listdir("/usr/lib/postgresql") if x.isdigit()), key=int,
                                    reverse=True) if os.path.isdir("/usr/lib/postgresql") else ()):
        b = "/usr/lib/postgresql/%s/bin" % v
        if os.access(os.path.join(b, "initdb"), os.X_OK) and os.access(os.path.join(b, "postgres"), os.X_OK):
            return b
    raise Failure("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                  "apt-get install postgresql (scripts/install-deps.sh)")


def start_postgresql(env):
    d = os.path.join(env.dir, "postgresql")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    bindir = pg_bin_dir()
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise Failure("running as root but there is no postgres user (apt-get install postgresql)")
        os.chown(d, pw.pw_uid, pw.pw_gid)
        os.chmod(d, 0o700)
        rc, out = env.run(["/bin/sh", "-c", 'test -w "$1" && echo ok', "sh", d], 10, "access check", user=user,
                          cwd="/", check=False)
        if "ok" not in out:
            raise Failure("the postgres user cannot reach %s: make DIR and its parents world-executable "
                          "(chmod o+x), or use a DIR under /tmp" % d)
    data, sock = os.path.join(d, "data"), os.path.join(d, "run")
    log = os.path.join(d, "postgresql.log")
    setup_log = os.path.join(d, "initdb.log")
    env.run([os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"], 90, "initdb", user=user, cwd=d, log=setup_log)
    os.makedirs(sock)
    if user:
        pw = pwd.getpwnam(user)
        os.chown(sock, pw.pw_uid, pw.pw_gid)
    port, = free_ports(1)
    info = {
        "host": "127.0.0.1", "port": port, "user": "postgres", "password": None, "socket_dir": sock,
        "data_dir": data, "bin_dir": bindir, "os_user": user or pwd.getpwuid(os.geteuid()).pw_name,
        "databases": ["gnocchi"],
        "dsn": "postgresql://postgres@127.0.0.1:%d/gnocchi" % port,
        "admin_dsn": "postgresql://postgres@127.0.0.1:%d/postgres" % port,
        "log": log, "logs": [log, setup_log],
    }
    env.set("postgresql", info)
    p = env.spawn("postgresql", "postgres", [
        os.path.join(bindir, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", sock,
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=200", "-c", "logging_collector=off"], log, user=user, cwd=d)
    psql = os.path.join(bindir, "psql")

    def ready():
        if not env.port_ours(port):
            return False
        rc, out = env.run([psql, "-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                           "-d", "postgres", "-c", "select 1"], 10, "psql", check=False,
                          extra_env={"PGCONNECT_TIMEOUT": "5"})
        return rc == 0 and out.strip() == "1"
    env.wait_for("PostgreSQL select 1 on 127.0.0.1:%d" % port, ready, 60, [p], 0.3, [log], [port])
    for db in info["databases"]:
        env.run([psql, "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
                 "-c", "create database %s" % db], 30, "create database " + db, log=setup_log)
    env.set("postgresql", info)
    say("postgresql: ready (127.0.0.1:%d, databases %s)" % (port, ", ".join(info["databases"])))


KEYSTONE_RUNNER = '''\
# Serves the Keystone WSGI app with werkzeug (no Apache / uwsgi). usage: run_keystone.py CONF HOST PORT
import os, sys
conf, host, port = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
os.environ["OS_KEYSTONE_CONFIG_DIR"] = os.path.dirname(conf)
os.environ["OS_KEYSTONE_CONFIG_FILES"] = os.path.basename(conf)
sys.argv = sys.argv[:1]   # keystone parses sys.argv with oslo.config
from werkzeug.serving import run_simple
from keystone.server import wsgi
application = wsgi.initialize_public_application()
run_simple(host, port, application, threaded=True)
'''


def keystone_token(auth_url, creds, timeout=15):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": creds["username"], "domain": {"name": creds["user_domain_name"]}, "password": creds["password"]}}},
        "scope": {"project": {"name": creds["project_name"], "domain": {"name": creds["project_domain_name"]}}}}}
    st, h, b = http("POST", auth_url.rstrip("/") + "/auth/tokens", body, timeout=timeout)
    if st != 201:
        raise Failure("Keystone token for %s -> %d %s" % (creds["username"], st, b[:300].decode("utf-8", "replace")))
    return h["X-Subject-Token"], json.loads(b)["token"]


def start_keystone(env):
    d = os.path.join(env.dir, "keystone")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    venv = env.data["venvs"]["keystone"]
    manage = os.path.join(venv, "bin", "keystone-manage")
    port, = free_ports(1)
    url = "http://127.0.0.1:%d" % port
    conf = os.path.join(d, "keystone.conf")
    log = os.path.join(d, "keystone.log")
    wsgi_log = os.path.join(d, "wsgi.log")
    setup_log = os.path.join(d, "setup.log")
    write_file(conf, "\n".join([
        "[DEFAULT]", "debug = false", "log_file = %s" % log, "",
        "[database]", "connection = sqlite:///%s" % os.path.join(d, "keystone.db"), "",
        "[token]", "provider = fernet", "",
        "[fernet_tokens]", "key_repository = %s" % os.path.join(d, "fernet-keys"), "",
        "[fernet_receipts]", "key_repository = %s" % os.path.join(d, "fernet-keys"), "",
        "[credential]", "key_repository = %s" % os.path.join(d, "credential-keys"), "",
        "[oslo_concurrency]", "lock_path = %s" % os.path.join(d, "lock"), "",
        ""]))
    runner = os.path.join(d, "run_keystone.py")
    write_file(runner, KEYSTONE_RUNNER)
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(me.pw_gid).gr_name
    info = {
        "url": url, "port": port, "auth_url": url + "/v3", "region": REGION, "identity_api_version": "3",
        "admin": dict(ADMIN), "service_users": {k: dict(v) for k, v in SERVICE_USERS.items()},
        "config_file": conf, "database": "sqlite:///%s" % os.path.join(d, "keystone.db"),
        "log": log, "logs": [log, wsgi_log, setup_log],
    }
    env.set("keystone", info)
    mk = lambda *a, **kw: env.run([manage, "--config-file", conf] + list(a), kw.pop("timeout", 120),
                                  "keystone-manage " + a[0], log=setup_log, cwd=d, extra_env={"HOME": d})
    mk("db_sync", timeout=180)
    mk("fernet_setup", "--keystone-user", me.pw_name, "--keystone-group", group, timeout=60)
    mk("credential_setup", "--keystone-user", me.pw_name, "--keystone-group", group, timeout=60)
    mk("bootstrap", "--bootstrap-username", ADMIN["username"], "--bootstrap-password", ADMIN["password"],
       "--bootstrap-project-name", ADMIN["project_name"], "--bootstrap-role-name", "admin",
       "--bootstrap-service-name", "keystone", "--bootstrap-region-id", REGION,
       "--bootstrap-admin-url", url, "--bootstrap-public-url", url, "--bootstrap-internal-url", url, timeout=120)
    p = env.spawn("keystone", "keystone-wsgi", [os.path.join(venv, "bin", "python"), runner, conf, "127.0.0.1",
                                                str(port)], wsgi_log, extra_env={"HOME": d}, cwd=d)

    def up():
        if not env.port_ours(port):
            return False
        st, _, b = http("GET", url + "/v3", timeout=5)
        return st == 200 and b'"v3' in b
    env.wait_for("Keystone GET %s/v3" % url, up, 90, [p], 0.5, [wsgi_log, log], [port])
    token, tok = keystone_token(info["auth_url"], ADMIN)
    H = {"X-Auth-Token": token}
    api = url + "/v3"
    roles = {r["name"]: r["id"] for r in http_json("GET", api + "/roles", headers=H)[0]["roles"]}
    for r in ("admin", "service"):
        if r not in roles:
            roles[r] = http_json("POST", api + "/roles", {"role": {"name": r}}, H, (201,))[0]["role"]["id"]
    projects = {"admin": tok["project"]["id"]}
    st, _, b = http("GET", api + "/projects?name=service", headers=H)
    found = json.loads(b)["projects"] if st == 200 else []
    projects["service"] = found[0]["id"] if found else http_json(
        "POST", api + "/projects", {"project": {"name": "service", "domain_id": "default",
                                                "description": "Service project"}}, H, (201,))[0]["project"]["id"]
    users = {"admin": tok["user"]["id"]}
    for name, cred in SERVICE_USERS.items():
        uid = http_json("POST", api + "/users", {"user": {
            "name": cred["username"], "password": cred["password"], "domain_id": "default",
            "default_project_id": projects["service"], "enabled": True}}, H, (201,))[0]["user"]["id"]
        users[name] = uid
        for r in cred["roles"]:
            http_json("PUT", api + "/projects/%s/users/%s/roles/%s" % (projects["service"], uid, roles[r]),
                      headers=H, expect=(204,))
        info["service_users"][name]["user_id"] = uid
    # the service user really gets a token
    keystone_token(info["auth_url"], SERVICE_USERS["ceilometer"])
    info.update({"project_ids": projects, "user_ids": users, "role_ids": roles})
    env.set("keystone", info)
    say("keystone: ready (%s, projects admin=%s service=%s)" % (url, projects["admin"], projects["service"]))


GNOCCHI_RUNNER = '''\
# Serves the Gnocchi WSGI app with werkzeug (gnocchi-api needs uwsgi). usage: run_api.py --config-file CONF
from werkzeug.serving import run_simple
from gnocchi.cli import api
from gnocchi.rest import app
conf = api.prepare_service()
application = app.load_app(conf)
run_simple(conf.api.host, conf.api.port, application, threaded=True)
'''


def gnocchi_conf(mode, port, indexer, storage, ks=None, paste=None):
    lines = ["[DEFAULT]", "debug = false", "verbose = false", "",
             "[api]", "auth_mode = %s" % mode, "host = 127.0.0.1", "port = %d" % port] + (
                ["paste_config = %s" % paste] if paste else []) + ["",
             "[indexer]", "url = %s" % indexer, "",
             "[storage]", "driver = file", "file_basepath = %s" % storage, ""]
    if mode == "keystone":
        c = SERVICE_USERS["gnocchi"]
        lines += ["[keystone_authtoken]", "auth_type = password", "auth_url = %s" % ks["auth_url"],
                  "www_authenticate_uri = %s" % ks["auth_url"], "username = %s" % c["username"],
                  "password = %s" % c["password"], "project_name = %s" % c["project_name"],
                  "user_domain_name = %s" % c["user_domain_name"],
                  "project_domain_name = %s" % c["project_domain_name"], "region_name = %s" % REGION,
                  "interface = public", ""]
    return "\n".join(lines) + "\n"


def register_gnocchi(env, gurl):
    ks = env.data["keystone"]
    token, _ = keystone_token(ks["auth_url"], ADMIN)
    H = {"X-Auth-Token": token}
    api = ks["auth_url"]
    services = http_json("GET", api + "/services?type=metric", headers=H)[0]["services"]
    for s in services:   # a retry with other ports: replace the old registration
        http_json("DELETE", api + "/services/" + s["id"], headers=H, expect=(204,))
    sid = http_json("POST", api + "/services", {"service": {"type": "metric", "name": "gnocchi", "enabled": True,
                                                            "description": "Gnocchi (keystone auth_mode)"}},
                    H, (201,))[0]["service"]["id"]
    eps = {}
    for iface in ("public", "internal"):
        eps[iface] = http_json("POST", api + "/endpoints", {"endpoint": {
            "service_id": sid, "interface": iface, "url": gurl, "region_id": REGION, "enabled": True}},
            H, (201,))[0]["endpoint"]["id"]
    return sid, eps


def start_gnocchi(env):
    d = os.path.join(env.dir, "gnocchi")
    storage = os.path.join(d, "storage")
    os.makedirs(storage, exist_ok=True)
    venv = env.data["venvs"]["gnocchi"]
    py = os.path.join(venv, "bin", "python")
    pg = env.data["postgresql"]
    ks = env.data.get("keystone") if "keystone" in env.data["components"] else None
    modes = ["basic"] + (["keystone"] if ks else [])
    ports = dict(zip(modes, free_ports(len(modes))))
    runner = os.path.join(d, "run_api.py")
    write_file(runner, GNOCCHI_RUNNER)
    setup_log = os.path.join(d, "setup.log")
    info = {"version": "4.7.1", "indexer_url": pg["dsn"], "storage_dir": storage, "modes": modes,
            "setup_log": setup_log, "logs": [setup_log]}
    paste = None
    if ks:
        # keystonemiddleware is loaded with `oslo_config_project = gnocchi`, which reads /etc/gnocchi/gnocchi.conf
        # (and ~/gnocchi.conf ...), not the --config-file: give it our file through its own paste ini.
        src = glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "gnocchi", "rest", "api-paste.ini"))
        if not src:
            raise Failure("gnocchi/rest/api-paste.ini not found in %s" % venv)
        with open(src[0]) as f:
            ini = f.read()
        marker = "oslo_config_project = gnocchi"
        if "[filter:keystone_authtoken]" not in ini or marker not in ini:
            raise Failure("unexpected %s: no keystone_authtoken filter" % src[0])
        paste = os.path.join(d, "api-paste-keystone.ini")
        kconf = os.path.join(d, "gnocchi-keystone.conf")
        head, _, rest = ini.partition("[filter:keystone_authtoken]")
        rest = rest.replace(marker, marker + "\noslo_config_file = %s" % kconf, 1)
        write_file(paste, head + "[filter:keystone_authtoken]" + rest)
    for m in modes:
        conf = os.path.join(d, "gnocchi-%s.conf" % m)
        write_file(conf, gnocchi_conf(m, ports[m], pg["dsn"], storage, ks, paste if m == "keystone" else None))
        info[m] = {"url": "http://127.0.0.1:%d" % ports[m], "port": ports[m], "auth_mode": m, "config_file": conf,
                   "log": os.path.join(d, "api-%s.log" % m)}
        info["logs"].append(info[m]["log"])
    info["basic"].update({"user": "admin", "password": "", "authorization": basic_auth("admin")})
    if ks:
        info["keystone"].update({"service_type": "metric", "service_name": "gnocchi", "interfaces": ["public", "internal"],
                                 "region": REGION})
    env.set("gnocchi", info)
    env.run([os.path.join(venv, "bin", "gnocchi-upgrade"), "--config-file", info["basic"]["config_file"]], 180,
            "gnocchi-upgrade", log=setup_log, cwd=d, extra_env={"HOME": d})
    if ks:
        sid, eps = register_gnocchi(env, info["keystone"]["url"])
        info["keystone"].update({"service_id": sid, "endpoint_ids": eps})
        env.set("gnocchi", info)
    procs = {}
    for m in modes:
        procs[m] = env.spawn("gnocchi", "gnocchi-api-" + m, [py, runner, "--config-file", info[m]["config_file"]],
                             info[m]["log"], extra_env={"HOME": d}, cwd=d)
    bh = {"Authorization": info["basic"]["authorization"]}

    def basic_up():
        if not env.port_ours(ports["basic"]):
            return False
        st, _, b = http("GET", info["basic"]["url"] + "/", headers=bh, timeout=5)
        if st != 200 or json.loads(b).get("build") != "4.7.1":
            return False
        pols, _ = http_json("GET", info["basic"]["url"] + "/v1/archive_policy", headers=bh, timeout=10)
        return "low" in [p["name"] for p in pols]
    env.wait_for("Gnocchi (basic) GET / on %s" % info["basic"]["url"], basic_up, 90, [procs["basic"]], 0.5,
                 [info["basic"]["log"]], [ports["basic"]])
    say("gnocchi: basic-mode API ready (%s)" % info["basic"]["url"])
    if ks:
        token, _ = keystone_token(ks["auth_url"], SERVICE_USERS["ceilometer"])
        kurl = info["keystone"]["url"]

        def ks_up():
            if not env.port_ours(ports["keystone"]):
                return False
            st, _, b = http("GET", kurl + "/", timeout=5)
            if st != 200:
                return False
            st_anon, _, _ = http("GET", kurl + "/v1/archive_policy", timeout=10)
            if st_anon != 401:
                raise Failure("keystone-mode Gnocchi answered %d without a token (expected 401)" % st_anon)
            pols, _ = http_json("GET", kurl + "/v1/archive_policy", headers={"X-Auth-Token": token}, timeout=15)
            return "low" in [p["name"] for p in pols]
        env.wait_for("Gnocchi (keystone) GET /v1/archive_policy with a Keystone token on %s" % kurl, ks_up, 90,
                     [procs["keystone"]], 0.5, [info["keystone"]["log"]], [ports["keystone"]])
        say("gnocchi: keystone-mode API ready (%s)" % kurl)
    env.set("gnocchi", info)


PUBLISHER = '''\
# Sends samples through oslo.messaging exactly the way ceilometer-polling does
# (ceilometer/polling/manager.py PollingTask._send_notification), signed with [publisher] telemetry_secret.
# usage: <ceilometer venv>/bin/python publish_like_polling.py CONF SAMPLES.json
#   SAMPLES.json: a list of ceilometer.sample.Sample keyword dicts (name, type, unit, volume, user_id,
#   project_id, resource_id, timestamp, resource_metadata, source, id). Prints the meter messages sent (JSON).
import json, sys
from ceilometer import messaging, sample, service
from ceilometer.publisher import utils as publisher_utils
import oslo_messaging
conf = service.prepare_service(["publish_like_polling", "--config-file", sys.argv[1]], [])
notifier = oslo_messaging.Notifier(messaging.get_transport(conf),
                                   driver=conf.publisher_notifier.telemetry_driver,
                                   publisher_id="ceilometer.polling")
with open(sys.argv[2]) as f:
    specs = json.load(f)
msgs = [publisher_utils.meter_message_from_counter(sample.Sample(**s), conf.publisher.telemetry_secret)
        for s in specs]
notifier.sample({}, "telemetry.polling", {"samples": msgs})
print(json.dumps(msgs))
sys.stdout.flush()
try:
    messaging.cleanup()
except Exception:   # RuntimeError "dictionary changed size during iteration" in one-shot scripts (harmless)
    pass
'''


def start_notification(env):
    d = os.path.join(env.dir, "notification")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "lock"))
    venv = env.data["venvs"]["ceilometer"]
    rmq = env.data["rabbitmq"]
    ks = env.data.get("keystone") if "keystone" in env.data["components"] else None
    gn = env.data.get("gnocchi") if "gnocchi" in env.data["components"] else None
    with_gnocchi = bool(ks and gn and "keystone" in gn)
    samples = os.path.join(d, "samples.jsonl")
    publishers = ["file://%s?json" % samples] + ([GNOCCHI_PUBLISHER] if with_gnocchi else [])
    pipeline = os.path.join(d, "pipeline.yaml")
    write_file(pipeline, "---\nsources:\n    - name: meter_source\n      meters:\n          - \"*\"\n"
                         "      sinks:\n          - meter_sink\nsinks:\n    - name: meter_sink\n"
                         "      publishers:\n" + "".join("          - %s\n" % p for p in publishers))
    # Ceilometer 27's own gnocchi_resources.yaml, copied where the publisher looks first (the config file's dir)
    res_src = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages", "ceilometer",
                           "publisher", "data", "gnocchi_resources.yaml")
    if not os.path.exists(res_src):
        found = glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "ceilometer", "publisher", "data",
                                       "gnocchi_resources.yaml"))
        res_src = found[0] if found else None
    res = os.path.join(d, "gnocchi_resources.yaml")
    if res_src:
        shutil.copyfile(res_src, res)
    base = ["[DEFAULT]", "transport_url = %s" % rmq["transport_url"], "host = nephometer-osenv-%s" % env.run_id,
            "debug = false", ""]
    conf_lines = base[:1] + ["pipeline_cfg_file = %s" % pipeline] + base[1:] + [
        "[notification]", "workers = 1", "pipelines = meter", "",
        "[publisher]", "telemetry_secret = %s" % TELEMETRY_SECRET, "",
        "[oslo_concurrency]", "lock_path = %s" % os.path.join(d, "lock"), ""]
    if ks:
        c = SERVICE_USERS["ceilometer"]
        conf_lines += ["[service_credentials]", "auth_type = password", "auth_url = %s" % ks["auth_url"],
                       "username = %s" % c["username"], "password = %s" % c["password"],
                       "project_name = %s" % c["project_name"], "user_domain_name = %s" % c["user_domain_name"],
                       "project_domain_name = %s" % c["project_domain_name"], "region_name = %s" % REGION,
                       "interface = public", ""]
    conf = os.path.join(d, "ceilometer.conf")
    write_file(conf, "\n".join(conf_lines) + "\n")
    pub_conf = os.path.join(d, "publish.conf")
    write_file(pub_conf, "\n".join(base + ["[publisher]", "telemetry_secret = %s" % TELEMETRY_SECRET, ""]) + "\n")
    pub_script = os.path.join(d, "publish_like_polling.py")
    write_file(pub_script, PUBLISHER)
    log = os.path.join(d, "agent.log")
    setup_log = os.path.join(d, "setup.log")
    info = {
        "config_file": conf, "pipeline_file": pipeline, "publishers": publishers, "samples_file": samples,
        "gnocchi_resources_file": res if res_src else None, "telemetry_secret": TELEMETRY_SECRET,
        "transport_url": rmq["transport_url"], "exchange": "ceilometer", "queue": "notifications.sample",
        "gnocchi_publisher": with_gnocchi, "python": os.path.join(venv, "bin", "python"),
        "publish_script": pub_script, "publish_config": pub_conf,
        "log": log, "logs": [log, setup_log],
    }
    env.set("notification", info)
    if with_gnocchi:
        env.run([os.path.join(venv, "bin", "ceilometer-upgrade"), "--config-file", conf, "--retry", "5"], 180,
                "ceilometer-upgrade", log=setup_log, cwd=d, extra_env={"HOME": d})
        token, _ = keystone_token(ks["auth_url"], SERVICE_USERS["ceilometer"])
        http_json("GET", gn["keystone"]["url"] + "/v1/resource_type/instance", headers={"X-Auth-Token": token})
    p = env.spawn("notification", "ceilometer-agent-notification",
                  [os.path.join(venv, "bin", "ceilometer-agent-notification"), "--config-file", conf], log,
                  extra_env={"HOME": d}, cwd=d)

    def consuming():
        out = rabbitmqctl(env, "-q", "list_queues", "--no-table-headers", "name", "consumers", timeout=30)
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "notifications.sample" and f[1].isdigit() and int(f[1]) >= 1:
                return True
        return False
    env.wait_for("ceilometer-agent-notification consuming queue notifications.sample", consuming, 120, [p], 1.0,
                 [log])
    say("notification: agent consuming notifications.sample (publishers: %s)" % ", ".join(publishers))


STARTERS = {"rabbitmq": start_rabbitmq, "postgresql": start_postgresql, "keystone": start_keystone,
            "gnocchi": start_gnocchi, "notification": start_notification}


# ---------------------------------------------------------------------------------------------------------
# start / status / selftest

class DirLock:
    def __init__(self, d, timeout=600):
        self.path = os.path.join(d, ".lock")
        self.timeout = timeout
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.time() > deadline:
                    raise Failure("another openstack-env.py holds %s" % self.path)
                time.sleep(0.5)

    def __exit__(self, *a):
        os.close(self.fd)


def resolve_components(spec):
    want = ALL_COMPONENTS if not spec else [c.strip() for c in spec.split(",") if c.strip()]
    bad = [c for c in want if c not in ALL_COMPONENTS]
    if bad:
        raise SystemExit("unknown component(s): %s (known: %s)" % (", ".join(bad), ", ".join(ALL_COMPONENTS)))
    out = set(want)
    for c in list(out):
        out.update(REQUIRES.get(c, []))
    return [c for c in ALL_COMPONENTS if c in out]


def our_listeners(env):
    """Every listening TCP / bound UDP socket held by our processes: [{proto, ip, port, pid, cmd}]."""
    inodes = socket_inodes(env.our_pids())
    out = []
    for proto, ip, port, inode in listening_sockets():
        if inode in inodes:
            pid = inodes[inode]
            out.append({"proto": proto, "ip": ip, "port": port, "pid": pid, "cmd": cmdline(pid)[:80]})
    return sorted(out, key=lambda x: (x["port"], x["proto"]))


def loopback_violations(listeners):
    # 127.0.0.1 everywhere; epmd always adds ::1 next to the address it is given (epmd_srv.c), loopback too
    return ["%(proto)s %(ip)s:%(port)d (pid %(pid)d %(cmd)s)" % x for x in listeners
            if x["ip"] != "127.0.0.1" and not (x["ip"] == "::1" and "epmd" in x["cmd"])]


def collect_processes(env):
    """Per component: every live process we started, children included."""
    recs = env.data["processes"]
    ours = env.our_pids()
    stats = all_stats()
    comp_of_leader = {r["pid"]: r["component"] for r in recs if alive(r["pid"], r.get("start_time"))}
    comp_of_pgid = {r["pgid"]: r["component"] for r in recs}

    def component(pid):
        seen = set()
        p = pid
        while p > 1 and p not in seen:
            seen.add(p)
            if p in comp_of_leader:
                return comp_of_leader[p]
            st = stats.get(p)
            if not st:
                break
            if st[2] in comp_of_pgid:
                return comp_of_pgid[st[2]]
            p = st[1]
        return None
    per = {c: [] for c in env.data["components"]}
    other = []
    for pid in ours:
        st = stats.get(pid)
        if not st:
            continue
        entry = {"pid": pid, "pgid": st[2], "ppid": st[1], "start_time": st[3], "cmd": cmdline(pid)[:200]}
        c = component(pid)
        (per[c] if c in per else other).append(entry)
    for c in per:
        if c in env.data and isinstance(env.data[c], dict):
            env.data[c]["pids"] = [e["pid"] for e in per[c]]
            env.data[c]["pgids"] = sorted({r["pgid"] for r in recs if r["component"] == c})
            env.data[c]["process_tree"] = per[c]
    env.data["other_processes"] = other
    env.data["all_pids"] = ours
    env.data["pgids"] = sorted({r["pgid"] for r in recs})


def healthy(env_data):
    """Quick check that a recorded environment is still up (for an idempotent start)."""
    if env_data.get("status") != "ready":
        return False
    for r in env_data.get("processes", []):
        if not alive(r["pid"], r.get("start_time")):
            return False
    try:
        if "rabbitmq" in env_data["components"]:
            amqp_login(env_data["rabbitmq"]["port"])
        if "keystone" in env_data["components"]:
            keystone_token(env_data["keystone"]["auth_url"], ADMIN)
        if "gnocchi" in env_data["components"]:
            g = env_data["gnocchi"]
            if http("GET", g["basic"]["url"] + "/", headers={"Authorization": g["basic"]["authorization"]})[0] != 200:
                return False
    except Exception:  # noqa: BLE001
        return False
    return True


def print_tails(env, failed_components):
    shown = set()
    for c in failed_components + [c for c in env.data["components"] if c not in failed_components]:
        info = env.data.get(c)
        if not isinstance(info, dict):
            continue
        for lg in info.get("logs", []):
            if lg in shown or not os.path.exists(lg):
                continue
            shown.add(lg)
            n = 60 if c in failed_components else 15
            sys.stderr.write("----- %s (last %d lines) -----\n%s\n" % (lg, n, tail(lg, n)))


def do_start(d, components, timeout):
    """Start; returns the Env on success, raises Failure (after stopping what it started) otherwise."""
    os.makedirs(d, exist_ok=True)
    old = None
    path = os.path.join(d, "env.json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
    if old and set(components) <= set(old.get("components", [])) and healthy(old):
        say("already running (run %s); nothing to do" % old["run_id"])
        env = Env(d, old["components"], old["run_id"])
        env.data = old
        return env, True
    if old or marked_pids(d):
        say("stopping the previous environment in %s" % d)
        stop_dir(d)
    for c in ALL_COMPONENTS:
        p = os.path.join(d, c)
        if os.path.exists(p):
            shutil.rmtree(p)
    env = Env(d, components)
    env.save()
    # venvs first (not counted in the start timeout)
    t = time.time()
    names = sorted({COMPONENT_VENV[c] for c in components if c in COMPONENT_VENV})
    errors = []

    def build(n):
        try:
            env.data["venvs"][n], env.data["timings"]["venv_" + n] = ensure_venv(n)
        except Exception as e:  # noqa: BLE001
            errors.append("venv %s: %s" % (n, e))
    threads = [threading.Thread(target=build, args=(n,), daemon=True) for n in names]
    for th in threads:
        th.start()
    try:
        for th in threads:
            while th.is_alive():
                th.join(0.5)
    except KeyboardInterrupt:
        errors.append("interrupted while building the venvs (a venv without its marker is rebuilt next time)")
    if errors:
        env.data["status"] = "failed"
        env.save()
        raise Failure("; ".join(errors))
    env.data["timings"]["venvs"] = round(time.time() - t, 1)
    env.save()
    env.deadline = time.time() + timeout
    t_daemons = time.time()
    failed = []
    try:
        for phase in PHASES:
            todo = [c for c in phase if c in components]
            if not todo:
                continue
            results = {}

            def runner(c):
                t1 = time.time()
                try:
                    for attempt in range(3):
                        try:
                            STARTERS[c](env)
                            break
                        except PortClash as e:
                            if attempt == 2:
                                raise
                            say("%s: %s; retrying with new ports" % (c, e))
                            env.kill_component(c)
                    env.data["timings"][c] = round(time.time() - t1, 1)
                    results[c] = None
                except BaseException as e:  # noqa: BLE001
                    results[c] = e
                    env.abort.set()
            threads = [threading.Thread(target=runner, args=(c,), daemon=True, name=c) for c in todo]
            for th in threads:
                th.start()
            for th in threads:
                while th.is_alive():
                    th.join(0.2)
            errs = {c: e for c, e in results.items() if e is not None}
            if errs:
                real = {c: e for c, e in errs.items() if not isinstance(e, Aborted)} or errs
                failed = list(real)
                msg = "; ".join("%s: %s" % (c, e) for c, e in real.items())
                for c, e in real.items():
                    if not isinstance(e, Failure):
                        traceback.print_exception(type(e), e, e.__traceback__)
                raise Failure(msg)
        collect_processes(env)
        env.data["listeners"] = our_listeners(env)
        bad = loopback_violations(env.data["listeners"])
        if bad:
            raise Failure("sockets not bound to 127.0.0.1: " + "; ".join(bad))
        env.data["timings"]["daemons"] = round(time.time() - t_daemons, 1)
        env.data["timings"]["total"] = round(time.time() - T0, 1)
        env.data["status"] = "ready"
        env.data["ready_at"] = now_iso()
        env.save()
        return env, False
    except BaseException as e:
        env.abort.set()
        if isinstance(e, KeyboardInterrupt):
            failed = failed or []
            e = Failure("interrupted")
        sys.stderr.write("openstack-env: start FAILED: %s\n" % e)
        print_tails(env, failed)
        env.data["status"] = "failed"
        env.data["error"] = str(e)
        env.save()
        say("stopping what was started")
        stop_dir(d)
        with open(path) as f:
            data = json.load(f)
        data["status"] = "failed"
        data["error"] = str(e)
        with open(path, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        raise Failure(str(e))


def _sig_to_interrupt(signum, frame):
    raise KeyboardInterrupt()


def cmd_start(args):
    d = os.path.abspath(args.dir)
    comps = resolve_components(args.components)
    os.makedirs(d, exist_ok=True)
    with DirLock(d):
        try:
            env, reused = do_start(d, comps, args.timeout)
        except Failure:
            return 1
    if reused:
        say("ready (reused the running environment): %s" % env.path)
    else:
        say("ready: %s (components: %s; venvs %.1fs, daemons %.1fs, total %.1fs)" % (
            env.path, ", ".join(env.data["components"]), env.data["timings"].get("venvs", 0),
            env.data["timings"].get("daemons", 0), env.data["timings"].get("total", 0)))
    print(env.path)
    return 0


def cmd_stop(args):
    d = os.path.abspath(args.dir)
    if not os.path.isdir(d):
        say("%s does not exist: nothing to stop" % d)
        return 0
    with DirLock(d):
        left = stop_dir(d)
    if left:
        say("still running: %s" % ", ".join("%d %s" % (p, cmdline(p)[:60]) for p in left))
        return 1
    say("stopped: nothing of %s is running" % d)
    return 0


def cmd_status(args):
    d = os.path.abspath(args.dir)
    path = os.path.join(d, "env.json")
    if not os.path.exists(path):
        print("not started")
        return 3
    with open(path) as f:
        data = json.load(f)
    ok = healthy(data)
    print("%s (%s)" % (data.get("status"), "healthy" if ok else "not healthy"))
    for r in data.get("processes", []):
        print("  %-13s %-31s pid %-7d %s" % (r["component"], r["name"], r["pid"],
                                            "alive" if alive(r["pid"], r.get("start_time")) else "gone"))
    return 0 if ok else 1


def cmd_selftest(args):
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    timings = {}
    ok = False
    with DirLock(d):
        t = time.time()
        try:
            env, _ = do_start(d, list(ALL_COMPONENTS), args.timeout)
        except Failure as e:
            print("SELFTEST FAILED: start: %s" % e)
            return 1
        timings["start (venvs)"] = env.data["timings"].get("venvs", 0)
        timings["start (daemons)"] = env.data["timings"].get("daemons", 0)
        for c in ALL_COMPONENTS:
            if c in env.data["timings"]:
                timings["  " + c] = env.data["timings"][c]
        try:
            ok = selftest_flow(env, timings)
        except Failure as e:
            print("SELFTEST FAILED: %s" % e)
            for lg in e.logs:
                sys.stderr.write("----- %s -----\n%s\n" % (lg, tail(lg, 40)))
            print_tails(env, ["notification", "gnocchi"])
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            print("SELFTEST FAILED: unexpected error")
        if args.keep:
            say("--keep: leaving the environment running (stop it with: %s stop --dir %s)" % (TOOL, d))
        else:
            t1 = time.time()
            left = stop_dir(d)
            timings["stop"] = round(time.time() - t1, 1)
            if left:
                print("SELFTEST FAILED: still running after stop: %s" % left)
                ok = False
            else:
                print("stop: no process of %s left running" % d)
        timings["total"] = round(time.time() - t, 1)
    print("timings (s):")
    for k, v in timings.items():
        print("  %-28s %7.1f" % (k, v))
    print("SELFTEST PASSED" if ok else "SELFTEST FAILED")
    return 0 if ok else 1


def selftest_flow(env, timings):
    data = env.data
    n, ks, gn, rmq = data["notification"], data["keystone"], data["gnocchi"], data["rabbitmq"]
    rid, project, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    volume = 123456789000
    ts = datetime.datetime.utcnow().isoformat()
    md = {"display_name": "osenv-selftest-vm", "name": "instance-00000001", "instance_id": rid,
          "instance_host": "osenv-host", "host": "osenv-host", "instance_type": "m1.small",
          "flavor": {"id": "2", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20},
          "image_ref": "696d6167-652d-6964-2020-202020202020", "status": "active", "state": "running",
          "uni": "\u00e9\u20ac"}
    spec = [{"name": "cpu", "type": "cumulative", "unit": "ns", "volume": volume, "user_id": user,
             "project_id": project, "resource_id": rid, "timestamp": ts, "resource_metadata": md,
             "source": "openstack", "id": str(uuid.uuid1())}]
    spec_file = os.path.join(env.dir, "notification", "selftest-samples.json")
    write_file(spec_file, json.dumps(spec))
    t = time.time()
    _, out = env.run([n["python"], n["publish_script"], n["publish_config"], spec_file], 90,
                     "publish_like_polling.py", log=os.path.join(env.dir, "notification", "publish.log"))
    timings["publish (oslo.messaging)"] = round(time.time() - t, 1)
    sent = json.loads(out.strip().splitlines()[-1])
    if not sent[0].get("message_signature"):
        raise Failure("the published sample has no message_signature")
    print("published cpu sample for instance %s (signature %s...)" % (rid, sent[0]["message_signature"][:16]))

    def in_file():
        if not os.path.exists(n["samples_file"]):
            return None
        with open(n["samples_file"]) as f:
            for line in f:
                try:
                    s = json.loads(line)
                except ValueError:
                    continue
                if s.get("resource_id") == rid:
                    return s
        return None
    got = env.wait_for("the sample in %s" % n["samples_file"], in_file, 60, interval=0.2, logs=[n["log"]])
    timings["-> file publisher"] = round(time.time() - t, 1)
    # the file publisher writes Sample.as_dict(): name/type/unit/volume, not the counter_* wire names
    for k, v in (("name", "cpu"), ("volume", volume), ("project_id", project), ("user_id", user),
                 ("type", "cumulative"), ("unit", "ns"), ("id", spec[0]["id"])):
        if got.get(k) != v:
            raise Failure("file publisher: %s = %r, expected %r" % (k, got.get(k), v))
    if got.get("resource_metadata", {}).get("uni") != "\u00e9\u20ac":
        raise Failure("file publisher: non-ASCII metadata mangled: %r" % got.get("resource_metadata"))
    print("file publisher: %s" % json.dumps({k: got.get(k) for k in ("name", "volume", "resource_id", "timestamp")}))
    token, _ = keystone_token(ks["auth_url"], ADMIN)
    H = {"X-Auth-Token": token}
    kurl = gn["keystone"]["url"]

    def resource():
        st, _, b = http("GET", kurl + "/v1/resource/instance/" + rid, headers=H, timeout=10)
        return json.loads(b) if st == 200 else None
    res = env.wait_for("instance %s in Gnocchi (keystone mode)" % rid, resource, 60, interval=0.5,
                       logs=[n["log"], gn["keystone"]["log"]])
    timings["-> Gnocchi resource"] = round(time.time() - t, 1)
    if res.get("display_name") != md["display_name"] or res.get("project_id") != project or \
            res.get("host") != "osenv-host" or res.get("flavor_id") != "2":
        raise Failure("Gnocchi resource attributes: %r" % res)
    if "cpu" not in res.get("metrics", {}):
        raise Failure("Gnocchi resource has no cpu metric: %r" % res.get("metrics"))

    def measures():
        st, _, b = http("GET", kurl + "/v1/resource/instance/%s/metric/cpu/measures?refresh=true" % rid, headers=H,
                        timeout=30)
        if st != 200:
            return None
        m = json.loads(b)
        return m if m else None
    m = env.wait_for("cpu measures of %s (refresh=true)" % rid, measures, 60, interval=1.0,
                     logs=[n["log"], gn["keystone"]["log"]])
    timings["-> Gnocchi measures"] = round(time.time() - t, 1)
    if not any(abs(x[2] - volume) < 1e-6 for x in m):
        raise Failure("cpu measures %r do not hold %d" % (m, volume))
    print("gnocchi (keystone auth): resource %s display_name=%s, cpu measures %s" % (
        rid, res["display_name"], json.dumps(m)))
    st, _, b = http("GET", gn["basic"]["url"] + "/v1/resource/instance/" + rid,
                    headers={"Authorization": gn["basic"]["authorization"]})
    if st != 200:
        raise Failure("basic-mode Gnocchi does not see the resource: %d %s" % (st, b[:200]))
    print("gnocchi (basic auth): same resource visible (shared indexer)")
    q = rabbitmqctl(env, "-q", "list_queues", "--no-table-headers", "name", "messages", "consumers")
    print("rabbitmq queues: %s" % " | ".join(" ".join(l.split()) for l in q.splitlines() if l.strip()))
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start the daemons, write DIR/env.json")
    s.add_argument("--dir", required=True)
    s.add_argument("--components", default="", help="comma-separated subset of " + ",".join(ALL_COMPONENTS))
    s.add_argument("--timeout", type=float, default=180, help="seconds for the daemons to get ready (venv "
                                                              "installs not included); default 180")
    s = sub.add_parser("stop", help="stop everything recorded in DIR/env.json")
    s.add_argument("--dir", required=True)
    s = sub.add_parser("status", help="exit 0 if the environment in DIR is up")
    s.add_argument("--dir", required=True)
    s = sub.add_parser("selftest", help="start, send a sample like ceilometer-polling, check file + Gnocchi, stop")
    s.add_argument("--dir", required=True)
    s.add_argument("--timeout", type=float, default=180)
    s.add_argument("--keep", action="store_true", help="leave the environment running")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _sig_to_interrupt)
    try:
        return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status, "selftest": cmd_selftest}[args.cmd](args)
    except Failure as e:
        sys.stderr.write("openstack-env: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
