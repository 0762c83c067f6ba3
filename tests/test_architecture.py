"""ARCHITECTURE.md stays true: every file it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_file_the_map_names_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    paths = {
        p
        for p in re.findall(r"`([\w./-]+)`", text)
        if "/" in p and (p.startswith(("addons/", "tools/", "tests/", "docs/", "bench/")))
    }
    assert len(paths) > 25, "the map names the files that own each step"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names files that no longer exist: {missing}"
