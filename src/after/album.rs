//! Album: a set of photos to one playlist that follows them in order.
//!
//! 1. **Order.** Photos with an EXIF capture time come first, in time
//!    order; the rest follow in name order (ties by name).
//! 2. **Segment.** Neighbouring photos of like mood form a stretch: the two
//!    adjacent stretches whose merge adds least spread (Ward's criterion on
//!    the mood vectors) are merged while that cost is under `MERGE_COST`,
//!    and always while there are more stretches than tracks. Each stretch
//!    gets tracks in proportion to its photos (at least one; largest
//!    remainders), so each stretch of the playlist serves its photos.
//! 3. **Target.** A slot's target mood is interpolated between the mean
//!    moods of the stretches around it, anchored at each stretch's middle
//!    slot: the target glides from one stretch's mood to the next instead
//!    of jumping at the boundary.
//! 4. **Match and choose, in order** (`after::sequence`, shared with a
//!    video's soundtrack): every slot's target becomes a query, and slot by
//!    slot the best candidate not used yet whose arousal and tempo follow
//!    smoothly from the pick before is taken.

use std::path::Path;

use serde::Serialize;

use crate::after::finished::Image;
use crate::after::sequence;
pub use crate::after::sequence::{MAX_AROUSAL_STEP, TEMPO_PENALTY, track_arousal};
use crate::engine::mood::{self, MoodVector};
use crate::error::{Error, Result};
use crate::recommend::Recommender;

/// Ward merge cost under which neighbouring photos share a stretch.
pub const MERGE_COST: f32 = 0.05;

#[derive(Clone, Debug)]
pub struct AlbumSettings {
    /// Tracks in the album.
    pub length: usize,
}

/// One photo of the album, in album order.
#[derive(Clone, Debug, Serialize)]
pub struct AlbumPhoto {
    pub id: String,
    pub path: String,
    /// EXIF DateTimeOriginal (or DateTime), "YYYY:MM:DD HH:MM:SS".
    pub taken: Option<String>,
    #[serde(skip)]
    pub mood: MoodVector,
}

pub use crate::run::output::AlbumTrack;

/// A finished album.
#[derive(Clone, Debug, Serialize)]
pub struct Album {
    pub photos: Vec<AlbumPhoto>,
    /// (first, last) photo index of each stretch.
    pub stretches: Vec<(usize, usize)>,
    pub tracks: Vec<AlbumTrack>,
    /// "capture time", "name" or "capture time, then name".
    pub ordered_by: String,
}

/// The EXIF capture time of the file at `path`, if it has one.
pub fn capture_time(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = std::io::BufReader::new(file);
    let exif = exif::Reader::new().read_from_container(&mut reader).ok()?;
    for tag in [exif::Tag::DateTimeOriginal, exif::Tag::DateTimeDigitized, exif::Tag::DateTime] {
        if let Some(f) = exif.get_field(tag, exif::In::PRIMARY)
            && let exif::Value::Ascii(v) = &f.value
            && let Some(s) = v.first().and_then(|b| std::str::from_utf8(b).ok())
        {
            let s = s.trim();
            // "YYYY:MM:DD HH:MM:SS" sorts as it reads; blanks and zeros are "unknown".
            if s.len() >= 19 && s.as_bytes()[0].is_ascii_digit() && !s.starts_with("0000") {
                return Some(s[..19].to_string());
            }
        }
    }
    None
}

/// The run's images in album order, with their capture times.
pub fn order(images: &[Image]) -> (Vec<AlbumPhoto>, String) {
    let mut photos: Vec<AlbumPhoto> = images
        .iter()
        .map(|im| AlbumPhoto {
            id: im.id.clone(),
            path: im.path.clone(),
            taken: capture_time(Path::new(&im.path)),
            mood: im.mood,
        })
        .collect();
    photos.sort_by(|a, b| match (&a.taken, &b.taken) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| natural_cmp(&a.id, &b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => natural_cmp(&a.id, &b.id),
    });
    let timed = photos.iter().filter(|p| p.taken.is_some()).count();
    let by = match timed {
        0 => "name",
        t if t == photos.len() => "capture time",
        _ => "capture time, then name",
    };
    (photos, by.to_string())
}

