"""Results: TAP, JUnit XML and a Markdown summary (case x shape x broker)."""

import os
from xml.sax.saxutils import escape, quoteattr

PASS, FAIL, RECORDED = "pass", "FAIL", "recorded"


class Result:
    def __init__(self, broker, case, status, detail, seconds):
        self.broker, self.case, self.status, self.detail, self.seconds = broker, case, status, detail, seconds


def _one_line(s):
    return " ".join(str(s).split())


def write_tap(results, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("TAP version 13\n1..%d\n" % len(results))
        for i, r in enumerate(results, 1):
            ok = "not ok" if r.status == FAIL else "ok"
            name = f"{r.broker} {r.case.shape} {r.case.id}"
            note = f" # recorded: {_one_line(r.detail)}" if r.status == RECORDED else ""
            f.write(f"{ok} {i} - {name}{note}\n")
            if r.status == FAIL:
                f.write(f"  ---\n  message: {quoteattr(_one_line(r.detail))}\n  wit: {quoteattr(r.case.wit)}\n  ...\n")


def write_junit(results, path):
    brokers = []
    for r in results:
        if r.broker not in brokers:
            brokers.append(r.broker)
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="wasi-messaging conformance">\n')
        for b in brokers:
            rs = [r for r in results if r.broker == b]
            fails = sum(r.status == FAIL for r in rs)
            f.write(f'  <testsuite name={quoteattr(b)} tests="{len(rs)}" failures="{fails}" '
                    f'time="{sum(r.seconds for r in rs):.3f}">\n')
            for r in rs:
                f.write(f'    <testcase classname={quoteattr(b + "." + r.case.shape)} name={quoteattr(r.case.id)} '
                        f'time="{r.seconds:.3f}">\n')
                if r.status == FAIL:
                    f.write(f'      <failure message={quoteattr(_one_line(r.detail))}>'
                            f'{escape(r.case.wit)}</failure>\n')
                out = f"{r.case.kind}; {r.case.wit}" + (f"\n{r.status}: {r.detail}" if r.detail else "")
                f.write(f"      <system-out>{escape(out)}</system-out>\n    </testcase>\n")
            f.write("  </testsuite>\n")
        f.write("</testsuites>\n")


def summary(results):
    """Markdown: verdicts per case and shape, one column per broker; then
    what each implementation-defined case recorded; then the failures."""
    brokers, rows = [], []
    for r in results:
        if r.broker not in brokers:
            brokers.append(r.broker)
        key = (r.case.id, r.case.shape)
        if key not in rows:
            rows.append(key)
    cell = {(r.case.id, r.case.shape, r.broker): r for r in results}
    kinds = {(r.case.id, r.case.shape): r.case.kind for r in results}
    out = ["| case | shape | " + " | ".join(brokers) + " |", "|---|---|" + "---|" * len(brokers)]
    for cid, shape in rows:
        mark = " (impl.-defined)" if kinds[(cid, shape)] != "required" else ""
        cells = [cell[(cid, shape, b)].status if (cid, shape, b) in cell else "-" for b in brokers]
        out.append(f"| {cid}{mark} | {shape} | " + " | ".join(cells) + " |")
    rec = [(cid, shape) for cid, shape in rows if kinds[(cid, shape)] != "required"]
    if rec:
        out += ["", "Implementation-defined cases, what the host did:", "",
                "| case | shape | " + " | ".join(brokers) + " |", "|---|---|" + "---|" * len(brokers)]
        for cid, shape in rec:
            cells = [_one_line(cell[(cid, shape, b)].detail).replace("|", "\\|") if (cid, shape, b) in cell
                     else "-" for b in brokers]
            out.append(f"| {cid} | {shape} | " + " | ".join(cells) + " |")
    fails = [r for r in results if r.status == FAIL]
    if fails:
        out += ["", "Failures:", ""]
        by_detail = {}
        for r in fails:
            by_detail.setdefault((r.broker, _one_line(r.detail)), []).append(r)
        for (broker, detail), rs in by_detail.items():
            if len(rs) > 3:  # one reason for many cases (the host did not start, say)
                out.append(f"- {broker}, {len(rs)} cases ({rs[0].case.id}, ...): {detail}")
            else:
                out += [f"- {broker} {r.case.shape} {r.case.id}: {detail}" for r in rs]
    req = [r for r in results if r.case.kind == "required"]
    out += ["", f"{len(req) - sum(r.status == FAIL for r in req)}/{len(req)} required cases passed; "
                f"{sum(r.status == RECORDED for r in results)} implementation-defined recorded."]
    return "\n".join(out) + "\n"


def write_all(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    write_tap(results, os.path.join(out_dir, "results.tap"))
    write_junit(results, os.path.join(out_dir, "results.xml"))
    text = summary(results)
    with open(os.path.join(out_dir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text
