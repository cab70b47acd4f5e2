#!/usr/bin/env python3
"""Open the HTML report in headless Chromium the way a reader would and fail on what would look broken.

    tests/report/check_report_browser.py [--results results] [--figures plots/figures] [--report DIR]
                                         [--screenshots build/report-screenshots] [--require-checks]
    tests/report/check_report_browser.py --self-test

Builds the report of --results and --figures into a scratch directory (or takes an existing one, --report),
opens every page via file:// in Debian's chromium (selenium + chromedriver, headless), saves a full-page
screenshot of each, and exits 1 naming the page and the problem on:
  - an <img> that did not load (naturalWidth 0);
  - a console message of level SEVERE (a script error, a resource that failed to load);
  - a link, stylesheet, script or image that points outside the report, to the network, or to a missing file;
  - a figure check whose shown status (data-check-ok and the visible ok/FAIL) differs from "ok" in
    <figures>/<name>.checks.json, which the figure script wrote; checks shown for a missing JSON or the
    reverse; the out-of-date flag disagreeing with the SHA-256 of the results file;
  - an index row whose shown passed/total differs from that JSON; an experiment without page or index row;
  - a cell table that does not sort: a numeric header is clicked, the column must read ascending, and
    descending after a second click.
--require-checks also fails when an experiment has no checks JSON (in CI, after `make figures`).
--self-test builds a report, breaks it (a deleted PNG, a check's status flipped in the HTML, an injected
console.error, an index row's count changed) and fails unless the clean report passes and each break is found.
"""
import argparse
import contextlib
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from vibench_results import Checks, file_sha256  # noqa: E402
from vibench_results.report import build  # noqa: E402
from vibench_results.report.collect import results_groups  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH = 1280
MAX_SHOT_HEIGHT = 16000  # px: a full-page screenshot taller than this is cut (and says so)


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},900", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def expected_pages(results):
    """[(sub, name, results path)] for every results file the report must show."""
    out = []
    for sub, paths in results_groups(results):
        for p in paths:
            out.append((sub, os.path.splitext(os.path.basename(p))[0], p))
    return out


def page_file(sub, name):
    return os.path.join(sub, ("index_" if name == "index" else name) + ".html")


def expected_checks(figures, sub, name, results_path):
    """What the figure script recorded: (None, None) without a JSON, else (list of ok, state) where state is
    'current' if the JSON names this results file's SHA-256, 'out-of-date' otherwise ('unreadable' and no
    checks for a JSON that does not parse)."""
    path = os.path.join(figures, sub, name + ".checks.json") if sub else os.path.join(figures, name + ".checks.json")
    if not os.path.exists(path):
        return None, None
    try:
        with open(path) as f:
            record = json.load(f)
        oks = [bool(c["ok"]) for c in record["checks"]]
    except (ValueError, KeyError, TypeError):
        return [], "unreadable"  # the report must say it could not read them
    state = "current" if record.get("results_sha256") == file_sha256(results_path) else "out-of-date"
    return oks, state


def check_links(driver, report, page):
    problems = []
    refs = driver.execute_script("""
        var out = [];
        document.querySelectorAll('a[href], link[href], script[src], img[src]').forEach(function (el) {
          out.push([el.tagName.toLowerCase(), el.getAttribute(el.hasAttribute('href') ? 'href' : 'src')]);
        });
        return out;""")
    root = os.path.realpath(report)
    for tag, ref in refs:
        parts = urllib.parse.urlsplit(ref)
        if parts.scheme == "data":
            continue
        if parts.scheme not in ("", "file") or parts.netloc or ref.startswith("//"):
            problems.append(f"<{tag}> points to {ref!r}: the report must work offline")
            continue
        if not parts.path:
            continue  # a fragment of this page
        path = urllib.parse.unquote(parts.path)
        target = os.path.realpath(path if parts.scheme == "file" else os.path.join(os.path.dirname(page), path))
        if os.path.commonpath([root, target]) != root:
            problems.append(f"<{tag}> {ref!r} points outside the report directory")
        elif not os.path.exists(target):
            problems.append(f"<{tag}> {ref!r} points to a missing file")
    return problems


