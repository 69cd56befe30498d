"""Shared fixtures: the repository's bundled photos and demo catalog, the
installed `pixtape` command, and a few hundred generated photos."""

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "assets" / "photos"
FACES = ROOT / "tests" / "data" / "faces"
CATALOG = ROOT / "assets" / "catalog" / "demo_catalog.csv"


def cli(*args):
    """Runs the `pixtape` command the wheel installed."""
    exe = shutil.which("pixtape")
    assert exe, "the wheel should put `pixtape` on the PATH"
    done = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    return done


def cli_tables(tmp, command, images, *extra):
    out = tmp / f"cli-{command}"
    cli(command, "--images", images, "--out", out, "--device", "cpu", "-q", *extra)
    return {p.stem: pq.read_table(p) for p in out.glob("*.parquet")}


def assert_same(got, want, sort=None, skip=()):
    """Column by column, row for row (after sorting by `sort`)."""
    if sort:
        got, want = got.sort_by(sort), want.sort_by(sort)
    assert got.num_rows == want.num_rows
    assert got.schema.names == want.schema.names
    for name in want.schema.names:
        if name in skip:
            continue
        assert got.column(name).type == want.column(name).type, name
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """300 generated 640x480-ish photos and one corrupt file."""
    d = tmp_path_factory.mktemp("generated")
    cli("photos", "synth", "--count", 300, "--out", d)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return d


@pytest.fixture(scope="session")
def threads():
    return int(os.environ.get("PIXTAPE_TEST_THREADS", "2"))
