"""Ray Data and Spark, for real: a local Ray cluster (two CPUs) and a local
Spark session (local[2]) analyse and match a few hundred generated photos,
and their rows equal the command's. Skipped where Ray or pyspark (and Java)
are missing, unless PIXTAPE_REQUIRE_RAY / PIXTAPE_REQUIRE_SPARK is set."""

import os
import shutil
from functools import partial

import pyarrow as pa
import pytest

from conftest import CATALOG, assert_same, cli_tables


def need(module, flag):
    if os.environ.get(flag):
        return __import__(module)
    return pytest.importorskip(module)


def rows(generated):
    paths = sorted(str(p) for p in generated.iterdir())
    return [{"path": p, "id": os.path.basename(p)} for p in paths]


def test_ray_data_equals_the_command(generated, tmp_path):
    ray = need("ray", "PIXTAPE_REQUIRE_RAY")
    import pixtape.ray

    want = cli_tables(tmp_path, "recommend", generated, "--catalog", CATALOG)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.from_items(rows(generated))
        images = ds.map_batches(
            pixtape.ray.Analyzer, fn_constructor_kwargs={"device": "cpu", "threads": 1},
            batch_format="pyarrow", batch_size=64, concurrency=2).to_arrow_refs()
        images = pa.concat_tables(ray.get(images))
        picks = ds.map_batches(
            pixtape.ray.Recommender,
            fn_constructor_kwargs={"catalog": str(CATALOG), "device": "cpu", "threads": 1},
            batch_format="pyarrow", batch_size=64, concurrency=2).to_arrow_refs()
        picks = pa.concat_tables(ray.get(picks))
    finally:
        ray.shutdown()
    assert images.num_rows == 300, "the corrupt file is left out"
    assert_same(images, want["images"], sort=[("image_id", "ascending")])
    # The command caps each track's exposure over the whole run only when
    # asked (--max-exposure); playlists are per picture, so batches agree.
    assert_same(picks, want["recommendations"], sort=[("image_id", "ascending"), ("rank", "ascending")])


def test_spark_equals_the_command(generated, tmp_path):
    need("pyspark", "PIXTAPE_REQUIRE_SPARK")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        if os.environ.get("PIXTAPE_REQUIRE_SPARK"):
            pytest.fail("PIXTAPE_REQUIRE_SPARK is set but there is no Java")
        pytest.skip("no Java for Spark")
    from pyspark.sql import SparkSession

    import pixtape.spark as ps

    want = cli_tables(tmp_path, "recommend", generated, "--catalog", CATALOG)
    spark = (SparkSession.builder.master("local[2]").appName("pixtape-test")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "64")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        df = spark.createDataFrame([(r["path"], r["id"]) for r in rows(generated)], "path string, id string")
        df = df.repartition(2)
        images = df.mapInArrow(partial(ps.analyze_batches, device="cpu", threads=1), ps.images_schema())
        picks = df.mapInArrow(partial(ps.recommend_batches, catalog=str(CATALOG), device="cpu", threads=1),
                              ps.recommendations_schema())
        images, picks = images.toArrow(), picks.toArrow()
    finally:
        spark.stop()
    assert images.num_rows == 300
    # Spark has no unsigned integers: compare values, with the command's
    # columns cast as the adapter documents.
    signed = lambda t: t.cast(pa.schema([pa.field(f.name, ps._signed(f.type), f.nullable) for f in t.schema]))
    assert_same(images, signed(want["images"]), sort=[("image_id", "ascending")])
    assert_same(picks, signed(want["recommendations"]), sort=[("image_id", "ascending"), ("rank", "ascending")])