def check_experiment_checks(driver, oks, state):
    """The figure checks as the page shows them against the JSON."""
    shown = driver.execute_script("""
        var s = document.querySelector('section[data-checks-state]');
        if (!s) return null;
        var rows = Array.prototype.map.call(s.querySelectorAll('tr[data-check-ok]'), function (tr) {
          var r = tr.querySelector('td.result');
          return [tr.getAttribute('data-check-ok'), r ? r.textContent.trim() : null];
        });
        return {state: s.getAttribute('data-checks-state'), rows: rows};""")
    if shown is None:
        return ["no figure checks section (section[data-checks-state])"]
    problems = []
    if oks is None:
        if shown["state"] != "missing" or shown["rows"]:
            problems.append(f"checks shown (state {shown['state']}, {len(shown['rows'])} rows) but the figure "
                            f"script recorded none")
        return problems
    if shown["state"] != state:
        problems.append(f"checks state shown as {shown['state']!r}, expected {state!r} from the results file's "
                        f"SHA-256 and the checks JSON")
    if len(shown["rows"]) != len(oks):
        problems.append(f"{len(shown['rows'])} checks shown, the checks JSON has {len(oks)}")
    for i, ((attr, text), ok) in enumerate(zip(shown["rows"], oks), 1):
        want_attr, want_text = ("true", "ok") if ok else ("false", "FAIL")
        if attr != want_attr or text != want_text:
            problems.append(f"check {i} shown as data-check-ok={attr!r} {text!r}, but the figure script recorded "
                            f"ok={str(ok).lower()}")
    return problems


def check_index(driver, pages, figures):
    rows = driver.execute_script("""
        return Array.prototype.map.call(document.querySelectorAll('tr[data-experiment]'), function (tr) {
          var c = tr.querySelector('td.checks');
          return {name: tr.getAttribute('data-experiment'), group: tr.getAttribute('data-group'),
                  state: tr.getAttribute('data-checks-state'), passed: tr.getAttribute('data-checks-passed'),
                  total: tr.getAttribute('data-checks-total'), text: c ? c.textContent.replace(/\\s+/g, ' ') : ''};
        });""")
    problems = []
    by_key = {(r["group"], r["name"]): r for r in rows}
    for sub, name, path in pages:
        row = by_key.get((sub, name))
        label = f"{sub}/{name}" if sub else name
        if row is None:
            problems.append(f"no index row for {label}")
            continue
        oks, state = expected_checks(figures, sub, name, path)
        if oks is None:
            if row["state"] != "missing" or "no checks recorded" not in row["text"]:
                problems.append(f"row {label}: shows checks ({row['text'].strip()!r}) but none were recorded")
            continue
        if state == "unreadable":
            if row["state"] != "unreadable" or "checks unreadable" not in row["text"]:
                problems.append(f"row {label}: the checks JSON does not parse, the row shows {row['text'].strip()!r}")
            continue
        passed, total = sum(oks), len(oks)
        if (row["passed"], row["total"]) != (str(passed), str(total)) or f"{passed}/{total} passed" not in row["text"]:
            problems.append(f"row {label}: shows {row['passed']}/{row['total']} ({row['text'].strip()!r}), the "
                            f"checks JSON has {passed}/{total} passed")
        if (total - passed > 0) != ("FAILED" in row["text"]):
            problems.append(f"row {label}: failures shown as {row['text'].strip()!r} with {total - passed} failed")
        if row["state"] != state or (state == "out-of-date") != ("figure out of date" in row["text"]):
            problems.append(f"row {label}: figure state shown as {row['state']!r}, expected {state!r}")
    return problems


def check_sorting(driver):
    """Click a numeric header of the cell table (one with at least two distinct values) and read the column:
    ascending, then descending after a second click; empty (NaN) values last both times. Returns
    (problems, tested)."""
    from selenium.webdriver.common.by import By

    tables = driver.find_elements(By.CSS_SELECTOR, "table.cells-table")
    if not tables:
        return ["no cell table"], False
    table = tables[0]
    column = driver.execute_script("""
        var t = arguments[0], ths = t.tHead.rows[0].cells, best = -1;
        for (var i = ths.length - 1; i >= 0; i--) {   // the last numeric column with 2+ values: a metric
          if (ths[i].getAttribute('data-type') !== 'number') continue;
          var seen = {};
          Array.prototype.forEach.call(t.tBodies[0].rows, function (r) {
            var v = parseFloat(r.cells[i].getAttribute('data-sort-value'));
            if (!isNaN(v)) seen[v] = 1;
          });
          if (Object.keys(seen).length >= 2) { best = i; break; }
        }
        return best;""", table)
    if column < 0:
        return [], False
    header = table.find_elements(By.CSS_SELECTOR, "thead th")[column]
    name = header.get_attribute("title")
    problems = []
    for direction in ("ascending", "descending"):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'});", header)
        header.click()
        values = driver.execute_script("""
            var i = arguments[1];
            return Array.prototype.map.call(arguments[0].tBodies[0].rows, function (r) {
              return r.cells[i].getAttribute('data-sort-value');
            });""", table, column)
        numbers = [float(v) if v not in ("", None) else math.nan for v in values]
        present = [v for v in numbers if not math.isnan(v)]
        first_missing = next((i for i, v in enumerate(numbers) if math.isnan(v)), len(numbers))
        ordered = sorted(present, reverse=direction == "descending")
        if present != ordered or any(not math.isnan(v) for v in numbers[first_missing:]):
            problems.append(f"column {name!r} not {direction} after clicking its header: {values[:8]}...")
        if header.get_attribute("aria-sort") != direction:
            problems.append(f"column {name!r}: aria-sort {header.get_attribute('aria-sort')!r} after a click, "
                            f"expected {direction!r}")
    driver.execute_script("window.scrollTo(0, 0);")
    return problems, True


