//! Playlist files people can play: M3U8, XSPF and JSPF, one per image (and
//! one per album), written from a finished run's picks.
//!
//! A track's location is the catalog's location column (a file path or a
//! URL); a relative path is joined to `audio_root` when one is given. A
//! track without a location is still listed by title, artist and id:
//! XSPF and JSPF carry the id as an `identifier` URI
//! (`urn:pixtape:track:ID`); M3U, which has no entry without a location,
//! gets the id on the location line, for a tool that maps ids to files.
//!
//! Files go to `OUT/playlists/`, named after the image id with anything but
//! letters, digits, `.`, `-` and `_` replaced (and, then, a short hash of
//! the id added, so two ids never share a file). The folder is written
//! whole under a temporary name and renamed into place.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The folder of a run's playlist files.
pub const PLAYLISTS_DIR: &str = "playlists";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    M3u8,
    Xspf,
    Jspf,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "m3u8" | "m3u" => Some(Format::M3u8),
            "xspf" => Some(Format::Xspf),
            "jspf" => Some(Format::Jspf),
            _ => None,
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::M3u8 => "m3u8",
            Format::Xspf => "xspf",
            Format::Jspf => "jspf",
        }
    }
}

/// One entry of a playlist file.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub artist: String,
    /// Path or URL of the audio, "" when unknown.
    pub location: String,
    /// Why it was chosen (an annotation in XSPF and JSPF).
    pub annotation: String,
}

/// A playlist to write: its title and entries.
pub struct Playlist {
    pub title: String,
    pub annotation: String,
    pub entries: Vec<Entry>,
}

/// Where a location points, as a URI for XSPF/JSPF: URLs as they are,
/// paths as `file://` URIs (absolute) or relative references, both
/// percent-encoded.
pub fn location_uri(location: &str) -> String {
    if has_scheme(location) {
        return location.to_string();
    }
    let encoded = percent_encode(location, true);
    if location.starts_with('/') { format!("file://{encoded}") } else { encoded }
}

