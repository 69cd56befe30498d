"""The module against the command: the same tables, row for row."""

import pyarrow as pa
import pytest

import pixtape
from conftest import CATALOG, FACES, PHOTOS, assert_same, cli_tables


def test_analyze_equals_the_command(tmp_path):
    want = cli_tables(tmp_path, "analyze", PHOTOS)
    got = pixtape.analyze(str(PHOTOS), device="cpu")
    assert isinstance(got, pa.Table)
    assert_same(got, want["images"])


def test_each_precision_equals_the_command(tmp_path):
    # The default (auto) is compared above; f32, and int8 where this CPU
    # runs it fast (auto picks it), compared here.
    for precision in ("f32", "int8"):
        want = cli_tables(tmp_path / precision, "analyze", PHOTOS, "--precision", precision)
        assert_same(pixtape.analyze(str(PHOTOS), device="cpu", precision=precision), want["images"])
    with pytest.raises(ValueError, match="precision"):
        pixtape.Analyzer(device="cpu", precision="fp8")


def test_faces_and_errors_equal_the_command(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in FACES.iterdir():
        if p.suffix in (".jpg", ".webp"):
            (folder / p.name).write_bytes(p.read_bytes())
    (folder / "zz-broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    want = cli_tables(tmp_path, "analyze", folder)
    run = pixtape.Analyzer(device="cpu").run(folder)
    assert_same(run["images"], want["images"])
    assert_same(run["faces"], want["faces"])
    assert_same(run["errors"], want["errors"])
    assert run["errors"].column("image_id").to_pylist() == ["zz-broken.jpg"]
    # The people gate: every photo here passes it; one no picture passes
    # leaves the search to nothing.
    assert_same(pixtape.Analyzer(device="cpu", face_gate=0.0).run(folder)["faces"], want["faces"])
    assert pixtape.Analyzer(device="cpu", face_gate=1.0).run(folder)["faces"].num_rows == 0


def test_recommend_equals_the_command(tmp_path):
    want = cli_tables(tmp_path, "recommend", PHOTOS, "--catalog", CATALOG)
    rec = pixtape.Recommender(str(CATALOG), device="cpu")
    assert rec.tracks == 314
    images, picks = rec.analyze_and_recommend(PHOTOS)
    assert_same(images, want["images"])
    assert_same(picks, want["recommendations"])
    # The same object again: the same answer.
    assert_same(rec.recommend(PHOTOS), want["recommendations"])


def test_lists_bytes_and_ids():
    cat, coffee = PHOTOS / "cat.jpg", PHOTOS / "coffee.jpg"
    a = pixtape.Analyzer(device="cpu", faces=False)
    by_path = a.analyze([cat, coffee])
    assert by_path.column("image_id").to_pylist() == [str(cat), str(coffee)]
    by_bytes = a.run([("c", cat.read_bytes()), ("k", coffee.read_bytes()), ("bad", b"nope")])
    assert by_bytes["images"].column("image_id").to_pylist() == ["c", "k"]
    assert by_bytes["errors"].column("image_id").to_pylist() == ["bad"]
    assert by_bytes["images"].column("mood_vector").to_pylist() == by_path.column("mood_vector").to_pylist()
    named = a.analyze([cat], ids=["kitty"])
    assert named.column("image_id").to_pylist() == ["kitty"]


def test_catalog_from_a_table_equals_the_file():
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(CATALOG)
    from_file = pixtape.Recommender(CATALOG, device="cpu", faces=False).recommend(PHOTOS)
    from_table = pixtape.Recommender(pixtape.Catalog(table), device="cpu", faces=False).recommend(PHOTOS)
    assert_same(from_table, from_file)


def test_errors_are_python_exceptions():
    with pytest.raises(ValueError, match="device"):
        pixtape.Analyzer(device="tpu")
    with pytest.raises(ValueError, match="mood"):
        pixtape.Recommender(CATALOG, mood="angry", device="cpu")
    with pytest.raises(ValueError, match="weight groups"):
        pixtape.Recommender(CATALOG, weights={"tempo": 1.0}, device="cpu")
    with pytest.raises(Exception, match="no-such"):
        pixtape.Recommender("/no-such/catalog.csv", device="cpu")
    with pytest.raises(Exception, match="no-such"):
        pixtape.analyze("/no-such/folder", device="cpu")


def test_schemas_name_every_table():
    s = pixtape._native.schemas()
    assert set(s) == {"images", "errors", "faces", "features", "recommendations"}
    assert "valence" in s["images"].schema.names