def screenshot(driver, path):
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, "
                                   "document.body.scrollHeight);")
    driver.set_window_size(WIDTH, min(height, MAX_SHOT_HEIGHT))
    driver.save_screenshot(path)
    driver.set_window_size(WIDTH, 900)
    return height > MAX_SHOT_HEIGHT


def inspect(driver, report, results, figures, shots, require_checks=False, log=print):
    """Every problem found in the report as 'page: problem'. shots: where to save screenshots (None: none)."""
    report = os.path.abspath(report)
    pages = expected_pages(results)
    problems = []
    if shots:
        os.makedirs(shots, exist_ok=True)
    targets = [("", None, None, "index.html")] + [(s, n, p, page_file(s, n)) for s, n, p in pages]
    sorted_somewhere = False
    driver.get_log("browser")  # drop what an earlier page left
    for sub, name, results_path, rel in targets:
        path = os.path.join(report, rel)
        if not os.path.exists(path):
            problems.append(f"{rel}: page missing")
            continue
        driver.get("file://" + urllib.parse.quote(path))
        found = []
        broken = driver.execute_script("""
            return Array.prototype.filter.call(document.images, function (i) {
              return !i.complete || i.naturalWidth === 0;
            }).map(function (i) { return i.getAttribute('src'); });""")
        found += [f"image not loaded: {src}" for src in broken]
        found += check_links(driver, report, path)
        if name is None:
            found += check_index(driver, pages, figures)
        else:
            oks, state = expected_checks(figures, sub, name, results_path)
            if oks is None and require_checks:
                found.append("no checks JSON recorded for this experiment (--require-checks)")
            if require_checks and not driver.execute_script(
                    "return document.querySelectorAll('section.figure img').length;"):
                found.append("no figure shown (--require-checks: every experiment must have its figure)")
            found += check_experiment_checks(driver, oks, state)
        if shots:
            shot = os.path.join(shots, rel.replace(os.sep, "__").replace(".html", ".png"))
            if screenshot(driver, shot):
                log(f"note: {rel} is taller than {MAX_SHOT_HEIGHT} px; its screenshot is cut")
        if name is not None:
            sort_problems, tested = check_sorting(driver)
            found += sort_problems
            sorted_somewhere |= tested
        # Read the console last: the sort clicks could raise script errors too.
        found += [f"console {e['level']}: {e['message']}" for e in driver.get_log("browser")
                  if e["level"] == "SEVERE"]
        problems += [f"{rel}: {p}" for p in found]
        log(f"{'ok  ' if not found else 'FAIL'} {rel}" + (f" ({len(found)} problem(s))" if found else ""))
    if not sorted_somewhere:
        problems.append("no page has a cell table with a numeric column of two or more values: sorting untested")
    return problems


