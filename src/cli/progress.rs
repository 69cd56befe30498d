//! The progress bar the CLI draws while a run goes on (indicatif). It is
//! hidden when stderr is not a terminal or with `--quiet`.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pixtape::catalog::Catalog;
use pixtape::run::output::{IMAGES_FILE, RECOMMENDATIONS_FILE};
use pixtape::run::{Progress, RunSummary};

pub struct Bar {
    bar: ProgressBar,
    failed: AtomicU64,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(None, target);
        // indicatif's own `{per_sec}` prints `100.5301/s`; people read rates
        // as whole numbers with their unit.
        let style =
            ProgressStyle::with_template("{spinner} {bar:30} {human_pos}/{human_len} images  {rate}  ETA {eta}  {msg}")
                .map(|s| {
                    s.with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(state.per_sec(), "images"));
                    })
                })
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message("errors: 0");
        Bar { bar, failed: AtomicU64::new(0) }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn discovered(&self, total: u64, _complete: bool) {
        self.bar.set_length(total);
    }

    fn resumed(&self, done: u64) {
        self.bar.set_position(done);
        self.bar.reset_eta();
    }

    fn note(&self, line: &str) {
        if !self.bar.is_hidden() {
            self.bar.suspend(|| eprintln!("pixtape: {line}"));
        }
    }

    fn finished_one(&self, ok: bool) {
        if !ok {
            let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("errors: {n}"));
        }
        self.bar.inc(1);
    }
}

/// A rate as people read one: `100 images/s`, `2.4 images/s`, `0.31 images/s`.
pub fn rate(per_sec: f64, unit: &str) -> String {
    let digits = if per_sec >= 10.0 || per_sec == 0.0 {
        0
    } else if per_sec >= 1.0 {
        1
    } else {
        2
    };
    format!("{per_sec:.digits$} {unit}/s")
}

pub fn summary_line(s: &RunSummary) -> String {
    let c = &s.counts;
    if s.already_complete {
        return format!(
            "{} already holds this shard's complete run (same fingerprint, {} images): nothing to do",
            s.out.display(),
            c.images
        );
    }
    let resumed = match s.resumed.inputs {
        0 => String::new(),
        n => format!(" (resumed: {n} inputs were committed by an earlier attempt)"),
    };
    format!(
        "analysed {} images{resumed} in {:.1} s ({}) on {}; {} errors, {} warnings{}; wrote {}",
        c.images,
        s.wall_seconds,
        rate((c.images - s.resumed.images) as f64 / s.wall_seconds.max(1e-9), "images"),
        s.engine,
        c.errors,
        c.warnings,
        skipped(c),
        s.out.display(),
    )
}