/// Name order with digit runs compared as numbers: img2 before img10.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (m2, n2) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let o = m2.len().cmp(&n2.len()).then_with(|| m2.cmp(n2));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x.next();
                y.next();
            }
        }
    }
}

/// Contiguous stretches of photos, as (first, last) indices: Ward's
/// agglomeration restricted to neighbours.
pub fn segment(moods: &[MoodVector], max_stretches: usize) -> Vec<(usize, usize)> {
    struct S {
        first: usize,
        last: usize,
        n: f32,
        mean: MoodVector,
    }
    let mut s: Vec<S> = moods.iter().enumerate().map(|(i, m)| S { first: i, last: i, n: 1.0, mean: *m }).collect();
    let cost = |a: &S, b: &S| {
        let d2: f32 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
        a.n * b.n / (a.n + b.n) * d2
    };
    while s.len() > 1 {
        let (k, c) = (0..s.len() - 1)
            .map(|k| (k, cost(&s[k], &s[k + 1])))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f32::INFINITY));
        if c >= MERGE_COST && s.len() <= max_stretches.max(1) {
            break;
        }
        let b = s.remove(k + 1);
        let a = &mut s[k];
        let n = a.n + b.n;
        for (m, bm) in a.mean.iter_mut().zip(&b.mean) {
            *m = (*m * a.n + bm * b.n) / n;
        }
        a.n = n;
        a.last = b.last;
    }
    s.iter().map(|x| (x.first, x.last)).collect()
}

