"""Vendor MathJax 3, require.js and the Jupyter widgets HTML manager so the built book works offline.

    python -m rift_lite.vendor book/_vendor      # needs npm (Node.js); idempotent; --force to redo

By default the book's pages load these from CDNs, so without internet the maths shows raw and the widgets stay
blank. This script fetches them from the npm registry with ``npm pack`` (pinned versions), unpacks only the files
the pages need (about 12 MB) into ``<dest>/_static/vendor/`` and writes ``<dest>/VENDORED.json``. ``_config.yml``
copies ``book/_vendor`` into the build with Sphinx's ``html_extra_path`` (so the files land in
``_build/html/_static/vendor/``) and points ``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at them.
The folder is git-ignored: these are third-party files (MathJax and html-manager: Apache-2.0 / BSD-3-Clause;
require.js: MIT) and are never committed. (``book/_static`` is not used: Jupyter Book injects every .js in it
into every page.)
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGES = {  # npm spec -> (name inside _static/vendor, [paths inside the package to copy], excluded suffixes)
    "mathjax@3.2.2": ("mathjax", ["es5"], (".map",)),
    "@jupyter-widgets/html-manager@1.0.6": ("html-manager", ["dist"], (".map", "libembed-amd.js", "embed.js",
                                                                      "LICENSE.txt")),
    "requirejs@2.3.6": ("requirejs", ["require.js"], ()),
}
# MathJax parts the pages never load (SVG output, the speech-rule engine, MathML-input bundles, node entry point).
MATHJAX_SKIP = ("es5/sre", "es5/output/svg", "es5/tex-svg", "es5/mml-", "es5/tex-mml-svg", "es5/node-main")
LICENSES = ("LICENSE", "LICENSE.txt", "LICENSE.md")
# Loaded before require.js and embed-amd.js (first entry of nb_ipywidgets_js in _config.yml). The widget manager's
# webpack bundle derives the URL of its font files from the AMD module's URI, by default
# "@jupyter-widgets/html-manager/dist/..." next to the page -- a path that does not exist in the build. A global
# `require` object defined before require.js loads is require.js's configuration: map that module path to here.
WIDGETS_CONFIG_JS = """// written by rift_lite.vendor: make the vendored widget manager find its own files (fonts) offline
(function () {
  var here = new URL("./", document.currentScript.src).href;
  window.__jupyter_widgets_assets_path__ = here;
  window.require = {paths: {"@jupyter-widgets/html-manager/dist": here.replace(/\\/$/, "")}};
})();
"""


def _wanted(member: str, roots: list[str], skip_suffix: tuple[str, ...], name: str) -> bool:
    rel = member.split("/", 1)[1] if "/" in member else member  # strip the tarball's "package/" prefix
    if rel in LICENSES:
        return True
    if not any(rel == r or rel.startswith(r + "/") for r in roots):
        return False
    if name == "mathjax" and rel.startswith(MATHJAX_SKIP):
        return False
    return not rel.endswith(skip_suffix)


def vendor(dest: Path, force: bool = False, npm: str = "npm") -> Path:
    dest = Path(dest)
    stamp = dest / "VENDORED.json"
    assets_js = dest / "_static" / "vendor" / "html-manager" / "widgets-config.js"
    if stamp.is_file() and not force and json.loads(stamp.read_text()).get("packages") == list(PACKAGES):
        assets_js.write_text(WIDGETS_CONFIG_JS)
        print(f"{dest}: already vendored ({', '.join(PACKAGES)})")
        return dest
    if shutil.which(npm) is None:
        sys.exit("npm not found: install Node.js (>= 18) to vendor MathJax, require.js and the widget manager")
    target = dest / "_static" / "vendor"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([npm, "pack", "--silent", *PACKAGES], cwd=tmp, check=True, capture_output=True,
                             text=True).stdout.split()
        tarballs = [Path(tmp) / line.strip() for line in out if line.strip().endswith(".tgz")]
        if len(tarballs) != len(PACKAGES):
            sys.exit(f"npm pack returned {out!r}, expected {len(PACKAGES)} tarballs")
        for (spec, (name, roots, skip)), tarball in zip(PACKAGES.items(), tarballs):
            with tarfile.open(tarball) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and _wanted(m.name, roots, skip, name)]
                for m in members:
                    m.name = m.name.split("/", 1)[1]
                tar.extractall(target / name, members=members, filter="data")
            n = sum(1 for p in (target / name).rglob("*") if p.is_file())
            print(f"vendored {spec}: {n} files -> {target / name}")
    # the html manager's bundle sits directly under html-manager/ (dist/ flattened) for short, stable URLs
    dist = target / "html-manager" / "dist"
    for p in dist.iterdir():
        shutil.move(str(p), target / "html-manager" / p.name)
    dist.rmdir()
    assets_js.write_text(WIDGETS_CONFIG_JS)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    stamp.write_text(json.dumps({"packages": list(PACKAGES), "bytes": size}, indent=1) + "\n")
    print(f"{dest}: {size / 1e6:.1f} MB vendored")
    return dest


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest", nargs="?", default="book/_vendor", help="target folder (default book/_vendor)")
    parser.add_argument("--force", action="store_true", help="vendor again even if already done")
    args = parser.parse_args(argv)
    vendor(Path(args.dest), force=args.force)


if __name__ == "__main__":
    main()
