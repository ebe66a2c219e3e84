"""mkdocs hooks: a site that reads offline.

1. MathJax 3 is vendored at build time from the npm registry (`npm pack mathjax@VERSION`, cached
   under `build/vendor/`) into `site/javascripts/vendor/mathjax/`; no page loads it from a CDN.
   Offline machines set ``CONTRACTAX_MATHJAX`` to an unpacked MathJax ``es5`` folder or a
   ``mathjax-VERSION.tgz`` made by ``npm pack`` elsewhere.
2. The notebook pages (mkdocs-jupyter, i.e. nbconvert's "lab" template) carry nbconvert's own
   MathJax 2 loader and a mermaid loader, both from a CDN: they are removed; the site-wide
   MathJax typesets the notebooks' markdown too (`docs/javascripts/mathjax.js`).
3. After the build every HTML page is scanned: an external script source fails the build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from mkdocs.exceptions import PluginError

MATHJAX_VERSION = "3.2.2"
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "vendor"
# What tex-mml-chtml.js loads at run time: TeX extensions, the CHTML fonts, menu, a11y, speech.
KEEP = ("tex-mml-chtml.js", "input", "output/chtml", "a11y", "ui", "sre", "adaptors")

_EXTERNAL_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I)
_MATHJAX2_CONFIG = re.compile(
    r"<!-- Load mathjax -->|<!-- MathJax configuration -->.*?<!-- End of mathjax configuration -->",
    re.S,
)
_EMPTY_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']\s*[\"'][^>]*>\s*</script>", re.I)
_MODULE_SCRIPTS = re.compile(r"<script type=\"module\">.*?</script>", re.S)
_REMOTE_IMPORT = re.compile(r"import\(\s*[\"'](?:https?:)?//")


def external_scripts(html: str) -> list[str]:
    """The `<script src=...>` tags and dynamic `import("https://...")` calls that leave the site."""
    found = [m.group(0)[:200] for m in _EXTERNAL_SRC.finditer(html)]
    found += [m.group(0)[:200] for m in _MODULE_SCRIPTS.finditer(html) if _REMOTE_IMPORT.search(m.group(0))]
    return found


def on_post_page(output: str, page, config) -> str:
    """Drop CDN loaders that mkdocs-jupyter's nbconvert template puts in notebook pages."""
    output = _MATHJAX2_CONFIG.sub("", output)
    output = _EXTERNAL_SRC.sub("", output)
    output = _EMPTY_SRC.sub("", output)  # nbconvert's MathJax 2 tag when its URL is unset
    return _MODULE_SCRIPTS.sub(lambda m: "" if _REMOTE_IMPORT.search(m.group(0)) else m.group(0), output)


def _mathjax_es5() -> Path:
    """An unpacked MathJax es5 folder: CONTRACTAX_MATHJAX, the cache, or `npm pack` into it."""
    given = os.environ.get("CONTRACTAX_MATHJAX")
    if given and Path(given).is_dir():
        return Path(given)
    unpacked = CACHE / f"mathjax-{MATHJAX_VERSION}"
    if (unpacked / "es5" / "tex-mml-chtml.js").is_file():
        return unpacked / "es5"
    tgz = Path(given) if given else CACHE / f"mathjax-{MATHJAX_VERSION}.tgz"
    if not tgz.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise PluginError(
                "docs need MathJax from the npm registry but `npm` is not installed: install npm "
                "(apt-get install npm) or set CONTRACTAX_MATHJAX to a MathJax es5 folder or to "
                f"mathjax-{MATHJAX_VERSION}.tgz made by `npm pack mathjax@{MATHJAX_VERSION}`."
            )
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "pack", f"mathjax@{MATHJAX_VERSION}", "--silent", "--pack-destination", str(CACHE)],
            check=True,
            capture_output=True,
            timeout=600,
        )
        tgz = CACHE / f"mathjax-{MATHJAX_VERSION}.tgz"
    tmp = unpacked.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")]
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp, members=members, **kw)
    shutil.rmtree(unpacked, ignore_errors=True)
    (tmp / "package").rename(unpacked)
    tmp.rmdir()
    return unpacked / "es5"


def _vendor_mathjax(site: Path) -> None:
    src = _mathjax_es5()
    dest = site / "javascripts" / "vendor" / "mathjax"
    shutil.rmtree(dest, ignore_errors=True)
    for rel in KEEP:
        path = src / rel
        if path.is_dir():
            shutil.copytree(path, dest / rel)
        elif path.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
    if not (dest / "tex-mml-chtml.js").is_file():
        raise PluginError(f"MathJax in {src} has no tex-mml-chtml.js")


def on_post_build(config) -> None:
    site = Path(config["site_dir"])
    _vendor_mathjax(site)
    bad = {}
    for page in site.rglob("*.html"):
        found = external_scripts(page.read_text(encoding="utf-8", errors="replace"))
        if found:
            bad[str(page.relative_to(site))] = found
    if bad:
        raise PluginError(f"pages load scripts from outside the site: {bad}")
