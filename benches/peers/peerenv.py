"""Finds or makes the Python environment the peer scripts run in, then re-runs the script there.

Order: `--python` if given; else the current interpreter if it already imports everything;
else the venv at `$PEERS_VENV` (default benches/peers/.venv), created and filled from
requirements.txt on first use.

A venv's `bin/python` is a symlink to the base interpreter, so "is this the interpreter we are
running?" must compare the paths as given (`sys.executable` keeps the venv path), never their
`realpath`: resolving the link made every venv look like the system Python, so the script
never switched into the venv it had just filled and failed on its first import.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV = os.path.join(HERE, ".venv")
# Set in the re-run child, so a chosen interpreter that still lacks packages stops with an
# error instead of re-running forever.
MARKER = "PEERS_REEXEC"


def have_packages(needed):
    try:
        for name in needed:
            __import__(name)
        return True
    except ImportError:
        return False


def _reexec(python, script):
    if os.environ.get(MARKER):
        sys.exit(f"{python} was chosen but cannot import everything this script needs")
    os.environ[MARKER] = "1"
    os.execv(python, [python, script, *sys.argv[1:]])


def ensure(needed, script, python=None):
    """Returns when the running interpreter imports every module in `needed`; otherwise re-runs
    `script` (with the same arguments) under one that does, creating the venv if needed."""
    if python and os.path.abspath(python) != os.path.abspath(sys.executable):
        _reexec(python, script)
    if have_packages(needed):
        return
    if python or os.environ.get(MARKER):
        sys.exit(f"{sys.executable} cannot import one of: {', '.join(needed)} "
                 f"(pip install -r {os.path.join(HERE, 'requirements.txt')})")
    venv = os.environ.get("PEERS_VENV", DEFAULT_VENV)
    venv_python = os.path.join(venv, "bin", "python")
    if not os.path.exists(venv_python):
        print(f"creating {venv} (torch is a large download)", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    if subprocess.call([venv_python, "-c", "import " + ", ".join(needed)], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([venv_python, "-m", "pip", "install", "-r", os.path.join(HERE, "requirements.txt")])
    _reexec(venv_python, script)