/// "scheme:" as RFC 3986 has it (and not a Windows drive letter).
fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i >= 2 => {
            let scheme = &s[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        _ => false,
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (and `/` when
/// `keep_slash`).
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes text for XML and HTML content and attribute values; drops the
/// control characters XML 1.0 cannot hold.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn identifier(id: &str) -> String {
    format!("urn:pixtape:track:{}", percent_encode(id, false))
}

/// One line of M3U text: no line breaks inside.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The playlist in `format`, as text.
pub fn render(p: &Playlist, format: Format) -> String {
    match format {
        Format::M3u8 => {
            let mut s = format!("#EXTM3U\n#PLAYLIST:{}\n", one_line(&p.title));
            for e in &p.entries {
                let name = match (e.artist.is_empty(), e.title.is_empty()) {
                    (_, true) => e.id.clone(),
                    (true, false) => e.title.clone(),
                    (false, false) => format!("{} - {}", e.artist, e.title),
                };
                let loc = if e.location.is_empty() { &e.id } else { &e.location };
                let _ = writeln!(s, "#EXTINF:-1,{}\n{}", one_line(&name), one_line(loc));
            }
            s
        }
        Format::Xspf => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            s.push_str("<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n");
            let _ = writeln!(s, "  <title>{}</title>", escape(&p.title));
            let _ = writeln!(s, "  <creator>pixtape {}</creator>", env!("CARGO_PKG_VERSION"));
            if !p.annotation.is_empty() {
                let _ = writeln!(s, "  <annotation>{}</annotation>", escape(&p.annotation));
            }
            s.push_str("  <trackList>\n");
            for e in &p.entries {
                s.push_str("    <track>\n");
                if !e.location.is_empty() {
                    let _ = writeln!(s, "      <location>{}</location>", escape(&location_uri(&e.location)));
                }
                let _ = writeln!(s, "      <identifier>{}</identifier>", escape(&identifier(&e.id)));
                if !e.title.is_empty() {
                    let _ = writeln!(s, "      <title>{}</title>", escape(&e.title));
                }
                if !e.artist.is_empty() {
                    let _ = writeln!(s, "      <creator>{}</creator>", escape(&e.artist));
                }
                if !e.annotation.is_empty() {
                    let _ = writeln!(s, "      <annotation>{}</annotation>", escape(&e.annotation));
                }
                s.push_str("    </track>\n");
            }
            s.push_str("  </trackList>\n</playlist>\n");
            s
        }
        Format::Jspf => {
            let tracks: Vec<serde_json::Value> = p
                .entries
                .iter()
                .map(|e| {
                    let mut t = serde_json::Map::new();
                    if !e.location.is_empty() {
                        t.insert("location".into(), serde_json::json!([location_uri(&e.location)]));
                    }
                    t.insert("identifier".into(), serde_json::json!([identifier(&e.id)]));
                    if !e.title.is_empty() {
                        t.insert("title".into(), e.title.clone().into());
                    }
                    if !e.artist.is_empty() {
                        t.insert("creator".into(), e.artist.clone().into());
                    }
                    if !e.annotation.is_empty() {
                        t.insert("annotation".into(), e.annotation.clone().into());
                    }
                    serde_json::Value::Object(t)
                })
                .collect();
            let mut pl = serde_json::Map::new();
            pl.insert("title".into(), p.title.clone().into());
            pl.insert("creator".into(), format!("pixtape {}", env!("CARGO_PKG_VERSION")).into());
            if !p.annotation.is_empty() {
                pl.insert("annotation".into(), p.annotation.clone().into());
            }
            pl.insert("track".into(), tracks.into());
            let mut s = serde_json::to_string_pretty(&serde_json::json!({ "playlist": pl })).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

/// A file name for `id`: safe characters kept, and when anything had to be
/// replaced (or the name would be empty or hidden) a hash of the id added.
pub fn file_stem(id: &str) -> String {
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).take(120).collect();
    if safe == id && !id.is_empty() && !id.starts_with(['.', '_']) {
        return safe;
    }
    let h = Sha256::digest(id.as_bytes());
    let hex: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", safe.trim_start_matches('.'))
}

/// Joins a relative location to `root` (a folder or a URL prefix).
pub fn rooted(location: &str, root: Option<&str>) -> String {
    match root {
        Some(r) if !location.is_empty() && !has_scheme(location) && !location.starts_with('/') => {
            format!("{}/{}", r.trim_end_matches('/'), location)
        }
        _ => location.to_string(),
    }
}

/// Writes each playlist in each format into `OUT/playlists/`, replacing
/// what an earlier export left there. Returns the files written.
pub fn write_all(out: &Path, playlists: &[(String, Playlist)], formats: &[Format]) -> Result<Vec<PathBuf>> {
    let dest = out.join(PLAYLISTS_DIR);
    let tmp = out.join(format!(".{PLAYLISTS_DIR}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut written = Vec::new();
    for (stem, p) in playlists {
        for f in formats {
            let name = format!("{stem}.{}", f.extension());
            std::fs::write(tmp.join(&name), render(p, *f)).map_err(|e| Error::io(&tmp.join(&name), e))?;
            written.push(dest.join(name));
        }
    }
    for entry in std::fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
        let path = entry.map_err(|e| Error::io(&tmp, e))?.path();
        if let Ok(f) = std::fs::File::open(&path) {
            f.sync_all().map_err(|e| Error::io(&path, e))?;
        }
    }
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    }
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_become_uris() {
        assert_eq!(location_uri("https://x.org/a b.mp3"), "https://x.org/a b.mp3");
        assert_eq!(location_uri("/music/a b/é.mp3"), "file:///music/a%20b/%C3%A9.mp3");
        assert_eq!(location_uri("48/948.mp3"), "48/948.mp3");
        assert_eq!(location_uri("C:/music/x.mp3"), "C%3A/music/x.mp3");
        assert_eq!(rooted("48/948.mp3", Some("/data/jamendo/")), "/data/jamendo/48/948.mp3");
        assert_eq!(rooted("https://x/a.mp3", Some("/data")), "https://x/a.mp3");
    }

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(file_stem("beach_01.jpg"), "beach_01.jpg");
        let a = file_stem("a/b.jpg");
        let b = file_stem("a_b.jpg");
        assert_ne!(a, b);
        assert!(a.starts_with("a_b.jpg-"), "{a}");
        assert!(!file_stem("..").starts_with('.'));
        assert!(!file_stem("\"><img src=x>.jpg").contains(['<', '>', '"', '/']));
    }
}
