//! Versions of one song: the live take, the 2011 remaster, the radio edit
//! and the "feat." re-release share a key, so a playlist holds one of them.
//!
//! What users of playlist generators complain about most is the same song
//! three times. Catalogs rarely link versions, so the key is made from the
//! names: the title without the brackets or dash-suffixes that name a
//! version, and without featured artists; the artist without its featured
//! ones; both lower-cased with punctuation dropped. A remix is kept apart:
//! it is usually a different piece of music. An empty title never matches.

use std::collections::HashMap;

/// Words that mark a bracket or a " - " suffix as naming a version.
const VERSION_WORDS: [&str; 18] = [
    "live",
    "remaster",
    "remastered",
    "edit",
    "version",
    "mono",
    "stereo",
    "demo",
    "acoustic",
    "unplugged",
    "explicit",
    "clean",
    "bonus",
    "deluxe",
    "anniversary",
    "instrumental",
    "session",
    "take",
];

/// Words that start a featured-artist credit.
const FEATURING: [&str; 5] = ["feat", "feat.", "ft", "ft.", "featuring"];

/// A track's song key and, if its name marks it as a version, what kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub key: String,
    /// "live", "remastered", "radio edit", "feat." ...: the first version
    /// marking found, for explanations.
    pub kind: Option<String>,
}

/// The song key of a title and artist, or `None` for an empty title.
pub fn version(title: &str, artist: &str) -> Option<Version> {
    let (base, kind) = strip_title(title);
    let base = words(&base);
    if base.is_empty() {
        return None;
    }
    Some(Version { key: format!("{}\u{1f}{}", base, words(&primary_artist(artist))), kind })
}

/// The title without version brackets, version suffixes and featured
/// artists, and the first version marking it had.
fn strip_title(title: &str) -> (String, Option<String>) {
    let mut kind: Option<String> = None;
    let mut note = |k: &str| {
        if kind.is_none() {
            kind = Some(k.to_string());
        }
    };
    // Brackets: "(Live at Wembley)", "[Remastered 2011]", "(feat. X)".
    let mut out = String::with_capacity(title.len());
    let mut rest = title;
    while let Some(open) = rest.find(['(', '[', '{']) {
        let close_ch = match rest.as_bytes()[open] {
            b'(' => ')',
            b'[' => ']',
            _ => '}',
        };
        let Some(len) = rest[open + 1..].find(close_ch) else { break };
        let inner = &rest[open + 1..open + 1 + len];
        match marking(inner) {
            Some(k) => {
                out.push_str(&rest[..open]);
                note(&k);
            }
            None => out.push_str(&rest[..open + 1 + len + 1]),
        }
        rest = &rest[open + 1 + len + 1..];
    }
    out.push_str(rest);
    // Dash suffixes: "Song - Remastered 2009", "Song - Live", "Song - Radio Edit".
    let mut title = out;
    for sep in [" - ", " – ", " — "] {
        if let Some(at) = title.find(sep)
            && let Some(k) = marking(&title[at + sep.len()..])
        {
            note(&k);
            title.truncate(at);
        }
    }
    // A bare "Song feat. X".
    if let Some(at) = featuring_at(&title) {
        note("feat.");
        title.truncate(at);
    }
    (title, kind)
}

/// What version a bracket's or suffix's text names, if it names one.
fn marking(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric() && c != '.').filter(|t| !t.is_empty()).collect();
    if tokens.first().is_some_and(|t| FEATURING.contains(t) || *t == "with") {
        return Some("feat.".into());
    }
    if tokens.iter().any(|t| t.trim_end_matches('.') == "remix" || *t == "mix") {
        return None;
    }
    let found: Vec<&str> = tokens
        .iter()
        .map(|t| t.trim_end_matches('.'))
        .filter(|t| VERSION_WORDS.contains(t) || t.starts_with("remaster"))
        .collect();
    let first = *found.first()?;
    Some(match first {
        "edit" if tokens.contains(&"radio") => "radio edit".into(),
        t if t.starts_with("remaster") => "remastered".into(),
        "version" => {
            tokens.iter().take_while(|t| **t != "version").last().map_or("version".into(), |w| format!("{w} version"))
        }
        t => t.to_string(),
    })
}

