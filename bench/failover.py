"""Failover time of rcluster: see bench/failover.sh (which runs this)."""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis

BIN = os.environ.get("BIN", "target/release/rcluster")
TRIALS = int(os.environ.get("TRIALS", "10"))
SHARDS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Cluster:
    def __init__(self, root):
        self.root = root
        cports = [free_port() for _ in range(3)]
        peers = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(cports))
        self.urls = [f"http://127.0.0.1:{p}" for p in cports]
        self.procs = []
        for i, port in enumerate(cports):
            self.procs.append(subprocess.Popen(
                [BIN, "config-service", "--id", str(i + 1), "--listen", f"127.0.0.1:{port}",
                 "--peers", peers, "--dir", f"{root}/c{i}", "--init-shards", str(SHARDS)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": "warn"}))
        self.partitions = {}
        for _ in range(SHARDS * 2):
            self.start_partition(free_port())

    def start_partition(self, port):
        d = f"{self.root}/p{port}"
        os.makedirs(d, exist_ok=True)
        self.partitions[port] = subprocess.Popen(
            [BIN, "partition", "--port", str(port), "--dir", d, "--save", "", "--loglevel", "warning",
             "--config-endpoints", ",".join(self.urls), "--announce-addr", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, port):
        p = self.partitions.pop(port)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def routing(self):
        for url in self.urls:
            try:
                return get(f"{url}/v1/routing")
            except OSError:
                continue
        raise RuntimeError("no config server answers")

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for url in self.urls:
                try:
                    view = get(f"{url}/v1/cluster")
                except (OSError, ValueError):
                    continue
                if view["state"] == "healthy":
                    return
            time.sleep(0.05)
        raise RuntimeError("the cluster did not become healthy")

    def stop(self):
        for p in list(self.partitions.values()) + self.procs:
            p.kill()
            p.wait()


def key_of(slots, prefix="bench"):
    """A key hashing into one of `slots` (ranges)."""
    i = 0
    while True:
        key = f"{prefix}{i}"
        slot = crc16(key.encode()) % 16384
        if any(r["start"] <= slot <= r["end"] for r in slots):
            return key
        i += 1


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def trial(cluster, n):
    table = cluster.routing()
    shard = table["shards"][n % SHARDS]
    master, replica = shard["master"], shard["replicas"][0]
    key = key_of(shard["slots"])
    mhost, mport = master.rsplit(":", 1)
    c = redis.Redis(host=mhost, port=int(mport), socket_timeout=2)
    for i in range(100):
        c.set(key, i)  # the master acknowledges writes before the kill
    killed = time.monotonic()
    cluster.kill(int(mport))
    rhost, rport = replica.rsplit(":", 1)
    r = None
    while True:
        if time.monotonic() - killed > 30:
            raise RuntimeError("no write acknowledged within 30 s of the kill")
        try:
            if r is None:
                r = redis.Redis(host=rhost, port=int(rport), socket_timeout=1, socket_connect_timeout=1)
            r.set(key, "after")
            took = time.monotonic() - killed
            break
        except redis.exceptions.ConnectionError:
            r = None
        except redis.exceptions.ResponseError:
            pass  # READONLY while it is still a replica, TRYAGAIN before its first lease
        time.sleep(0.002)
    cluster.start_partition(int(mport))
    cluster.wait_healthy()
    return shard["id"], took


def main():
    root = tempfile.mkdtemp(prefix="rcluster-failover-")
    cluster = Cluster(root)
    try:
        cluster.wait_healthy()
        results = []
        print(f"{'trial':>5}  {'shard':>5}  {'kill -> first acknowledged write':>34}")
        for n in range(TRIALS):
            shard, took = trial(cluster, n)
            results.append(took)
            print(f"{n + 1:>5}  {shard:>5}  {took * 1000:>31.0f} ms", flush=True)
        med, worst = statistics.median(results), max(results)
        print(f"median {med * 1000:.0f} ms, max {worst * 1000:.0f} ms "
              f"(target: median <= 2000 ms, max <= 3000 ms): "
              f"{'met' if med <= 2 and worst <= 3 else 'MISSED'}")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
