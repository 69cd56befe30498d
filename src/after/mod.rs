//! What runs after a run's playlists are written: coverage, the album,
//! playlist files and the HTML report. Each reads the finished run back
//! from its folder (`run::FinishedRun`), so it sees exactly what was
//! committed, whether the run was just made, resumed or found complete.

pub mod album;
pub mod coverage;
pub mod export;
pub mod finished;
pub mod report;
pub mod sequence;

use std::path::{Path, PathBuf};

use crate::after::album::{Album, AlbumSettings};
use crate::after::coverage::Coverage;
use crate::after::export::{Entry, Format, Playlist};
use crate::after::finished::FinishedRun;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::recommend::Recommender;
use crate::run::output::{ALBUM_FILE, RECOMMENDATIONS_FILE, write_album};

#[derive(Clone, Debug, Default)]
pub struct AfterSettings {
    pub album: Option<AlbumSettings>,
    pub export: Vec<Format>,
    /// Prefix of the catalog's relative audio locations.
    pub audio_root: Option<String>,
    pub report: bool,
}

/// What was made.
pub struct AfterSummary {
    pub coverage: Coverage,
    pub album: Option<Album>,
    pub exported: Vec<PathBuf>,
    pub report: Option<PathBuf>,
}

/// Coverage (always), then the album, playlist files and report as asked,
/// for the finished run in `out`.
pub fn finish(out: &Path, recommender: &Recommender, s: &AfterSettings) -> Result<AfterSummary> {
    let catalog = recommender.catalog();
    // Coverage streams the picks; only the stages asked for read the run.
    let coverage = coverage::measure_file(&out.join(RECOMMENDATIONS_FILE), catalog)?;
    coverage::write(out, &coverage)?;
    if s.album.is_none() && s.export.is_empty() && !s.report {
        return Ok(AfterSummary { coverage, album: None, exported: Vec::new(), report: None });
    }
    let run = FinishedRun::read(out)?;
    let album = match &s.album {
        Some(a) => {
            let album = album::build(&run.images, recommender, a)?;
            write_album(&out.join(ALBUM_FILE), &album.tracks)?;
            Some(album)
        }
        None => None,
    };
    let exported = match s.export.is_empty() {
        true => Vec::new(),
        false => export::write_all(out, &playlists(&run, album.as_ref(), catalog, s.audio_root.as_deref()), &s.export)?,
    };
    let report = match s.report {
        true => Some(crate::after::report::write(out, Some(catalog))?),
        false => None,
    };
    Ok(AfterSummary { coverage, album, exported, report })
}

/// One playlist per image (named after it) and one for the album.
fn playlists(
    run: &FinishedRun,
    album: Option<&Album>,
    catalog: &Catalog,
    root: Option<&str>,
) -> Vec<(String, Playlist)> {
    let index = catalog.positions();
    let entry = |id: &str, title: &str, artist: &str, why: &str| Entry {
        id: id.to_string(),
        title: title.to_string(),
        artist: artist.to_string(),
        location: index.get(id).map_or(String::new(), |&i| export::rooted(catalog.track(i).location, root)),
        annotation: why.to_string(),
    };
    let by_image = run.playlists();
    let mut out: Vec<(String, Playlist)> = run
        .images
        .iter()
        .filter_map(|im| by_image.get(im.id.as_str()).map(|picks| (im, picks)))
        .map(|(im, picks)| {
            let entries = picks.iter().map(|p| entry(&p.track_id, &p.title, &p.artist, &p.explanation)).collect();
            let annotation = format!("{} (valence {:+.2}, arousal {:+.2})", im.mood_label, im.mood[0], im.mood[1]);
            (export::file_stem(&im.id), Playlist { title: format!("pixtape: {}", im.id), annotation, entries })
        })
        .collect();
    if let Some(a) = album {
        let entries = a.tracks.iter().map(|t| entry(&t.track_id, &t.title, &t.artist, &t.explanation)).collect();
        let annotation = format!("{} photos, ordered by {}", a.photos.len(), a.ordered_by);
        // A leading '_' keeps it apart from any image's file.
        out.push(("_album".into(), Playlist { title: "pixtape: album".into(), annotation, entries }));
    }
    out
}