/// Tracks per stretch: proportional to its photos, at least one each,
/// `total` in all (largest remainders; `stretches.len() <= total`).
pub fn allocate(stretches: &[(usize, usize)], total: usize) -> Vec<usize> {
    let sizes: Vec<usize> = stretches.iter().map(|(a, b)| b - a + 1).collect();
    let photos: usize = sizes.iter().sum();
    let spare = total.saturating_sub(sizes.len());
    let exact: Vec<f64> = sizes.iter().map(|&n| spare as f64 * n as f64 / photos.max(1) as f64).collect();
    let mut out: Vec<usize> = exact.iter().map(|x| 1 + x.floor() as usize).collect();
    let mut left = total.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    for &i in order.iter().cycle().take(left.min(order.len() * 2)) {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

/// Each slot's target mood: stretch means, interpolated between the
/// middle slots of neighbouring stretches.
pub fn targets(means: &[MoodVector], slots: &[usize]) -> Vec<MoodVector> {
    let total: usize = slots.iter().sum();
    let mut centre = Vec::with_capacity(slots.len());
    let mut start = 0usize;
    for &n in slots {
        centre.push(start as f32 + (n as f32 - 1.0) / 2.0);
        start += n;
    }
    (0..total)
        .map(|p| {
            let p = p as f32;
            let k = centre.iter().rposition(|&c| c <= p).unwrap_or(0);
            if k + 1 >= centre.len() || p <= centre[0] {
                let k = if p <= centre[0] { 0 } else { k };
                return means[k];
            }
            let t = (p - centre[k]) / (centre[k + 1] - centre[k]);
            std::array::from_fn(|d| means[k][d] * (1.0 - t) + means[k + 1][d] * t)
        })
        .collect()
}

/// Builds the album of `images` (a run's analysed images).
pub fn build(images: &[Image], recommender: &Recommender, s: &AlbumSettings) -> Result<Album> {
    if images.is_empty() {
        return Err(Error::Config("an album needs at least one analysed photo".into()));
    }
    let catalog = recommender.catalog();
    let length = s.length.min(catalog.len()).max(1);
    let (photos, ordered_by) = order(images);
    let moods: Vec<MoodVector> = photos.iter().map(|p| p.mood).collect();
    let stretches = segment(&moods, length);
    let slots = allocate(&stretches, length);
    let means: Vec<MoodVector> = stretches
        .iter()
        .map(|&(a, b)| {
            let n = (b - a + 1) as f32;
            std::array::from_fn(|d| moods[a..=b].iter().map(|m| m[d]).sum::<f32>() / n)
        })
        .collect();
    let targets = targets(&means, &slots);
    let stretch_of: Vec<usize> = slots.iter().enumerate().flat_map(|(k, &n)| std::iter::repeat_n(k, n)).collect();
    let mut tracks: Vec<AlbumTrack> = Vec::with_capacity(length);
    for (p, c) in sequence::choose(recommender, &targets)?.into_iter().enumerate() {
        let t = catalog.track(c.track as usize);
        let (first, last) = stretches[stretch_of[p]];
        let served: Vec<String> = photos[first..=last].iter().map(|ph| ph.id.clone()).collect();
        let target = &targets[p];
        let label = mood::top_mood(target);
        let label_score = mood::dim(label).map_or(0.0, |d| target[d]);
        let mut explanation = format!("{} → {label} {label_score:.2}, arousal {:+.2}", photo_span(&served), target[1]);
        explanation.push_str(&c.note(catalog));
        tracks.push(AlbumTrack {
            position: (p + 1) as u16,
            track_id: t.id.to_string(),
            title: t.title.to_string(),
            artist: t.artist.to_string(),
            photos: served,
            score: c.score,
            arousal: c.arousal,
            tempo: t.tempo,
            target_arousal: target[1],
            explanation,
        });
    }
    Ok(Album { photos, stretches, tracks, ordered_by })
}

/// "a.jpg", "a.jpg, b.jpg" or "a.jpg … d.jpg (4 photos)".
fn photo_span(ids: &[String]) -> String {
    match ids {
        [] => String::new(),
        [a] => a.clone(),
        [a, b] => format!("{a}, {b}"),
        [a, .., z] => format!("{a} … {z} ({} photos)", ids.len()),
    }
}

/// The album for a person: a header and one line a track.
pub fn summary_lines(album: &Album) -> Vec<String> {
    let mut lines = vec![format!(
        "album: {} tracks for {} photos in {} stretches (ordered by {})",
        album.tracks.len(),
        album.photos.len(),
        album.stretches.len(),
        album.ordered_by
    )];
    for t in &album.tracks {
        let name = if t.title.is_empty() { &t.track_id } else { &t.title };
        let arousal = t.arousal.map_or("?".to_string(), |a| format!("{a:+.2}"));
        lines.push(format!(
            "  {:>2}. {} — {}  (arousal {arousal}, for {})",
            t.position,
            name,
            t.artist,
            photo_span(&t.photos)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut v = vec!["img10.jpg", "img2.jpg", "IMG1.jpg", "b.jpg", "a.jpg"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a.jpg", "b.jpg", "IMG1.jpg", "img2.jpg", "img10.jpg"]);
    }

    #[test]
    fn allocation_is_proportional_and_complete() {
        let s = [(0, 0), (1, 3), (4, 5)];
        let a = allocate(&s, 12);
        assert_eq!(a.iter().sum::<usize>(), 12);
        assert!(a.iter().all(|&n| n >= 1));
        assert!(a[1] > a[0] && a[1] > a[2], "{a:?}");
        assert_eq!(allocate(&[(0, 9)], 30), [30]);
        assert_eq!(allocate(&[(0, 0), (1, 1), (2, 2)], 3), [1, 1, 1]);
    }

    #[test]
    fn segments_follow_changes_of_mood() {
        let mut calm = [0.0f32; mood::NUM_DIMS];
        calm[1] = -0.8;
        let mut wild = [0.0f32; mood::NUM_DIMS];
        wild[1] = 0.8;
        let moods = [calm, calm, calm, wild, wild];
        assert_eq!(segment(&moods, 30), [(0, 2), (3, 4)]);
        // Never more stretches than tracks.
        let many: Vec<MoodVector> = (0..50).map(|i| if i % 2 == 0 { calm } else { wild }).collect();
        assert!(segment(&many, 10).len() <= 10);
    }

    #[test]
    fn targets_glide_between_stretches() {
        let mut a = [0.0f32; mood::NUM_DIMS];
        a[1] = -0.6;
        let mut b = a;
        b[1] = 0.6;
        let t = targets(&[a, b], &[5, 5]);
        let arousal: Vec<f32> = t.iter().map(|m| m[1]).collect();
        assert!(arousal.windows(2).all(|w| w[1] >= w[0] - 1e-6), "{arousal:?}");
        assert!((arousal[0] + 0.6).abs() < 1e-6 && (arousal[9] - 0.6).abs() < 1e-6);
        assert!(arousal.windows(2).all(|w| (w[1] - w[0]).abs() <= 0.25), "{arousal:?}");
    }
}
