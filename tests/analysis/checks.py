"""checks.py - what the analysis tests (tests/analysis/test_*.py) share: a named
check that records its failure instead of stopping the test, running a
command that must succeed, and the PNG validity test. Each test imports it
from its own directory (a script's directory is first on sys.path)."""
import os
import subprocess

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
failures = []  # the names of the checks that failed, in order


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(cmd, cwd=None, ok_codes=(0,), expect_ok=True):
    """Runs cmd (a list) and returns its CompletedProcess (text output); an
    exit status outside ok_codes stops the test with the command's output,
    unless expect_ok is false."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    if expect_ok and p.returncode not in ok_codes:
        print(p.stdout, p.stderr, sep="\n")
        raise SystemExit("FAILED: %s exited %d" % (" ".join(cmd), p.returncode))
    return p


def valid_png(path, min_bytes=1000):
    """A file that starts with the PNG signature and is not trivially small."""
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > min_bytes


def md_rows(text):
    """{first cell: [other cells]} of every Markdown table row in text (the
    header rows included, the --- rows not)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[cells[0]] = cells[1:]
    return out
