"""Check that the built site renders its formulas with no network: `python docs/_check_site.py site`.

1. Every HTML page: no `<script src>` outside the site (also enforced by `docs/_hooks.py`).
2. With a headless Chromium (Debian's `chromium-headless-shell` or `chromium`), the site is
   served on 127.0.0.1 and every other host name is made unresolvable, so anything that would
   come from the network fails; each page in PAGES is loaded, its DOM after MathJax is read
   (typeset formulas are `mjx-container` elements, none may stay raw), and a screenshot is
   written to `--screenshots` (default `build/screenshots/`). Without a browser this step is
   skipped with a message (`--require-browser` makes that an error).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _hooks import external_scripts  # noqa: E402

PAGES = {
    "contraction-primer": "concepts/contraction/",
    "notebook-01": "notebooks/01_contraction_firing_rate/",
}
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    for path in ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"):
        if Path(path).is_file():
            return path
    return None


def _serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _chrome(exe: str, url: str, *extra: str) -> str:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,1400",
        "--virtual-time-budget=20000",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        *extra,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed on {url}:\n{proc.stderr[-2000:]}")
    return proc.stdout


def check_dom(dom: str) -> dict:
    """Count typeset formulas and formulas MathJax left as raw TeX."""
    typeset = dom.count("<mjx-container")
    raw = len(re.findall(r'class="arithmatex">\s*\\[(\[]', dom))  # markdown pages
    raw += len(re.findall(r"<p>\s*\$\$", dom))  # notebook markdown cells
    return {"typeset": typeset, "raw": raw}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--screenshots", type=Path, default=Path("build/screenshots"))
    parser.add_argument("--require-browser", action="store_true")
    args = parser.parse_args(argv)
    bad = {
        str(p.relative_to(args.site)): found
        for p in args.site.rglob("*.html")
        if (found := external_scripts(p.read_text(encoding="utf-8", errors="replace")))
    }
    if bad:
        print(f"external script sources: {bad}", file=sys.stderr)
        return 1
    print(f"{sum(1 for _ in args.site.rglob('*.html'))} pages, no external script source")
    exe = browser()
    if exe is None:
        print("no headless Chromium found (apt-get install chromium-headless-shell): browser check skipped")
        return 1 if args.require_browser else 0
    server, port = _serve(args.site.resolve())
    args.screenshots.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        for name, page in PAGES.items():
            url = f"http://127.0.0.1:{port}/{page}"
            counts = check_dom(_chrome(exe, url, "--dump-dom"))
            shot = (args.screenshots / f"{name}.png").resolve()
            _chrome(exe, url, f"--screenshot={shot}")
            ok = counts["typeset"] > 0 and counts["raw"] == 0
            failed |= not ok
            print(f"{page}: {counts['typeset']} formulas typeset, {counts['raw']} raw; {shot}")
    finally:
        server.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
