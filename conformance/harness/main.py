"""conformance/run: runs the wasi:messaging conformance suite against one
host (a profile) on one or more brokers. docs/CONFORMANCE.md explains it."""

import argparse
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback

import cases  # noqa: F401  (registers the cases)
import cases_consumer  # noqa: F401
from cases import CASES, components, wait_ready
from context import CaseFailed, Context, HostDied, Passed, Recorded
from drivers import DriverError
from hostprofile import SHAPES, Host, Profile, ProfileError
from results import FAIL, PASS, RECORDED, Result, write_all
from servers import KINDS, Server, ServerError


def log(msg):
    print(msg, flush=True)


class Session:
    """One host on one broker: the server, the host, the driver, the context."""

    def __init__(self, profile, kind, shapes, workdir, kill_at=None):
        self.profile, self.kind, self.shapes, self.workdir = profile, kind, shapes, workdir
        self.server = Server(kind, workdir)
        self.host = self.driver = self.ctx = None
        self.kill_at = kill_at
        self.comps = []
        for shape in shapes:
            for name, subs in components(shape):
                self.comps.append({"name": name, "path": profile.component_path(name), "subscribe": subs,
                                   "shape": shape})

    def start_host(self):
        self.host = Host(self.profile, self.kind, self.server.url_values(), self.comps, self.workdir)
        self.host.start()
        deadline = time.monotonic() + self.host.ready_timeout()
        while True:  # the embedded broker's access may lag the process a little
            try:
                self.driver = self.server.driver(self.host.access)
                self.ctx = Context(self.driver, self.host, self.profile.dead_letter)
                break
            except (OSError, DriverError):
                if time.monotonic() > deadline or not self.host.alive():
                    raise
                time.sleep(0.2)
        for shape in self.shapes:
            wait_ready(self.ctx, shape, self.host.ready_timeout())

    def stop_host(self):
        if self.ctx:
            self.ctx.close()
        if self.driver:
            self.driver.close()
        if self.host:
            self.host.stop()
        self.ctx = self.driver = None

    def run_case(self, c):
        start = time.monotonic()
        if self.kill_at and re.search(self.kill_at, c.id):
            # The harness's self-test: the host dies half a second into this
            # case, which must fail it and only it.
            self.kill_at = None
            threading.Timer(0.5, self.host.kill).start()
        try:
            self.ctx.check_host()
            out = c.fn(self.ctx, c.shape)
            status = RECORDED if isinstance(out, Recorded) else PASS
            detail = out.detail if isinstance(out, (Passed, Recorded)) else ""
        except (CaseFailed, DriverError) as e:
            status, detail = FAIL, str(e)
        except HostDied as e:
            status, detail = FAIL, f"the host crashed while this case ran: {e}"
        except OSError as e:
            status, detail = FAIL, f"{type(e).__name__}: {e}"
        except Exception as e:  # a harness bug must not hide the remaining cases
            where = traceback.extract_tb(e.__traceback__)[-1]
            status, detail = FAIL, (f"harness error: {type(e).__name__}: {e} "
                                    f"({os.path.basename(where.filename)}:{where.lineno})")
        return Result(self.kind, c, status, detail, time.monotonic() - start)


# Shapes whose guests share topics run in host sessions of their own: the
# async variant's guests are the 2025 draft's, built for it.
SEPARATE_SESSION = ["0.2.0-draft-async"]


def run_broker(profile, kind, shapes, selected, keep, kill_at):
    groups = [[s for s in shapes if s not in SEPARATE_SESSION]] + [[s] for s in SEPARATE_SESSION if s in shapes]
    results, kept = [], None
    for group in (g for g in groups if g):
        rs, workdir = run_session(profile, kind, group, selected, keep, kill_at)
        results += rs
        if kept is None or any(r.status == FAIL for r in rs):
            kept = workdir
    return results, kept