def self_test(driver, results, figures):
    """Build a report, then break it in several ways; the checker must pass the clean report and find each
    break (a checker that cannot fail is no test)."""
    tmp = tempfile.mkdtemp(prefix="report-selftest-")
    try:
        fig = os.path.join(tmp, "figures")
        shutil.copytree(figures, fig)
        pages = expected_pages(results)
        if not any(expected_checks(fig, s, n, p)[0] for s, n, p in pages):
            # No figure script has written checks yet: record some for the first experiment (real format, via
            # Checks), one passing and one failing, so the check comparison has something to compare.
            sub, name, path = pages[0]
            c = Checks(name, os.path.join(fig, sub) if sub else fig, results=path)
            with contextlib.redirect_stdout(io.StringIO()):  # Checks prints each check
                c(True, "self-test check that passed", measured=1.5, threshold=2.58)
                c(False, "self-test check that failed", measured=3.1, threshold="< 2.58")
            c.write()
        report = os.path.join(tmp, "report")
        build(results, fig, report, generated_at="(self-test)", log=lambda *a: None)
        shots = None  # the self-test needs no screenshots
        quiet = lambda *a: None  # noqa: E731

        clean = inspect(driver, report, results, fig, shots, log=quiet)
        if clean:
            print("self-test FAILED: the unbroken report has problems:\n  " + "\n  ".join(clean))
            return 1

        with_checks = [(s, n) for s, n, p in pages if expected_checks(fig, s, n, p)[0]]
        sub, name = with_checks[0]
        page = os.path.join(report, page_file(sub, name))
        png = os.path.join(report, sub, name, name + ".png")

        def flip_check(html):
            m = re.search(r'data-check-ok="(true|false)">(.*?)<td class="result">(ok|FAIL)</td>', html, re.S)
            ok = m.group(1) == "true"
            new = f'data-check-ok="{"false" if ok else "true"}">{m.group(2)}<td class="result">{"FAIL" if ok else "ok"}</td>'
            return html[:m.start()] + new + html[m.end():]

        def change_count(html):
            return re.sub(r'(data-experiment="%s" data-group="%s"[^>]*data-checks-passed=")(\d+)' % (name, sub),
                          lambda m: m.group(1) + str(int(m.group(2)) + 1), html, count=1)

        breaks = [
            ("a deleted PNG", png, None, "image not loaded"),
            ("a check's shown status flipped", page, flip_check, "check 1 shown as"),
            ("an injected console.error", page,
             lambda html: html.replace("</body>", "<script>console.error('x')</script>\n</body>"), "console SEVERE"),
            ("an index row's passed count changed", os.path.join(report, "index.html"), change_count, "shows"),
        ]
        failed = 0
        for what, path, edit, expect in breaks:
            backup = path + ".orig"
            shutil.copyfile(path, backup)
            if edit is None:
                os.remove(path)
            else:
                with open(path) as f:
                    html = f.read()
                changed = edit(html)
                assert changed != html, f"self-test: could not apply {what}"
                with open(path, "w") as f:
                    f.write(changed)
            found = inspect(driver, report, results, fig, shots, log=quiet)
            os.replace(backup, path)
            hits = [p for p in found if expect in p]
            if hits:
                print(f"self-test ok: {what} is found: {hits[0]}")
            else:
                failed += 1
                print(f"self-test FAILED: {what} went unnoticed (expected a problem containing {expect!r}); "
                      f"found: {found}")
        if inspect(driver, report, results, fig, shots, log=quiet):
            print("self-test FAILED: the restored report has problems")
            failed += 1
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--figures", default=os.path.join("plots", "figures"))
    ap.add_argument("--report", help="check this report (default: build one into a scratch directory)")
    ap.add_argument("--screenshots", default=os.path.join("build", "report-screenshots"))
    ap.add_argument("--require-checks", action="store_true", help="fail on an experiment without checks JSON")
    ap.add_argument("--self-test", action="store_true", help="check that the checker finds broken reports")
    args = ap.parse_args()

    driver = make_driver()
    try:
        if args.self_test:
            return self_test(driver, args.results, args.figures)
        scratch = None
        report = args.report
        if report is None:
            scratch = tempfile.mkdtemp(prefix="report-check-")
            report = os.path.join(scratch, "report")
            build(args.results, args.figures, report, log=lambda *a: None)
        try:
            if os.path.isdir(args.screenshots):
                for f in os.listdir(args.screenshots):  # only this run's screenshots stay
                    if f.endswith(".png"):
                        os.remove(os.path.join(args.screenshots, f))
            problems = inspect(driver, report, args.results, args.figures, args.screenshots,
                               require_checks=args.require_checks)
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        print(f"screenshots in {args.screenshots}/")
        pages = expected_pages(args.results)
        without = [f"{s}/{n}" if s else n for s, n, p in pages if expected_checks(args.figures, s, n, p)[0] is None]
        if without:
            print(f"note: {len(without)} of {len(pages)} experiments have no checks JSON (the report says so): "
                  + ", ".join(without))
        if problems:
            print(f"{len(problems)} problem(s) in the report:\n  " + "\n  ".join(problems))
            return 1
        print("report: every page loads cleanly, every check is shown as the figure scripts recorded it")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
