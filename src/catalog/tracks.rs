//! What a catalog keeps of each track besides its vectors: its id, title,
//! artist, descriptor, location and genre in string arenas, its year and
//! tempo. The catalog holds one `TrackColumns`; so does each chunk a
//! placement worker fills, which the merge appends whole.

use super::TrackRef;

/// Strings of all tracks, one arena per field.
#[derive(Default, Debug)]
pub(super) struct StringColumn {
    pub data: String,
    pub ends: Vec<usize>,
}

impl StringColumn {
    pub fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.close();
    }
    /// Ends the string written into `data` since the last one.
    pub fn close(&mut self) {
        self.ends.push(self.data.len());
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// Appends all of `other`'s strings.
    fn extend(&mut self, other: &StringColumn) {
        let base = self.data.len();
        self.data.push_str(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }
    /// Room for `tracks` more strings of `bytes` in all.
    fn reserve(&mut self, tracks: usize, bytes: usize) {
        self.ends.reserve(tracks);
        self.data.reserve(bytes);
    }
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

/// Each track's identity, column by column.
#[derive(Default, Debug)]
pub(super) struct TrackColumns {
    pub ids: StringColumn,
    pub titles: StringColumn,
    pub artists: StringColumn,
    pub descriptors: StringColumn,
    /// Where each track's audio is (file path or URL), "" when unknown.
    pub locations: StringColumn,
    /// Each track's genre as the catalog names it, "" when it names none.
    pub genres: StringColumn,
    /// Year of release, 0 when unknown.
    pub years: Vec<u16>,
    /// Tempo in BPM, NaN when unknown.
    pub tempos: Vec<f32>,
}

impl TrackColumns {
    pub fn len(&self) -> usize {
        self.years.len()
    }

    pub fn get(&self, i: usize) -> TrackRef<'_> {
        TrackRef {
            id: self.ids.get(i),
            title: self.titles.get(i),
            artist: self.artists.get(i),
            descriptor: self.descriptors.get(i),
            location: self.locations.get(i),
            genre: self.genres.get(i),
            year: Some(self.years[i]).filter(|y| *y > 0),
            tempo: Some(self.tempos[i]).filter(|t| t.is_finite()),
        }
    }

    pub fn push(&mut self, track: TrackRef) {
        self.ids.push(track.id);
        self.titles.push(track.title);
        self.artists.push(track.artist);
        self.descriptors.push(track.descriptor);
        self.locations.push(track.location);
        self.genres.push(track.genre);
        self.years.push(track.year.unwrap_or(0));
        self.tempos.push(track.tempo.unwrap_or(f32::NAN));
    }

    /// Appends all of `other`'s tracks.
    pub fn extend(&mut self, other: &TrackColumns) {
        for (to, from) in self.texts_mut().into_iter().zip(other.texts()) {
            to.extend(from);
        }
        self.years.extend_from_slice(&other.years);
        self.tempos.extend_from_slice(&other.tempos);
    }

    /// Room for `tracks` more tracks, with `bytes` in all for each text
    /// column (in `texts` order).
    pub fn reserve(&mut self, tracks: usize, bytes: [usize; 6]) {
        for (column, bytes) in self.texts_mut().into_iter().zip(bytes) {
            column.reserve(tracks, bytes);
        }
        self.years.reserve(tracks);
        self.tempos.reserve(tracks);
    }

    /// The text columns: ids, titles, artists, descriptors, locations,
    /// genres (the order of an index file).
    pub fn texts(&self) -> [&StringColumn; 6] {
        [&self.ids, &self.titles, &self.artists, &self.descriptors, &self.locations, &self.genres]
    }

    fn texts_mut(&mut self) -> [&mut StringColumn; 6] {
        [
            &mut self.ids,
            &mut self.titles,
            &mut self.artists,
            &mut self.descriptors,
            &mut self.locations,
            &mut self.genres,
        ]
    }
}
