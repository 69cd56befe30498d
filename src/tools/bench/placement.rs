//! The catalog case of `pixtape bench`: placing a source catalog in the mood
//! space (what a user's first run on a new catalog pays, without the
//! catalog cache) from Parquet and CSV, and loading the index built from
//! it (what later runs and shards pay), in tracks per second. The peer for
//! the Parquet read is pyarrow's `read_table`
//! (`benches/peers/catalog_load.py`).

use super::cases::{count_name, tempdir};
use super::timing::{figure, runs};
use super::{Figure, Scale};
use crate::catalog::{self, CatalogOptions, index};
use crate::error::Result;

pub(super) fn catalog(scale: Scale, log: &dyn Fn(&str), figures: &mut Vec<Figure>) -> Result<()> {
    let tracks = match scale {
        Scale::Smoke => 2_000,
        Scale::Quick => 200_000,
        Scale::Full => 1_000_000,
    };
    let dir = tempdir()?;
    let name = count_name(tracks);
    for ext in ["parquet", "csv"] {
        log(&format!("catalog placement, {name} tracks, {ext}"));
        let path = dir.join(format!("catalog.{ext}"));
        catalog::synth::write(&path, tracks as u64, 3)?;
        let opts = CatalogOptions::new(&path);
        let secs = runs(scale, || catalog::load(&opts).map(drop))?;
        let case = format!("place a {name}-track {ext} source");
        figures.push(figure("catalog", case, "cpu", "tracks", tracks as f64, secs, None, None));
    }
    log(&format!("catalog index load, {name} tracks"));
    let mut opts = CatalogOptions::new(dir.join("catalog.parquet"));
    opts.keep_moods = true;
    let built = catalog::load(&opts)?;
    let index_path = dir.join("catalog.pxi");
    index::write_unsynced(&built, &index_path)?;
    drop(built);
    let secs = runs(scale, || catalog::load(&CatalogOptions::new(&index_path)).map(drop))?;
    figures.push(figure(
        "catalog",
        format!("load its index ({name} tracks)"),
        "cpu",
        "tracks",
        tracks as f64,
        secs,
        None,
        None,
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
