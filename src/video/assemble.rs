//! From a read film to its committed part, and from the parts to the run's
//! outputs. `write_part` scores a film (a playlist per scene, the film's
//! soundtrack) and writes every row it adds to the run's tables into the
//! parts folder, so the film (its keyframes included) can be dropped:
//! memory stays flat however many videos a run reads. `assemble` joins the
//! parts in listing order into the tables, the cue sheets and the report.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::atomic::write_atomic;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::Exposure;
use crate::run::output::{
    ERRORS_FILE, ErrorsWriter, RECOMMENDATIONS_FILE, REPORT_FILE, RecommendationsWriter, Severity, concat_parts,
    recommendations_schema,
};
use crate::video::output::{
    self, CUES_FILE, CUES_HEADER, EDL_DIR, SCENES_FILE, SOUNDTRACK_FILE, scenes_schema, soundtrack_schema,
};
use crate::video::parts::{DoneVideo, VideoParts};
use crate::video::read::Film;
use crate::video::{VideoSummary, report, soundtrack};

const EDL_PART: &str = "edl.edl";
const STRIP_PART: &str = "strip.html";

/// Scores `film` and writes its part (number `parts.next_part()`); returns
/// the journal line that commits it. `exposure` is the run's cap on how
/// many playlists a track is in (`--max-exposure`), applied in scene order.
pub fn write_part(
    film: &Film,
    parts: &VideoParts,
    recommender: &Recommender,
    exposure: Option<&mut Exposure>,
    report: bool,
) -> Result<DoneVideo> {
    let part = parts.next_part();
    let catalog = recommender.catalog();
    let mut recs = RecommendationsWriter::create(&parts.file(RECOMMENDATIONS_FILE, part))?;
    let analyses: Vec<_> = film.scenes.iter().map(|(_, m)| &m.analysis).collect();
    let mut exposure = exposure;
    for (i, ranked) in recommender.playlists(&analyses)?.into_iter().enumerate() {
        let playlist = match exposure.as_deref_mut() {
            Some(e) => e.apply(ranked),
            None => ranked,
        };
        recs.push_playlist(&film.image_id(i), &playlist, catalog)?;
    }
    let recommendations = recs.finish()?;
    let cues = soundtrack::soundtrack(film, recommender)?;
    output::write_scenes(&parts.file(SCENES_FILE, part), film)?;
    output::write_soundtrack(&parts.file(SOUNDTRACK_FILE, part), film, &cues, catalog)?;
    let rows = parts.file(CUES_FILE, part);
    write_atomic(&rows, &output::cue_rows(&rows, film, &cues, catalog)?)?;
    write_atomic(&parts.file(EDL_PART, part), output::edl(film, &cues, catalog).as_bytes())?;
    if report {
        write_atomic(&parts.file(STRIP_PART, part), report::strip(film, &cues, catalog).as_bytes())?;
    }
    Ok(DoneVideo {
        id: film.id.clone(),
        path: film.path.clone(),
        part,
        failure: None,
        warning: film.warning.clone(),
        scenes: film.scenes.len() as u64,
        recommendations,
        cues: cues.len() as u64,
        seconds: film.duration,
        decode_seconds: film.decode_seconds,
    })
}

/// Counts in `exposure` the tracks that the committed videos' playlists
/// picked, so that a resumed run caps as an uninterrupted one does.
pub fn record_committed(parts: &VideoParts, ids: &[String], catalog: &Catalog, exposure: &mut Exposure) -> Result<()> {
    let index = catalog.positions();
    for v in ids.iter().filter_map(|id| parts.get(id)).filter(|v| v.failure.is_none()) {
        let path = parts.file(RECOMMENDATIONS_FILE, v.part);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |e: &dyn std::fmt::Display| Error::input(&path, format!("a committed part does not read ({e})"));
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| bad(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| bad(&e))?;
            let tracks = batch
                .column_by_name("track_id")
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| bad(&"no track_id column"))?;
            for t in tracks.iter().flatten().filter_map(|id| index.get(id)) {
                exposure.record(*t as u32);
            }
        }
    }
    Ok(())
}

/// Joins the committed parts of `ids` (the run's videos, in listing order)
/// into `scenes.parquet`, `recommendations.parquet`, `soundtrack.parquet`,
/// `errors.parquet`, `cues.csv`, `cues/*.edl` and, when `report`,
/// `report.html`; fills the summary's counts and outputs.
pub fn assemble(
    out: &Path,
    ids: &[String],
    parts: &VideoParts,
    report: bool,
    summary: &mut VideoSummary,
) -> Result<()> {
    let videos: Vec<&DoneVideo> = ids
        .iter()
        .map(|id| parts.get(id).ok_or_else(|| Error::Config(format!("video {id:?} has no committed part"))))
        .collect::<Result<_>>()?;
    let read: Vec<&DoneVideo> = videos.iter().copied().filter(|v| v.failure.is_none()).collect();
    let files = |name: &str| read.iter().map(|v| parts.file(name, v.part)).collect::<Vec<_>>();
    concat_parts(&files(SCENES_FILE), scenes_schema(), &out.join(SCENES_FILE))?;
    summary.recommendations =
        concat_parts(&files(RECOMMENDATIONS_FILE), recommendations_schema(), &out.join(RECOMMENDATIONS_FILE))?;
    concat_parts(&files(SOUNDTRACK_FILE), soundtrack_schema(), &out.join(SOUNDTRACK_FILE))?;
    let mut cues = CUES_HEADER.as_bytes().to_vec();
    for f in files(CUES_FILE) {
        cues.extend(std::fs::read(&f).map_err(|e| Error::io(&f, e))?);
    }
    write_atomic(&out.join(CUES_FILE), &cues)?;
    if !read.is_empty() {
        std::fs::create_dir_all(out.join(EDL_DIR)).map_err(|e| Error::io(out.join(EDL_DIR), e))?;
    }
    summary.edls.clear();
    for v in &read {
        let src = parts.file(EDL_PART, v.part);
        let name = output::edl_name(&v.id, &summary.edls);
        write_atomic(&out.join(&name), &std::fs::read(&src).map_err(|e| Error::io(&src, e))?)?;
        summary.edls.push(name);
    }
    let mut errors = ErrorsWriter::create(&out.join(ERRORS_FILE))?;
    let mut failed = Vec::new();
    for v in &videos {
        if let Some((stage, reason)) = &v.failure {
            errors.push(Some(&v.id), &v.path, stage, Severity::Error, reason)?;
            failed.push((v.id.clone(), reason.clone()));
        } else if let Some(w) = &v.warning {
            errors.push(Some(&v.id), &v.path, crate::error::Stage::Decode.as_str(), Severity::Warning, w)?;
        }
    }
    errors.finish()?;
    summary.videos = videos.len() as u64;
    summary.failed = failed.len() as u64;
    summary.scenes = read.iter().map(|v| v.scenes).sum();
    summary.cues = read.iter().map(|v| v.cues).sum();
    // fold, not sum: an empty f64 sum is -0.0.
    summary.seconds = read.iter().fold(0.0, |s, v| s + v.seconds);
    if report {
        let mut html = report::head(read.len(), summary.scenes);
        for f in files(STRIP_PART) {
            html.push_str(&std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?);
        }
        html.push_str(&report::tail(&failed));
        let dest = out.join(REPORT_FILE);
        write_atomic(&dest, html.as_bytes())?;
        summary.report = Some(dest);
    } else {
        // A stale page of an earlier run would show other scenes.
        let _ = std::fs::remove_file(out.join(REPORT_FILE));
    }
    Ok(())
}
