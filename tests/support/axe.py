"""axe-core, the accessibility engine, from its published npm package: fetched once with ``npm pack``, checked
against the registry's integrity hash pinned here (a tampered or substituted tarball is refused), and kept in the
cache outside the repository. The browser tests run it on every page they reach and fail on any violation of
WCAG 2.1 A or AA."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from devstack.procs import cache_root

VERSION = "4.11.4"
INTEGRITY = "sha512-KunSNx+TVpkAw/6ULfhnx+HWRecjqZGTOyquAoWHYLRSdK1tB5Ihce1ZW+UY3fj33bYAFWPu7W/GRSmmrCGuxA=="
"""``npm view axe-core@4.11.4 dist.integrity``: the registry's hash of the tarball."""
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _verified(tarball: bytes) -> bytes:
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        raise RuntimeError(
            f"axe-core {VERSION}: the tarball's hash {digest} is not the pinned {INTEGRITY}"
        )
    return tarball


def source() -> str:
    """axe.min.js of the pinned release (fetched and checked on first use)."""
    kept = cache_root() / f"axe-core-{VERSION}" / "axe.min.js"
    if kept.exists():
        return kept.read_text()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "the browser tests need npm to fetch axe-core (./dev test installs it: apt-get install npm)"
        )
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [npm, "pack", f"axe-core@{VERSION}", "--silent", "--pack-destination", folder],
            check=True,
            capture_output=True,
            timeout=300,
        )
        tarball = _verified(Path(folder, f"axe-core-{VERSION}.tgz").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        script = member.read().decode()
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(script)
    return script


def violations(driver: Any) -> list[dict[str, Any]]:
    """What axe-core finds on the page the driver shows, at WCAG 2.1 A and AA: each violation's rule, impact,
    help and the first few places (CSS selectors)."""
    driver.execute_script(source() + "\nreturn true;")
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {WCAG_21_AA}}}}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-failed', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return list(found)