/// Byte offset of a " feat. X" / " ft. X" / " featuring X" credit.
fn featuring_at(s: &str) -> Option<usize> {
    let lower = s.to_lowercase();
    FEATURING.iter().filter_map(|f| lower.find(&format!(" {f} "))).min().filter(|at| *at > 0 && s.is_char_boundary(*at))
}

/// The artist without the artists it features.
fn primary_artist(artist: &str) -> String {
    let (stripped, _) = strip_title(artist);
    let lower = stripped.to_lowercase();
    let cut = [" x ", " with "].iter().filter_map(|w| lower.find(w)).min();
    match cut {
        Some(at) if stripped.is_char_boundary(at) => stripped[..at].to_string(),
        _ => stripped,
    }
}

/// Lower-cased alphanumeric words joined by single spaces; "&" and "and"
/// are one word.
fn words(s: &str) -> String {
    let lower = s.to_lowercase().replace('&', " and ");
    lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Candidates with one version per song: the first (best-scoring, as
/// candidates come best first) of each key, and for each kept one how many
/// versions it stands for. `name` gives a candidate's title and artist.
pub fn collapse<T: Copy>(items: &[T], name: impl Fn(&T) -> (String, String)) -> (Vec<T>, Vec<usize>) {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    let mut counts: Vec<usize> = Vec::with_capacity(items.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let (title, artist) = name(item);
        match version(&title, &artist) {
            Some(v) => match at.get(&v.key) {
                Some(&k) => counts[k] += 1,
                None => {
                    at.insert(v.key, kept.len());
                    kept.push(*item);
                    counts.push(1);
                }
            },
            None => {
                kept.push(*item);
                counts.push(1);
            }
        }
    }
    (kept, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str, a: &str) -> String {
        version(t, a).unwrap().key
    }

    #[test]
    fn versions_of_one_song_share_a_key() {
        let k = key("Heroes", "David Bowie");
        for (t, a) in [
            ("Heroes (Live)", "David Bowie"),
            ("Heroes - 2017 Remaster", "David Bowie"),
            ("Heroes [Remastered 2011]", "David Bowie"),
            ("\"Heroes\" - Single Version", "David Bowie"),
            ("Heroes (Radio Edit)", "DAVID BOWIE"),
            ("Heroes feat. Someone", "David Bowie"),
            ("Heroes (feat. Someone Else)", "David Bowie ft. Another"),
            ("Heroes - Live at Wembley, 1987", "David Bowie"),
        ] {
            assert_eq!(key(t, a), k, "{t} / {a}");
        }
        assert_eq!(version("Heroes (Live)", "x").unwrap().kind.as_deref(), Some("live"));
        assert_eq!(version("Heroes - 2017 Remaster", "x").unwrap().kind.as_deref(), Some("remastered"));
        assert_eq!(version("Heroes (Radio Edit)", "x").unwrap().kind.as_deref(), Some("radio edit"));
        assert_eq!(version("Heroes - Single Version", "x").unwrap().kind.as_deref(), Some("single version"));
        assert_eq!(version("Heroes", "x").unwrap().kind, None);
    }

    #[test]
    fn different_songs_and_remixes_stay_apart() {
        let k = key("Heroes", "David Bowie");
        assert_ne!(key("Heroes (Tiësto Remix)", "David Bowie"), k);
        assert_ne!(key("Heroes", "Peter Gabriel"), k);
        assert_ne!(key("Heroes and Villains", "David Bowie"), k);
        // Brackets that are part of the title are kept.
        assert_ne!(key("(Sittin' On) The Dock of the Bay", "Otis Redding"), key("The Dock of the Bay", "Otis Redding"));
        assert_eq!(version("", "Anyone"), None);
        assert_eq!(version("(Live)", "Anyone"), None);
    }

    #[test]
    fn collapse_keeps_the_first_of_each_song() {
        let items = [("A (Live)", 0.9), ("B", 0.8), ("A", 0.7), ("", 0.6), ("", 0.5), ("A - Radio Edit", 0.4)];
        let (kept, counts) = collapse(&items, |(t, _)| (t.to_string(), "X".into()));
        assert_eq!(kept.iter().map(|(t, _)| *t).collect::<Vec<_>>(), ["A (Live)", "B", "", ""]);
        assert_eq!(counts, [3, 1, 1, 1]);
    }
}
