"""Write the generated block of requirements.txt from the addons' manifests.

    .venv/bin/python tools/gen_requirements.py          # rewrite the block
    .venv/bin/python tools/gen_requirements.py --check  # exit 1 when stale

The runtime Python dependencies of the suite are what its manifests declare
in ``external_dependencies`` (with the floors the code needs): the block
between the two markers of requirements.txt lists them, merged per
distribution. The versions the tests run with are pinned apart, in
requirements-test.txt.
"""

import argparse
import ast
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "# --- generated from the manifests (tools/gen_requirements.py) ---"
END = "# --- end of the generated block ---"


def manifest_requirements():
    """{distribution: Requirement} merged over every addon's manifest."""
    merged = {}
    for path in sorted((ROOT / "addons").glob("*/__manifest__.py")):
        data = ast.literal_eval(path.read_text())
        for spec in data.get("external_dependencies", {}).get("python", []):
            req = Requirement(spec)
            key = req.name.lower()
            if key in merged:
                merged[key].specifier &= req.specifier
            else:
                merged[key] = req
    return dict(sorted(merged.items()))


def block():
    lines = [str(req) for req in manifest_requirements().values()]
    return "\n".join([BEGIN, *lines, END])


def rewrite(text):
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block() + text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    path = ROOT / "requirements.txt"
    text = path.read_text()
    new = rewrite(text)
    if args.check:
        if new != text:
            print("requirements.txt differs from the manifests: run tools/gen_requirements.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
