"""Cheap checks of the installer recipes (no build: the real install test is
scripts/test_package.sh, too heavy for CI).

- the nfpm recipe parses, takes its version from the environment package.sh sets from
  pyproject.toml, ships the tree under /opt/offline-assistant with the two /usr/bin launchers,
  the desktop file, icon and licences, and declares the audio/Qt/SSL dependencies;
- package.sh's version command prints pyproject.toml's version;
- the shell scripts are valid sh/bash; the PyInstaller specs and hooks are valid Python;
- the Inno Setup script and the desktop entry name the right executables.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INST = ROOT / "installers"


def _nfpm() -> dict:
    return yaml.safe_load((INST / "linux" / "nfpm.yaml").read_text())


def test_nfpm_recipe_layout_and_dependencies():
    cfg = _nfpm()
    assert cfg["name"] == "offline-assistant" and cfg["version"] == "${VERSION}"
    assert cfg["deb"]["compression"] == "zstd"
    dst = {c["dst"]: c for c in cfg["contents"]}
    assert dst["/opt/offline-assistant"]["src"] == "${TREE}"
    for exe in ("assistant", "assistant-gui"):
        link = dst[f"/usr/bin/{exe}"]
        assert link["type"] == "symlink" and link["src"] == f"/opt/offline-assistant/bin/{exe}"
    assert "/usr/share/applications/offline-assistant.desktop" in dst
    assert "/usr/share/icons/hicolor/scalable/apps/offline-assistant.svg" in dst
    assert dst["/usr/share/doc/offline-assistant"]["src"] == "${DOC}"
    for c in cfg["contents"]:  # repository files named by the recipe exist
        if c.get("type") != "symlink" and "${" not in c["src"]:
            assert (ROOT / c["src"]).is_file(), c["src"]
    for script in cfg["scripts"].values():
        assert (ROOT / script).is_file(), script
    deps = " ".join(cfg["depends"])
    for pkg in ("libportaudio2", "libxcb-cursor0", "libssl3", "libegl1", "libfontconfig1"):
        assert pkg in deps, pkg


def test_package_version_comes_from_pyproject():
    text = (ROOT / "scripts" / "package.sh").read_text()
    m = re.search(r"^pyver\(\) \{ \"\$REPO/\.venv/bin/python\" -c '([^']+)'; \}", text, re.M)
    assert m, "package.sh must read the version from pyproject.toml (pyver)"
    out = subprocess.run([sys.executable, "-c", m.group(1)], cwd=ROOT, capture_output=True, text=True, check=True)
    want = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.stdout.strip() == want


def test_shell_scripts_parse():
    for sh, shell in [("scripts/package.sh", "bash"), ("scripts/test_package.sh", "bash"),
                      ("installers/linux/launcher.sh", "sh"), ("installers/linux/postinst.sh", "sh"),
                      ("installers/linux/postrm.sh", "sh"), ("installers/macos/make_dmg.sh", "sh")]:
        r = subprocess.run([shell, "-n", str(ROOT / sh)], capture_output=True, text=True)
        assert r.returncode == 0, (sh, r.stderr)


def test_launcher_uses_shipped_pythons_and_isolates_imports():
    text = (INST / "linux" / "launcher.sh").read_text()
    assert "ASSISTANT_RASA_PYTHON" in text and "$ROOT/rasa-python/bin/python3.10" in text
    assert '"$ROOT/python/bin/python3.11" -P' in text  # no cwd on sys.path
    assert "PYTHONUSERBASE=" in text  # skills installed by users go to the app's own user site
    assert "PYTHONDONTWRITEBYTECODE=1" in text  # nothing written under /opt at run time


def test_pyinstaller_specs_and_hooks_are_python():
    for p in [*INST.glob("*/*.spec"), *INST.glob("pyinstaller/*.py")]:
        compile(p.read_text(), str(p), "exec")


def test_inno_setup_and_desktop_entry():
    iss = (INST / "windows" / "offline-assistant.iss").read_text()
    assert "[Setup]" in iss and "assistant-gui.exe" in iss and "{userstartup}" in iss
    desktop = (INST / "linux" / "offline-assistant.desktop").read_text()
    assert re.search(r"^Exec=assistant-gui$", desktop, re.M)
