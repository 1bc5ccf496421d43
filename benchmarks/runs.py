"""The benchmarks' raw run dirs live on the git branch ``bench-runs``, not in the source tree.

Each study keeps its tables, figures, grid file and summary script in the tree; the run dirs
its grids write (``<study>/runs/<job>/``: config.json, metrics.csv, eval.json, summary.json)
are stored on the branch under the same paths, so that a clone stays small and readable and
the numbers stay traceable. Summary scripts and grid resumes need them in the work tree:

    python benchmarks/runs.py list                                  # studies on the branch
    python benchmarks/runs.py fetch benchmarks/multimodal/awr4      # restore one study's runs
    python benchmarks/runs.py fetch                                 # ... or all of them
    python benchmarks/runs.py store benchmarks/multimodal/awr4      # record new or changed runs

``fetch`` reads the local branch, else ``origin/bench-runs`` (a clone has it as a remote
branch). ``store`` commits the study's ``runs/`` files, without checkpoints, TensorBoard
events and logs, on top of the branch and moves the branch there; push it with
``git push origin bench-runs``.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BRANCH = "bench-runs"
SKIP_DIRS = {"checkpoints", "tb", "__pycache__"}
SKIP_SUFFIXES = (".log", ".lock")


def git(root: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None
        ) -> bytes:
    p = subprocess.run(["git", "-C", str(root), *args], input=data, capture_output=True,
                       env=None if env is None else {**os.environ, **env})
    if p.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {p.stderr.decode().strip()}")
    return p.stdout


def branch_ref(root: Path) -> str | None:
    """The branch holding the runs: local ``bench-runs``, else ``origin/bench-runs``."""
    for ref in (f"refs/heads/{BRANCH}", f"refs/remotes/origin/{BRANCH}"):
        ok = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", ref],
                            capture_output=True).returncode == 0
        if ok:
            return ref
    return None


def study_path(root: Path, study: str) -> str:
    """``benchmarks/x/y`` relative to the repo root (given relative to the cwd or the root)."""
    p = Path(study).resolve()
    try:
        return p.relative_to(root).as_posix().rstrip("/")
    except ValueError:
        raise SystemExit(f"invalid study {study!r}: not inside the repository {root}") from None


def run_files(root: Path, study: str) -> list[str]:
    """The files of ``study/runs/`` that belong on the branch (repo-relative paths)."""
    runs = root / study / "runs"
    if not runs.is_dir():
        raise SystemExit(f"invalid study {study!r}: {runs} is not a directory (a study's runs "
                         "are in <study>/runs/)")
    out = []
    for dirpath, dirnames, filenames in os.walk(runs):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out += [Path(dirpath, f).relative_to(root).as_posix() for f in sorted(filenames)
                if not f.endswith(SKIP_SUFFIXES)]
    return out


def store(root: Path, studies: list[str]) -> str:
    """Commit the studies' run files on top of the branch; returns the new commit."""
    ref = branch_ref(root)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if ref is not None:
            git(root, "read-tree", ref, env=env)
        paths = [f for s in studies for f in run_files(root, study_path(root, s))]
        for s in studies:  # the study's runs as they are now: drop files no longer there
            git(root, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--",
                f"{study_path(root, s)}/runs", env=env)
        hashes = git(root, "hash-object", "-w", "--stdin-paths",
                     data="\n".join(paths).encode()).decode().split()
        info = "".join(f"100644 {h}\t{p}\n" for h, p in zip(hashes, paths, strict=True))
        git(root, "update-index", "--add", "--index-info", env=env, data=info.encode())
        tree = git(root, "write-tree", env=env).decode().strip()
    parent = ["-p", ref] if ref is not None else []
    msg = f"runs of {', '.join(study_path(root, s) for s in studies)}"
    commit = git(root, "commit-tree", tree, *parent, "-m", msg).decode().strip()
    git(root, "update-ref", f"refs/heads/{BRANCH}", commit)
    return commit


def fetch(root: Path, studies: list[str]) -> int:
    """Restore the studies' runs (all studies if none) into the work tree; returns the
    number of files written."""
    ref = branch_ref(root)
    if ref is None:
        raise SystemExit(f"no branch {BRANCH} (local or origin/{BRANCH}); `git fetch origin "
                         f"{BRANCH}:{BRANCH}` gets it")
    paths = [f"{study_path(root, s)}/runs" for s in studies]
    have = set(list_studies(root))
    missing = [p for p in paths if p[:-len("/runs")] not in have]
    if missing:
        raise SystemExit(f"not on {BRANCH}: {missing}; stored studies: {sorted(have)}")
    data = git(root, "archive", "--format=tar", ref, "--", *paths)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        tar.extractall(root, members=members, filter="data")
    return len(members)


def list_studies(root: Path) -> list[str]:
    ref = branch_ref(root)
    if ref is None:
        return []
    files = git(root, "ls-tree", "-r", "--name-only", ref).decode().split()
    return sorted({f.split("/runs/")[0] for f in files if "/runs/" in f})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["list", "fetch", "store"])
    ap.add_argument("studies", nargs="*", help="study dirs, e.g. benchmarks/multimodal/awr4")
    a = ap.parse_args(argv)
    root = Path(git(Path.cwd(), "rev-parse", "--show-toplevel").decode().strip())
    if a.command == "list":
        if branch_ref(root) is None:
            sys.exit(f"no branch {BRANCH} (local or origin/{BRANCH}) in {root}: nothing stored "
                     f"here; `git fetch origin {BRANCH}:{BRANCH}` gets it where a remote has it")
        print("\n".join(list_studies(root)))
    elif a.command == "fetch":
        n = fetch(root, a.studies or list_studies(root))
        print(f"restored {n} files from {branch_ref(root)}")
    else:
        if not a.studies:
            sys.exit("store: name the study dirs to record")
        print(f"{BRANCH} -> {store(root, a.studies)[:12]}")


if __name__ == "__main__":
    main()
