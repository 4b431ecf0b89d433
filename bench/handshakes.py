#!/usr/bin/env python3
"""IKE handshake rate: one initiator brings up N tunnels to one responder; the responder is
ikegate, then strongSwan 5.9 (Debian 12), then strongSwan 6.1 (the sid chroot), in one run.

Run as root through bench/handshakes.sh (it builds the release binary first). For each case
(IKE version × authentication) and each N, it prints: tunnels per second, the responder's CPU
seconds per tunnel and resident memory per tunnel, and the initiator's CPU share (to show it is
not the bottleneck).

The initiator is ikegate itself, in its own network namespace, with one outer address
(10.11.0.1) and one tunnel per responder address (10.11.x.y), because ikegate tells IKE peers
apart by address pair. Tunnel i protects 10.100.x.y/32 ⇄ 10.200.x.y/32. How it is kept from being
the bottleneck: (1) its TUN devices are all created before the first IKE message (the daemon
opens every TUN, then starts the IKE tasks), and the clock starts at its first IKE message, not
at process start; (2) its CPU time over the run is printed: it is well under one core, while the
responder's shows whether the responder is saturated; (3) ESP is UDP-encapsulated for every responder
(`nat-traversal: force`, as strongSwan's `encap = yes`): kernel-libipsec carries nothing else in
5.9; (4) it keeps at most HALF_OPEN (default 8)
IKE SAs half-open at once (`initiation.max-half-open-per-source`), the same for every responder:
below ikegate's COOKIE threshold (8) and charon's raised `block_threshold`/`cookie_threshold`, so
no responder is made to send COOKIEs or drop initiations.

The time is the initiator's: from its first IKE message (its log's first "phase 1"/"IKE SA"
activity is not logged, so: the moment the last TUN is created, which is followed at once by the
IKE tasks starting) to the log line of the N-th "ESP SAs installed". Every tunnel must come up;
otherwise the row says how many did.

Environment: NS (space-separated N values, default "100 500 2000"), REPEAT_SMALL (rounds for
N up to SMALL_N, default 5 and 100: the row is the median run), CASES (default "v1-psk v2-psk
v2-ecdsa"; IKEv1 with ECDSA certificates is not implemented in ikegate), RESPONDERS (default
"ikegate charon59 charon61"), HALF_OPEN (default 8), TIMEOUT (seconds per run, default 120),
IKEGATE_BIN (default target/release/ikegate), CHARON_LOG (charon's default log level, default 0),
KEEP=1 (keep the work directory with every log), RESPONDER_WRAP (a command prefix for the ikegate
responder, e.g. "valgrind --tool=massif --massif-out-file=/tmp/r.massif" to see what a tunnel
holds; its CPU and RSS columns are then the wrapper's).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("IKEGATE_BIN", os.path.join(REPO, "target/release/ikegate"))
SID = "/var/cache/ikegate/strongswan-sid"
CHARON = "/usr/lib/ipsec/charon"
NS_I, NS_R = "ikh-i", "ikh-r"
INIT_ADDR = "10.11.0.1"
PSK = "handshake-bench-psk-0123456789"
HALF_OPEN = int(os.environ.get("HALF_OPEN", "8"))
TIMEOUT = float(os.environ.get("TIMEOUT", "120"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


def resp_addr(i):
    return "10.11.%d.%d" % (1 + i // 250, 1 + i % 250)


def inner(net, i):
    return "%s.%d.%d" % (net, i // 250, 1 + i % 250)


# --- namespaces --------------------------------------------------------------------------------

def teardown_netns():
    for n in (NS_I, NS_R):
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)


def setup_netns(n):
    teardown_netns()
    sh("ip", "netns", "add", NS_I)
    sh("ip", "netns", "add", NS_R)
    sh("ip", "link", "add", "ikh-vi", "netns", NS_I, "type", "veth", "peer", "name", "ikh-vr",
       "netns", NS_R)
    # The initiator reaches the responder addresses through one next hop (10.11.0.2), not on
    # the link: one neighbour entry, not one per address (the kernel's ARP table holds 1,024,
    # gc_thresh3; past that, 2,000 tunnels lost their messages).
    batch = ["addr add 10.11.0.2/24 dev ikh-vr"]
    batch += ["addr add %s/32 dev ikh-vr" % resp_addr(i) for i in range(n)]
    # The responder's inner addresses: strongSwan 5.9's kernel-libipsec routes need a local one.
    batch += ["addr add %s/32 dev lo" % inner("10.200", i) for i in range(n)]
    batch += ["link set lo up", "link set ikh-vr up"]
    subprocess.run(["ip", "-n", NS_R, "-batch", "-"], input="\n".join(batch) + "\n", text=True,
                   check=True)
    for c in ("addr add %s/24 dev ikh-vi" % INIT_ADDR, "link set lo up", "link set ikh-vi up",
              "route add 10.11.0.0/16 via 10.11.0.2"):
        sh("ip", "-n", NS_I, *c.split())


# --- processes ---------------------------------------------------------------------------------

def proc_cpu(pid):
    """CPU seconds of a process so far: the sum of its threads' run time in nanoseconds
    (/proc/PID/task/*/schedstat). /proc/PID/stat counts in clock ticks (10 ms here), which is
    ±0.1 ms per tunnel on a 100-tunnel run. Both ikegate's and charon's threads live through a
    run (tokio's workers, charon's thread pool), so no thread's time leaves the sum."""
    total, seen = 0, False
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0.0
    for tid in tids:
        try:
            total += int(open("/proc/%d/task/%s/schedstat" % (pid, tid)).read().split()[0])
            seen = True
        except (OSError, ValueError, IndexError):
            pass
    if seen:
        return total / 1e9
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def leaf_pid(pid, name):
    """The pid of `name` started (exec'd) under pid: ip netns exec / unshare / chroot exec in
    place, so it is usually pid itself; otherwise the first descendant with that comm."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if open("/proc/%d/comm" % pid).read().strip() == name:
                return pid
        except OSError:
            return None
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
        for p in out:
            q = int(p)
            while q > 1:
                try:
                    q = int(open("/proc/%d/stat" % q).read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    break
                if q == pid:
                    return int(p)
        time.sleep(0.05)
    return None


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, log, **kw):
        p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []


# --- configurations ----------------------------------------------------------------------------

def pki(work):
    """A P-256 CA and two end-entity certificates made by openssl."""
    d = os.path.join(work, "pki")
    if os.path.exists(os.path.join(d, "resp.pem")):
        return d
    os.makedirs(d, exist_ok=True)
    run = lambda *a: sh(*a, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", "ca.key")
    run("openssl", "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=bench CA", "-days",
        "30", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:true", "-addext",
        "keyUsage=critical,keyCertSign,cRLSign")
    for e in ("init", "resp"):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", e + ".key")
        run("openssl", "req", "-new", "-key", e + ".key", "-subj", "/CN=bench-" + e, "-out",
            e + ".csr")
        open(os.path.join(d, e + ".ext"), "w").write(
            "subjectAltName=DNS:bench-%s\nkeyUsage=critical,digitalSignature\n" % e)
        run("openssl", "x509", "-req", "-in", e + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "30", "-extfile", e + ".ext", "-out", e + ".pem")
        os.chmod(os.path.join(d, e + ".key"), 0o600)
    return d


def ikegate_auth_yaml(auth, me, peer_dn, d):
    if auth == "psk":
        return "    preshared-key: %s\n" % PSK, ""
    ike = ("      certificate:\n        file: %s/%s.pem\n        key-file: %s/%s.key\n"
           "        trusted-ca: [%s/ca.pem]\n      my-identifier: { asn1dn: \"CN=bench-%s\" }\n"
           "      peers-identifier: { asn1dn: \"CN=bench-%s\" }\n" % (d, me, d, me, d, me, peer_dn))
    return "", ike


def ikegate_yaml(n, version, auth, role, d, admin):
    proposal = ("      proposal:\n        phase1: { encryption: [aes128], hash: [sha256], "
                "dh-group: ecp256 }\n        phase2:\n          encryption: [aes128-gcm]\n"
                "          proxy-id:\n            ipv4: { local: %s/32, remote: %s/32 }\n")
    me, peer = ("init", "resp") if role == "i" else ("resp", "init")
    top, ike = ikegate_auth_yaml(auth, me, peer, d)
    out = []
    if admin:
        out.append("admin:\n  listen: %s\n  token-file: %s/admin.token\n" % admin)
    if role == "i":
        # Every responder's limits are raised above HALF_OPEN: freed slots are reused at once.
        out.append("initiation:\n  max-half-open-per-source: %d\n  slot-reuse-delay-ms: 0\n"
                   % HALF_OPEN)
    out.append("interfaces:\n")
    for i in range(n):
        src, dst = (INIT_ADDR, resp_addr(i)) if role == "i" else (resp_addr(i), INIT_ADDR)
        loc, rem = (inner("10.100", i), inner("10.200", i))
        if role == "r":
            loc, rem = rem, loc
        out.append("  ipsec%d:\n    ipv4: { source: %s, destination: %s }\n"
                   "    nat-traversal: force\n%s" % (i, src, dst, top))
        if role == "r":
            out.append("    responder-only: enable\n")
        out.append("    ike:\n      version: %d\n%s" % (version, ike))
        out.append(proposal % (loc, rem))
    return "".join(out)


def charon_confs(version, auth, dirpath, paths_dir, sid):
    """strongswan.conf and swanctl.conf of a responder charon; `paths_dir` is where charon and
    swanctl see `dirpath` (the same, or /run/ikegate inside the chroot)."""
    plugins = ("random nonce openssl aes sha1 sha2 md5 hmac gcm gmp kdf kernel-libipsec "
               "kernel-netlink socket-default vici x509 pem pkcs1 pkcs8 pubkey constraints")
    if sid:
        plugins += " curve25519"
    open(os.path.join(dirpath, "strongswan.conf"), "w").write(
        "charon {\n  load = %s\n  install_routes = yes\n  block_threshold = 100000\n"
        "  cookie_threshold = 100000\n  init_limit_half_open = 0\n"
        "  plugins { vici { socket = unix://%s/charon.vici } }\n"
        "  filelog { bench { path = %s/charon.log\n    default = %s\n    ike = 1 } }\n"
        "  syslog { daemon { default = -1 } }\n}\n"
        "swanctl { load = random openssl pem pkcs1 pkcs8 x509\n"
        "  socket = unix://%s/charon.vici }\n"
        % (plugins, paths_dir, paths_dir, os.environ.get("CHARON_LOG", "0"), paths_dir))
    if auth == "psk":
        local, remote, secrets = ("local { auth = psk }", "remote { auth = psk\n id = %any }",
                                  "ike-b { secret = %s }" % PSK)
    else:
        # swanctl loads x509/, x509ca/ and private/ beside the swanctl.conf given with --file.
        for sub, src in (("x509", "resp.pem"), ("x509ca", "ca.pem"), ("private", "resp.key")):
            os.makedirs(os.path.join(dirpath, sub), exist_ok=True)
            shutil.copy(os.path.join(dirpath, "pki", src), os.path.join(dirpath, sub, src))
        local = "local { auth = pubkey\n certs = resp.pem\n id = \"CN=bench-resp\" }"
        remote = "remote { auth = pubkey\n cacerts = ca.pem\n id = \"CN=bench-init\" }"
        secrets = ""
    open(os.path.join(dirpath, "swanctl.conf"), "w").write(
        "connections {\n rw {\n  version = %d\n  remote_addrs = %s\n  unique = never\n"
        "  proposals = aes128-sha256-ecp256\n  mobike = no\n  %s\n  %s\n"
        "  children { net { local_ts = 10.200.0.0/16\n   remote_ts = 10.100.0.0/16\n"
        "   esp_proposals = aes128gcm16\n   mode = tunnel } }\n }\n}\nsecrets { %s }\n"
        % (version, INIT_ADDR, local, remote, secrets))


def sid_mounts(d):
    return ("mount -t tmpfs tmpfs %s/run; mkdir %s/run/ikegate; mount --bind %s %s/run/ikegate; "
            "mount --bind %s/strongswan.conf %s/etc/strongswan.conf; "
            "mount --bind %s/swanctl.conf %s/etc/swanctl/swanctl.conf;"
            % (SID, SID, d, SID, d, SID, d, SID))


def start_charon(procs, d, sid):
    """Starts a responder charon in NS_R with its files in d; returns its pid once swanctl has
    loaded the configuration."""
    if sid:
        script = ("set -e; %s mount -t proc proc %s/proc; mount --bind /dev/net/tun "
                  "%s/dev/net/tun; exec chroot %s %s" % (sid_mounts(d), SID, SID, SID, CHARON))
        swanctl = ["unshare", "-m", "sh", "-c",
                   "set -e; %s exec chroot %s swanctl \"$@\"" % (sid_mounts(d), SID), "swanctl"]
        env = {k: v for k, v in os.environ.items() if k != "STRONGSWAN_CONF"}
    else:
        script = "mount -t tmpfs tmpfs /run && exec %s" % CHARON
        swanctl = ["swanctl"]
        env = dict(os.environ, STRONGSWAN_CONF=os.path.join(d, "strongswan.conf"))
    p = procs.start(["ip", "netns", "exec", NS_R, "unshare", "-m", "sh", "-c", script],
                    os.path.join(d, "stdout"), env=env)
    for _ in range(100):
        if subprocess.run(swanctl + ["--stats"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    load = ["--load-all", "--noprompt", "--file",
            "/run/ikegate/swanctl.conf" if sid else os.path.join(d, "swanctl.conf")]
    r = subprocess.run(swanctl + load, env=env, capture_output=True, text=True, cwd=d)
    if r.returncode != 0:
        raise RuntimeError("swanctl --load-all failed: %s %s" % (r.stdout, r.stderr))
    return leaf_pid(p.pid, "charon")


def charon_version(sid):
    cmd = ["chroot", SID, CHARON, "--version"] if sid else [CHARON, "--version"]
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


# --- one run -----------------------------------------------------------------------------------

def log_time(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", ANSI.sub("", line))
    if not m:
        return None
    s = m.group(1)[:26]
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def initiator_progress(log):
    """(time the last TUN was created, times of every 'ESP SAs installed'), from its log."""
    start, ups = None, []
    try:
        text = open(log, errors="replace").read()
    except OSError:
        return None, []
    for line in text.splitlines():
        if "offload=" in line and "⇄" in line:
            start = log_time(line) or start
        elif "ESP SAs installed" in line:
            t = log_time(line)
            if t:
                ups.append(t)
    return start, ups


def run_case(work, n, version, auth, responder):
    setup_netns(n)
    procs = Procs()
    d = tempfile.mkdtemp(prefix="%s-" % responder, dir=work)
    if auth != "psk":
        shutil.copytree(pki(work), os.path.join(d, "pki"))
    env = dict(os.environ, RUST_LOG="info")
    try:
        if responder == "ikegate":
            open(os.path.join(d, "r.yaml"), "w").write(
                ikegate_yaml(n, version, auth, "r", os.path.join(d, "pki"), None))
            wrap = os.environ.get("RESPONDER_WRAP", "").split()
            p = procs.start(["ip", "netns", "exec", NS_R] + wrap + [BIN, "run", "--config",
                             os.path.join(d, "r.yaml")], os.path.join(d, "r.log"), env=env)
            rpid = p.pid if wrap else leaf_pid(p.pid, "ikegate")
            for _ in range(600):  # every TUN created and IKE listening
                if open(os.path.join(d, "r.log"), errors="replace").read().count("offload=") >= n:
                    break
                time.sleep(0.1)
            time.sleep(1.0)
        else:
            sid = responder == "charon61"
            charon_confs(version, auth, d, "/run/ikegate" if sid else d, sid)
            rpid = start_charon(procs, d, sid)
            time.sleep(0.5)
        if not rpid:
            return "responder did not start (%s)" % d
        rss0, cpu0 = proc_rss_kb(rpid), proc_cpu(rpid)
        open(os.path.join(d, "i.yaml"), "w").write(
            ikegate_yaml(n, version, auth, "i", os.path.join(d, "pki"), None))
        ip = procs.start(["ip", "netns", "exec", NS_I, BIN, "run", "--config",
                          os.path.join(d, "i.yaml")], os.path.join(d, "i.log"), env=env)
        ipid = leaf_pid(ip.pid, "ikegate")
        deadline = time.time() + TIMEOUT
        ups = []
        while time.time() < deadline:
            time.sleep(0.25)
            start, ups = initiator_progress(os.path.join(d, "i.log"))
            if len(ups) >= n:
                break
        time.sleep(0.3)
        rss1, cpu1 = proc_rss_kb(rpid), proc_cpu(rpid)
        icpu = proc_cpu(ipid) if ipid else 0.0
        start, ups = initiator_progress(os.path.join(d, "i.log"))
        if len(ups) < n or start is None:
            return "%d of %d up after %.0f s (logs in %s)" % (len(ups), n, TIMEOUT, d)
        ups.sort()
        wall = ups[n - 1] - start
        return {
            "n": n, "rate": n / wall, "wall": wall, "rcpu": (cpu1 - cpu0), "rss0": rss0, "rss1": rss1,
            "icpu": icpu,
        }
    finally:
        procs.stop_all()
        teardown_netns()


def main():
    if os.geteuid() != 0:
        sys.exit("handshakes.py: run as root (namespaces, TUN devices)")
    if not os.access(BIN, os.X_OK):
        sys.exit("handshakes.py: no %s (bench/handshakes.sh builds it)" % BIN)
    ns = [int(x) for x in os.environ.get("NS", "100 500 2000").split()]
    cases = os.environ.get("CASES", "v1-psk v2-psk v2-ecdsa").split()
    responders = os.environ.get("RESPONDERS", "ikegate charon59 charon61").split()
    names = {"ikegate": "ikegate", "charon59": charon_version(False),
             "charon61": charon_version(True) + " (sid)"}
    print("IKE handshake bench: %d CPUs, %s, load %s; initiator: ikegate, %d half-open at most"
          % (os.cpu_count(), os.uname().release, open("/proc/loadavg").read().split()[0],
             HALF_OPEN), file=sys.stderr)
    work = tempfile.mkdtemp(prefix="ikegate-handshakes.")
    rows = []
    try:
        for case in cases:
            version, auth = int(case[1]), case.split("-", 1)[1]
            for n in ns:
                mine = [r for r in responders if not (r == "charon61" and version == 1)]
                runs = {r: [] for r in mine}  # sid's strongSwan is built without IKEv1
                # Rounds alternate the responders, so drift in the machine's load reaches all.
                for k in range(repeats(n)):
                    for r in mine:
                        runs[r].append(run_case(work, n, version, auth, r))
                        print("  done: %s N=%d %s (round %d): %s"
                              % (case, n, r, k + 1, brief(runs[r][-1])), file=sys.stderr)
                for r in mine:
                    rows.append((case, n, names[r], median_run(runs[r])))
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)


def repeats(n):
    """Rounds for N tunnels: a run of 100 lasts 0.05–0.2 s, so one late message moves it by a
    third; small N get REPEAT_SMALL rounds (default 5) and the row is the median run."""
    small = int(os.environ.get("REPEAT_SMALL", "5"))
    return max(1, small) if n <= int(os.environ.get("SMALL_N", "100")) else 1


def brief(r):
    if isinstance(r, str):
        return r
    return "%.0f tunnels/s, %.2f ms CPU per tunnel" % (r["rate"], 1000 * r["rcpu"] / r["n"])


def median_run(results):
    """The run with the median rate; a failed run counts as the slowest. Records how many
    rounds there were and the range of rates, so the table shows the spread."""
    ok = sorted((r for r in results if not isinstance(r, str)), key=lambda r: r["rate"])
    failed = [r for r in results if isinstance(r, str)]
    if len(failed) * 2 >= len(results) or not ok:
        return failed[0]
    ranked = [None] * len(failed) + ok
    mid = dict(ranked[len(ranked) // 2])
    mid["rounds"], mid["failed"] = len(results), len(failed)
    mid["rates"] = (ok[0]["rate"], ok[-1]["rate"])
    cpus = sorted(r["rcpu"] for r in ok)
    mid["rcpu"] = cpus[len(cpus) // 2]
    return mid


def rounds_text(r):
    if r.get("rounds", 1) <= 1:
        return "1"
    lo, hi = r["rates"]
    failed = ", %d failed" % r["failed"] if r["failed"] else ""
    return "%d: %.0f–%.0f%s" % (r["rounds"], lo, hi, failed)


def print_table(rows):
    hdr = ["case", "N", "responder", "tunnels/s", "s to all up", "resp CPU ms/tunnel",
           "resp RSS MB before→after", "resp kB/tunnel (Δ)", "init CPU % of wall",
           "rounds: tunnels/s range"]
    out = []
    for case, n, name, r in rows:
        if isinstance(r, str):
            out.append([case, str(n), name, r] + [""] * 6)
            continue
        out.append([case, str(n), name, "%.0f" % r["rate"], "%.2f" % r["wall"],
                    "%.2f" % (1000 * r["rcpu"] / n),
                    "%.1f→%.1f" % (r["rss0"] / 1024, r["rss1"] / 1024),
                    "%.1f" % ((r["rss1"] - r["rss0"]) / n),
                    "%.0f" % (100 * r["icpu"] / max(r["wall"], 1e-9)), rounds_text(r)])
    w = [max(len(x[i]) for x in out + [hdr]) for i in range(len(hdr))]
    line = lambda x: "| " + " | ".join(v.ljust(w[i]) for i, v in enumerate(x)) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (k + 2) for k in w) + "|")
    for x in out:
        print(line(x))
    print("\nratios (ikegate ÷ charon: tunnels/s; charon ÷ ikegate: CPU per tunnel):")
    by = {}
    for case, n, name, r in rows:
        if not isinstance(r, str):
            by.setdefault((case, n), {})[name] = r
    for (case, n), m in by.items():
        ours = m.get("ikegate")
        if not ours:
            continue
        for name, r in m.items():
            if name == "ikegate":
                continue
            print("  %s N=%d vs %s: %.2f× the rate, %.2f× less CPU per tunnel"
                  % (case, n, name, ours["rate"] / r["rate"],
                     (r["rcpu"] / max(ours["rcpu"], 1e-9))))
    print("\n(rounds: for small N each responder ran that many times, alternating; the row"
          " is the run with the median rate, and its CPU column the median CPU of the rounds)")
    print("\n(initiator CPU % of wall: the initiator's CPU time over the whole run divided by the"
          " time to all up; it includes its start-up)")


if __name__ == "__main__":
    main()