def run_session(profile, kind, shapes, selected, keep, kill_at):
    workdir = tempfile.mkdtemp(prefix=f"conformance-{kind}-")
    results = []
    todo = [c for c in selected if c.shape in shapes]
    session = None
    try:
        session = Session(profile, kind, shapes, workdir, kill_at)
        session.server.start()
        try:
            session.start_host()
        except Exception as e:  # noqa: BLE001  every case fails with the reason, none is hidden
            results = [Result(kind, c, FAIL, f"the host did not start or answer: {type(e).__name__}: {e}", 0)
                       for c in todo]
            return results, workdir
        for c in todo:
            if not session.host.alive():
                log(f"  host exited ({session.host.exit_status()}); starting it again")
                session.stop_host()
                try:
                    session.start_host()
                except Exception as e:  # noqa: BLE001
                    results.append(Result(kind, c, FAIL, f"the host could not be started again: {e}", 0))
                    continue
            r = session.run_case(c)
            results.append(r)
            line = f"  {r.status:<8} {c.shape:<17} {c.id}"
            if r.detail:
                line += f"  ({' '.join(r.detail.split())[:140]})"
            log(line)
        return results, workdir
    except ServerError as e:
        results = [Result(kind, c, FAIL, str(e), 0) for c in todo]
        return results, workdir
    finally:
        if session:
            session.stop_host()
            session.server.stop()
        if not keep and not any(r.status == FAIL for r in results):
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(prog="conformance/run", description="wasi:messaging conformance suite")
    p.add_argument("--profile", default=os.path.join(here, "profiles", "ferry.toml"),
                   help="host profile (default: profiles/ferry.toml)")
    p.add_argument("--brokers", default="mem,nats", help=f"comma-separated, of {','.join(KINDS)} or 'all'")
    p.add_argument("--shapes", default="", help=f"comma-separated, of {','.join(SHAPES)} (default: the profile's)")
    p.add_argument("--cases", default="", help="only cases whose id matches this regular expression")
    p.add_argument("--out", default="conformance-results", help="where results.tap, results.xml, summary.md go")
    p.add_argument("--host-binary", help="overrides the profile's binary")
    p.add_argument("--components", help="overrides the profile's component folder")
    p.add_argument("--keep", action="store_true", help="keep every run directory (host logs)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--kill-host-at", help=argparse.SUPPRESS)  # self-test: kill the host as this case starts
    a = p.parse_args(argv)

    if a.list:
        for c in CASES:
            print(f"{c.shape:<17} {c.id:<38} {c.kind:<22} {c.wit}")
        return 0
    try:
        profile = Profile(a.profile, a.host_binary, a.components)
    except ProfileError as e:
        print(f"conformance: {e}", file=sys.stderr)
        return 2
    kinds = KINDS if a.brokers == "all" else [k.strip() for k in a.brokers.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            print(f"conformance: unknown broker '{k}' (known: {', '.join(KINDS)})", file=sys.stderr)
            return 2
    shapes = [s.strip() for s in a.shapes.split(",") if s.strip()] or profile.shapes
    for s in shapes:
        if s not in profile.shapes:
            print(f"conformance: shape '{s}' is not one the profile runs ({', '.join(profile.shapes)})",
                  file=sys.stderr)
            return 2
    selected = [c for c in CASES if not a.cases or re.search(a.cases, c.id)]
    results = []
    for kind in kinds:
        try:
            profile.broker(kind)
        except ProfileError as e:
            print(f"conformance: {e}", file=sys.stderr)
            return 2
        log(f"== {profile.name} on {kind}")
        rs, workdir = run_broker(profile, kind, shapes, selected, a.keep, a.kill_host_at)
        results += rs
        if any(r.status == FAIL for r in rs) or a.keep:
            log(f"  (host log and configuration kept in {workdir})")
    text = write_all(results, a.out)
    print()
    print(text, end="")
    print(f"(TAP, JUnit XML and this summary are in {os.path.abspath(a.out)})")
    failed = [r for r in results if r.status == FAIL and r.case.kind == "required"]
    return 1 if failed else 0
