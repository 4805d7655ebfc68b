"""What a case runs with: the broker driver, the host, and the reports the
guests publish to conf.report (JSON objects with a "tag")."""

import itertools
import json
import threading
import time

REPORT_TOPIC = "conf.report"


class CaseFailed(Exception):
    """The host did not do what the case checks."""


class HostDied(Exception):
    """The host process ended while a case ran."""


class Passed:
    def __init__(self, detail=""):
        self.detail = detail


class Recorded:
    """An implementation-defined case: what the host did, not a verdict."""

    def __init__(self, detail):
        self.detail = detail


class Context:
    _run = itertools.count(1)

    def __init__(self, driver, host, dead_letter=None):
        self.driver = driver
        self.host = host
        self.dead_letter = dead_letter
        self._ids = itertools.count(1)
        self._run_id = next(self._run)
        self._reports = {}
        self._cv = threading.Condition()
        self._sub = driver.subscribe(REPORT_TOPIC)
        self._dead = driver.subscribe(dead_letter) if dead_letter else None
        self._dead_seen = []
        self._stop = False
        threading.Thread(target=self._collect, daemon=True).start()

    def close(self):
        self._stop = True
        self._sub.close()
        if self._dead:
            self._dead.close()

    def _collect(self):
        while not self._stop:
            got = self._sub.get(0.2)
            if self._dead:
                while True:
                    d = self._dead.get(0)
                    if d is None:
                        break
                    with self._cv:
                        self._dead_seen.append(d[1])
                        self._cv.notify_all()
            if got is None:
                continue
            try:
                report = json.loads(got[1].decode("utf-8"))
                tag = report["tag"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                continue
            with self._cv:
                self._reports.setdefault(tag, []).append(report)
                self._cv.notify_all()

    def tag(self):
        """A fresh tag, usable as a topic token."""
        return f"r{self._run_id}t{next(self._ids)}"

    def check_host(self):
        if not self.host.alive():
            raise HostDied(f"host exited with status {self.host.exit_status()} "
                           f"(log: {self.host.log_tail()})")

    def wait_until(self, predicate, timeout, what):
        """Waits, checking the host is alive, until predicate() is truthy."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                value = predicate()
                if value:
                    return value
                self.check_host()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CaseFailed(f"{what} within {timeout:g} s")
                self._cv.wait(min(left, 0.2))

    def reports(self, tag, verb=None):
        with self._cv:
            return [r for r in self._reports.get(tag, []) if verb is None or r.get("verb") == verb]

    def wait_reports(self, tag, n=1, timeout=20, verb=None):
        return self.wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(self.reports(tag, verb)),
                               timeout, f"no {n} report(s) tagged {tag}" + (f" ({verb})" if verb else ""))

    def command(self, topic, text, timeout=20, tag=None, verb=None):
        """Publishes '<tag> <text>' to topic and returns the first report
        (with that verb, if given)."""
        tag = tag or self.tag()
        self.check_host()
        self.driver.publish(topic, f"{tag} {text}".encode())
        return self.wait_reports(tag, 1, timeout, verb)[0]

    def command_until(self, topic, text, timeout=30, every=0.5):
        """Publishes '<tag> <text>' repeatedly until a report comes back (for
        subscriptions that may not be live yet); returns (tag, report)."""
        tag = self.tag()
        deadline = time.monotonic() + timeout
        while True:
            self.check_host()
            self.driver.publish(topic, f"{tag} {text}".encode())
            try:
                return tag, self.wait_reports(tag, 1, min(every, max(0.05, deadline - time.monotonic())))[0]
            except CaseFailed:
                if time.monotonic() >= deadline:
                    raise CaseFailed(f"no answer to '{text}' on {topic} within {timeout:g} s") from None

    def dead_letters(self, mark):
        """Dead letters whose data holds `mark` (a host may wrap the original
        data, e.g. in an envelope carrying the reason)."""
        with self._cv:
            return [d for d in self._dead_seen if mark in d]

    def settle(self, seconds):
        """Lets time pass (a window in which something must not happen)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_host()
            time.sleep(0.1)

    def collect(self, sub, want, timeout, what):
        """Reads `sub` until want(list of (topic, data)) is truthy."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            value = want(got)
            if value:
                return value
            self.check_host()
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed(f"{what} within {timeout:g} s (got {len(got)} message(s))")
            m = sub.get(min(left, 0.2))
            if m is not None:
                got.append(m)


def expect(cond, detail):
    if not cond:
        raise CaseFailed(detail)


def pairs(report, key="metadata"):
    md = report.get(key)
    return [tuple(p) for p in md] if md else []
