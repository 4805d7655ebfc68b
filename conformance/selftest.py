#!/usr/bin/env python3
"""Checks the harness itself against a real host (docs/CONFORMANCE.md):
  1. a profile naming a host binary that does not exist fails with one line;
  2. a host that crashes mid-run fails the case it was running, is started
     again, and the remaining cases still run and report.
Usage: selftest.py --host-binary PATH --components DIR [--profile FILE]"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default=os.path.join(HERE, "profiles", "ferry.toml"))
    p.add_argument("--host-binary", required=True)
    p.add_argument("--components", required=True)
    a = p.parse_args()
    run = [sys.executable, os.path.join(HERE, "run"), "--profile", a.profile]
    problems = []

    missing = subprocess.run(run + ["--host-binary", os.path.join(HERE, "no-such-host")],
                             capture_output=True, text=True, timeout=60)
    err = missing.stderr.strip().splitlines()
    if missing.returncode != 2 or len(err) != 1 or "does not exist" not in err[0]:
        problems.append(f"missing host binary: exit {missing.returncode}, stderr {missing.stderr!r}")
    else:
        print(f"ok: a missing host binary fails with one line: {err[0]}")

    with tempfile.TemporaryDirectory() as out:
        crash = subprocess.run(run + ["--host-binary", a.host_binary, "--components", a.components,
                                      "--brokers", "mem", "--shapes", "0.2.0-draft",
                                      "--cases", r"^(message\.set-data|request\.timeout-fewer|producer\.send)",
                                      "--kill-host-at", r"^request\.timeout-fewer", "--out", out],
                               capture_output=True, text=True, timeout=600)
        tap = open(os.path.join(out, "results.tap")).read() if os.path.exists(os.path.join(out, "results.tap")) else ""
        lines = {l.split(" - ", 1)[1].split(" #")[0]: l.startswith("ok") for l in tap.splitlines() if " - " in l}
        want = {"mem 0.2.0-draft message.set-data-discards": True,
                "mem 0.2.0-draft request.timeout-fewer-replies": False,
                "mem 0.2.0-draft producer.send": True}
        if crash.returncode != 1 or lines != want or "crashed" not in tap + crash.stdout:
            problems.append(f"crash mid-run: exit {crash.returncode}, results {lines}\n{crash.stdout[-2000:]}")
        else:
            print("ok: the host killed during request.timeout-fewer-replies failed that case only; "
                  "the case after it ran on a restarted host and passed")
    for pr in problems:
        print("FAIL:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
