"""The built book renders offline: maths typeset by the vendored MathJax, the saved widget drawn by the vendored
widget manager, nothing fetched from outside the machine. Headless Chromium against a local http.server.

Needs: the vendored assets (``python -m rift_lite.vendor book/_vendor``) and Chromium (Debian: ``apt-get install
chromium chromium-driver``). Builds the book with ``jupyter-book build book/ -W`` when the build is missing or older
than its sources; skips with the reason when a prerequisite is missing.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"
PAGE = "03_mutual_information.html"
SOURCES = [REPO / "_config.yml", REPO / "_toc.yml", *sorted((REPO / "book").glob("*.md")),
           *sorted((REPO / "book").glob("*.ipynb"))]
CDN = re.compile(r"(cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|unpkg\.com|polyfill\.io)")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="module")
def built_book() -> Path:
    if not (REPO / "book" / "_vendor" / "VENDORED.json").is_file():
        pytest.skip("offline assets not vendored: run `python -m rift_lite.vendor book/_vendor` (needs npm)")
    page = HTML / PAGE
    if not page.is_file() or page.stat().st_mtime < max(p.stat().st_mtime for p in SOURCES if p.exists()):
        jb = Path(sys.executable).with_name("jupyter-book")
        if not jb.exists():
            pytest.skip("jupyter-book is not installed, and there is no up-to-date build in _build/html")
        proc = subprocess.run([str(jb), "build", "book/", "-W"], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"jupyter-book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return HTML


@pytest.fixture(scope="module")
def server(built_book):
    requests: list[tuple[str, int]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append((self.path, int(code) if str(code).isdigit() else 0))

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Handler, directory=str(built_book)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def test_no_page_loads_assets_from_a_cdn(built_book):
    pages = sorted(built_book.glob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
            src = re.search(r'(?:src|href)="([^"]*)"', tag)
            if src and ("script" in tag or "stylesheet" in tag):
                assert "://" not in src.group(1) and not src.group(1).startswith("//"), f"{page.name}: {tag}"
        assert not CDN.search(re.sub(r"const THEBE_JS_URL = \"[^\"]*\"", "", html)), page.name
    chapter = (built_book / PAGE).read_text(encoding="utf-8")
    assert "_static/vendor/mathjax/es5/tex-chtml.js" in chapter
    assert "_static/vendor/requirejs/require.js" in chapter
    assert "_static/vendor/html-manager/embed-amd.js" in chapter
    assert "application/vnd.jupyter.widget-state+json" in chapter  # the saved widget state is in the page


def test_chapter_renders_maths_and_widget_offline(server, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium not found (Debian: apt-get install -y chromium chromium-driver)")
    base, requests = server
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
           "--disable-default-apps", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
           # every host name except the local server fails to resolve: a page that needed the internet breaks
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           "--virtual-time-budget=20000", "--dump-dom", f"{base}/{PAGE}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert proc.returncode == 0 and len(dom) > 10_000, proc.stderr[-3000:]
    # MathJax 3 (vendored) typeset the equations: CHTML output elements, and no raw TeX display delimiters left
    assert dom.count("<mjx-container") >= 20
    assert "<mjx-merror" not in dom  # no TeX error boxes
    # the html manager (vendored) drew the saved FloatLogSlider from the widget state
    assert "widget-subarea" in dom and "widget-hslider" in dom and "noUi-target" in dom
    # every request reached the local server and found its file (fonts and MathJax components included)
    missing = [path for path, code in requests if code >= 400 and not path.startswith("/favicon")]
    assert not missing, f"missing files: {missing}"
    assert any("/_static/vendor/mathjax/" in path for path, _ in requests)
    assert any("/_static/vendor/html-manager/" in path for path, _ in requests)


# A script added to a served copy of a page: once MathJax has typeset it, it writes what it measured about every
# display equation into the DOM (read back with --dump-dom).
MEASURE = """<script>
window.addEventListener("load", () => MathJax.startup.promise.then(() => {
  const rows = [...document.querySelectorAll('mjx-container[display="true"]')].map((el) => {
    const box = el.getBoundingClientRect(), column = el.parentElement.getBoundingClientRect();
    return {tex: (el.getAttribute("aria-label") || el.textContent).slice(0, 60), right: box.right,
            columnRight: column.right, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
            overflowX: getComputedStyle(el).overflowX};
  });
  const pre = document.createElement("pre");
  pre.id = "rift-measure";
  pre.textContent = JSON.stringify(rows);
  document.body.appendChild(pre);
}));
</script>"""


def _display_maths(chromium: str, base: str, built_book: Path, page: str, width: int, profile: Path) -> list[dict]:
    """What MEASURE finds on ``page`` in a ``width`` px wide window."""
    import json

    copy = built_book / f"measure-{width}-{page}"
    copy.write_text((built_book / page).read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                    encoding="utf-8")
    try:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-extensions", f"--user-data-dir={profile}", f"--window-size={width},900",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=20000",
               "--dump-dom", f"{base}/{copy.name}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        copy.unlink()
    found = re.search(r'<pre id="rift-measure"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert found, f"{page}: no measurement\n{proc.stderr[-3000:]}"
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def test_display_maths_fits_at_1280px_and_scrolls_when_narrower(server, built_book, tmp_path):
    """No display equation of a chapter is cut off. In a 1280 px window each one fits its text column (long ones
    are written on several lines, as equations (3)-(5) of chapter 3 now are); in a 600 px window one that does not
    fit stays inside the column and scrolls sideways (book/_static/rift.css)."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium not found (Debian: apt-get install -y chromium chromium-driver)")
    base, _ = server
    pages = sorted(p.name for p in built_book.glob("[0-9]*.html"))
    assert PAGE in pages
    for page in pages:
        for width in (1280, 600):
            rows = _display_maths(chromium, base, built_book, page, width, tmp_path / f"profile-{width}")
            assert rows or page != PAGE
            for row in rows:
                assert row["right"] <= row["columnRight"] + 1, f"{page} at {width} px, sticks out: {row}"
                fits = row["scrollWidth"] <= row["clientWidth"] + 1
                if width == 1280:
                    assert fits, f"{page} at 1280 px, wider than the text column (cut off): {row}"
                else:
                    assert fits or row["overflowX"] in ("auto", "scroll"), f"{page} at {width} px, cut off: {row}"
