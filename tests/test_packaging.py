"""The suite installs the way consultants install addons: each addon builds
into a wheel (``pyproject.toml`` with the ``whool`` backend, the OCA way),
the wheels install with pip into a fresh virtual environment next to Odoo,
and Odoo installs the addons from there (no ``addons_path`` entry of this
repository) into a scratch database. The generated files (README.rst and the
Apps page, the requirements' generated block) are up to date with their
sources.

Slow (builds nine wheels and installs the addons without demo data: about
two minutes); run alone with ``tools/suite.py test tests/test_packaging.py``.
"""

import ast
import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import gen_readme  # noqa: E402
import gen_requirements  # noqa: E402
import suite  # noqa: E402

ADDON_DIRS = sorted(path.parent for path in (ROOT / "addons").glob("*/__manifest__.py"))


def _manifest(addon_dir):
    return ast.literal_eval((addon_dir / "__manifest__.py").read_text())


def test_each_addon_is_packaged_the_oca_way():
    assert (
        (ROOT / "LICENSE")
        .read_text()
        .startswith("                   GNU LESSER GENERAL PUBLIC LICENSE")
    )
    for addon_dir in ADDON_DIRS:
        manifest = _manifest(addon_dir)
        assert manifest["license"] == "LGPL-3", addon_dir.name
        assert manifest.get("development_status") in ("Alpha", "Beta", "Production/Stable")
        assert "example.com" not in manifest.get("website", ""), "no placeholder website"
        assert 'build-backend = "whool.buildapi"' in (addon_dir / "pyproject.toml").read_text()
        assert (addon_dir / "readme" / "DESCRIPTION.md").exists()
        assert (addon_dir / "readme" / "CONTRIBUTORS.md").exists()


def test_generated_readmes_and_requirements_are_up_to_date():
    stale = {d.name: why for d in ADDON_DIRS if (why := gen_readme.stale(d))}
    assert not stale, f"run make readme: {stale}"
    text = (ROOT / "requirements.txt").read_text()
    assert gen_requirements.rewrite(text) == text, "run tools/gen_requirements.py"


def test_oca_module_and_translation_checks_pass():
    """The checks OCA's CI runs on every addon (manifest keys, XML headers
    and data, the .po files' format and placeholders), as ``make lint`` runs
    them."""
    bin_dir = ROOT / ".cache" / "lint-venv" / "bin"  # tools/setup.sh makes it
    manifests = [str(d / "__manifest__.py") for d in ADDON_DIRS]
    pos = [str(p) for d in ADDON_DIRS for p in sorted((d / "i18n").glob("*.po*"))]
    for command in (["oca-checks-odoo-module", *manifests], ["oca-checks-po", *pos]):
        result = subprocess.run(
            [str(bin_dir / command[0]), *command[1:]], capture_output=True, text=True, cwd=ROOT
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_external_dependencies_have_floors():
    """The code needs pandas 2 (Debian's python3-pandas is 1.5) and
    phonenumbers (without it Odoo formats no phone number and a known caller
    opens a new lead): the manifests say so, with versions."""
    declared = {
        Requirement(spec).name: Requirement(spec)
        for d in ADDON_DIRS
        for spec in _manifest(d).get("external_dependencies", {}).get("python", [])
    }
    assert set(declared) >= {"numpy", "scipy", "pandas", "phonenumbers"}
    for name, req in declared.items():
        assert str(req.specifier).startswith(">="), f"{name} has no floor"
    assert not declared["pandas"].specifier.contains("1.5.3")


@pytest.fixture
def scratch_db():
    name = "crm_suite_wheels_" + suite.hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    suite.drop_db(name)
    yield name
    suite.drop_db(name)


def test_wheels_install_into_a_fresh_environment_and_odoo_installs_them(tmp_path, scratch_db):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(dist), *map(str, ADDON_DIRS)],
        check=True, cwd=ROOT,
    )  # fmt: skip
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == len(ADDON_DIRS)
    # each wheel declares what its manifest needs: Odoo 18.0, the other addons,
    # the Python libraries with their floors, all satisfied here
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            lines = archive.read(metadata).decode().splitlines()
        requires = [
            Requirement(line.split(": ", 1)[1])
            for line in lines
            if line.startswith("Requires-Dist: ")
        ]
        assert "odoo" in {r.name for r in requires}, wheel.name
        for req in requires:
            if req.name.startswith("odoo-addon-"):
                assert any(w.name.startswith(req.name.replace("-", "_")) for w in wheels), req
                continue
            installed = suite_version(req.name)
            assert installed and req.specifier.contains(installed, prereleases=True), (
                wheel.name,
                req,
            )

    # a fresh virtual environment that sees Odoo and its libraries (this
    # checkout's .venv) but not this repository's addons/ folder
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    fresh_python = fresh / "bin" / "python"
    site_packages = subprocess.run(
        [str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    base = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site_packages, "_suite_base.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh_python), "install", "--quiet",
         "--no-deps", "--no-index", *map(str, wheels)],
        check=True,
    )  # fmt: skip
    installed_dir = Path(site_packages, "odoo", "addons")
    assert sorted(p.name for p in installed_dir.iterdir()) == [d.name for d in ADDON_DIRS]

    conf = configparser.ConfigParser()
    conf.read(suite.CONF)
    odoo_src = Path(os.environ.get("ODOO_SRC", "/opt/odoo/18.0"))
    addons = ",".join(d.name for d in ADDON_DIRS)
    suite.clone_db("template0", scratch_db)
    result = subprocess.run(
        [str(fresh_python), str(odoo_src / "odoo-bin"), "-c", str(suite.CONF),
         f"--addons-path={odoo_src / 'addons'}", "-d", scratch_db, "-i", addons,
         "--without-demo=all", "--stop-after-init", "--no-http", "--log-level=warn"],
        capture_output=True, text=True, cwd=tmp_path, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert " ERROR " not in result.stderr, result.stderr[-3000:]
    states = suite.psql(
        "SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM ir_module_module"
        f" WHERE name IN ({', '.join(repr(d.name) for d in ADDON_DIRS)})",
        db=scratch_db,
    )
    assert states == ",".join(f"{d.name}=installed" for d in ADDON_DIRS)
    # Odoo loaded them from the wheels: the only place they exist for it
    paths = suite.psql(
        "SELECT count(*) FROM ir_module_module WHERE state = 'installed'", db=scratch_db
    )
    assert int(paths) > len(ADDON_DIRS)


def suite_version(name):
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(name)
    except PackageNotFoundError:
        return None