/// What the folder walk passed over, if anything: `, 3 non-image files
/// skipped, 1 symbolic-link loop skipped`.
fn skipped(c: &pixtape::run::Counts) -> String {
    [
        (c.skipped_files, "non-image files"),
        (c.symlink_loops, "symbolic-link loops"),
        (c.folders_named_like_images, "folders named like images"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!(", {n} {what} skipped"))
    .collect()
}

pub fn catalog_line(c: &Catalog) -> String {
    let r = &c.report;
    let cols: Vec<String> = r.columns.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let range = r.va_range.as_ref().map_or(String::new(), |s| {
        format!("; valence/arousal scale {s}{}", if r.va_range_detected { " (detected)" } else { "" })
    });
    let mut line = format!(
        "catalog {}: {} tracks from {} rows in {:.1} s ({}); columns {}{range}",
        r.path,
        r.tracks,
        r.rows,
        r.load_seconds,
        r.sources.join(" + "),
        cols.join(", ")
    );
    match (&r.index, &r.cache, r.cached) {
        (Some(index), _, _) => line += &format!("; read from the index {index}"),
        (None, Some(_), true) => line += "; read from the catalog cache",
        (None, Some(entry), false) => line += &format!("; kept in the catalog cache for the next run ({entry})"),
        _ => {}
    }
    if r.rejected_rows + r.duplicate_ids + r.rows_without_mood > 0 {
        line += &format!(
            "; {} rows rejected, {} duplicate ids, {} without mood (see errors.parquet)",
            r.rejected_rows, r.duplicate_ids, r.rows_without_mood
        );
    }
    if r.unknown_tag_uses > 0 {
        let top: Vec<&str> = r.unknown_tags.iter().take(5).map(|(t, _)| t.as_str()).collect();
        line += &format!("; {} unknown tag uses (e.g. {})", r.unknown_tag_uses, top.join(", "));
    }
    line
}

/// The first playlists of a run, read back from its tables, for a person.
pub fn print_playlists(out: &Path) -> anyhow::Result<()> {
    let images = read(&out.join(IMAGES_FILE))?;
    let recs = read(&out.join(RECOMMENDATIONS_FILE))?;
    let text = |b: &RecordBatch, c: &str| -> Vec<String> {
        b.column_by_name(c)
            .map(|a| a.as_string::<i32>().iter().map(|v| v.unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    };
    let f32s = |b: &RecordBatch, c: &str| -> Vec<f32> {
        b.column_by_name(c).map(|a| a.as_primitive::<Float32Type>().values().to_vec()).unwrap_or_default()
    };
    let (ids, label, v, a) =
        (text(&images, "image_id"), text(&images, "mood_label"), f32s(&images, "valence"), f32s(&images, "arousal"));
    let (rid, title, artist, score) =
        (text(&recs, "image_id"), text(&recs, "title"), text(&recs, "artist"), f32s(&recs, "score"));
    let track = text(&recs, "track_id");
    let ranks: Vec<u16> =
        recs.column_by_name("rank").map(|c| c.as_primitive::<UInt16Type>().values().to_vec()).unwrap_or_default();
    for (i, id) in ids.iter().enumerate().take(12) {
        println!("{id}: {} (valence {:+.2}, arousal {:+.2})", label[i], v[i], a[i]);
        for j in (0..rid.len()).filter(|&j| rid[j] == *id && ranks[j] <= 3) {
            // A catalog without titles (MTG-Jamendo's) is named by track id.
            let name = if title[j].is_empty() { &track[j] } else { &title[j] };
            println!("  {}. {} — {}  ({:.2})", ranks[j], name, artist[j], score[j]);
        }
    }
    if ids.len() > 12 {
        println!("… {} more images; all playlists are in {}", ids.len() - 12, out.join(RECOMMENDATIONS_FILE).display());
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<RecordBatch> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?;
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build()?.collect::<Result<_, _>>()?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// What `learn` fitted, for a person: the feedback, the changes and the
/// held-out figures.
pub fn profile_lines(profile: &pixtape::learn::Profile) -> Vec<String> {
    use pixtape::engine::mood::{DIM_NAMES, Group, head::MoodHead};
    let mut lines: Vec<String> =
        profile.info.feedback.iter().map(|f| format!("{}: {} {}", f.path, f.rows, f.kind)).collect();
    if let Ok(bundled) = MoodHead::embedded()
        && *bundled != profile.head
    {
        let (b, p) = (bundled.bias(), profile.head.bias());
        lines.push(format!(
            "mood head adjusted: valence bias {:+.3}, arousal bias {:+.3} (what else, below)",
            p[0] - b[0],
            p[1] - b[1]
        ));
    }
    if let Some(w) = profile.weights {
        lines.push(format!(
            "weights: affect {:.3}, moods {:.3}, styles {:.3}, themes {:.3}",
            w.affect, w.moods, w.styles, w.themes
        ));
        let mut prefs: Vec<(&str, f32)> =
            Group::Styles.dims().zip(profile.style_bias).map(|(d, b)| (DIM_NAMES[d], b)).collect();
        prefs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let shown: Vec<String> = prefs.iter().take(4).map(|(s, b)| format!("{s} {b:+.3}")).collect();
        lines.push(format!("style preferences (score per unit share): {}", shown.join(", ")));
    }
    lines.extend(profile.info.held_out.iter().map(|l| format!("held out: {l}")));
    lines
}

/// Which shard a run is, and where the index came from.
pub fn shard_line(settings: &pixtape::run::AnalyzeSettings) -> Option<String> {
    settings.shard.as_ref().map(|s| {
        format!(
            "shard {} of {} (index from {}), writing {}",
            s.index,
            s.count,
            s.index_from,
            settings.out_dir().display()
        )
    })
}

/// `verify`'s verdict, for a person (and for `sbatch --array=`).
pub fn verify_lines(report: &pixtape::cluster::verify::Report) -> Vec<String> {
    let mut lines: Vec<String> = report.problems.iter().map(|p| format!("problem: {p}")).collect();
    if !report.missing.is_empty() {
        lines.push(format!(
            "missing: {} of {} shards have no complete run; rerun them with --array={}",
            report.missing.len(),
            report.shards,
            report.missing_array()
        ));
    }
    lines.push(if report.is_whole() {
        format!(
            "whole: {} shards, {} inputs ({} analysed, {} failed), each exactly once",
            report.shards, report.inputs, report.images, report.errors
        )
    } else {
        "not whole".to_string()
    });
    lines
}
