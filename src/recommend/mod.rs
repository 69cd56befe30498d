//! Recommend: from an image's analysis to its playlist, in one place.
//!
//! `Recommender` owns the chain the pipeline, `inspect`, the tests and the
//! benches share: the image's mood, moved by the mood mode, becomes a query
//! vector; the matcher finds its exact top candidates in the catalog; the
//! playlist stage re-ranks them into a diverse, explained playlist.
//!
//! Query vectors are built with the weights the catalog's track vectors
//! were built with (`Catalog::weights`), never with weights of their own:
//! with two sources of weights, a caller who set one and not the other got
//! silently wrong scores.

pub mod playlist;
pub mod profile;
pub mod versions;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::engine::analysis::{Analysis, FACE_EFFECT_NAMED};
use crate::engine::backend::Backend;
use crate::engine::faces;
use crate::engine::mood::{self, MoodMode, MoodVector, SimVector, Weights};
use crate::engine::similarity::Matcher;
use crate::error::Result;
use crate::recommend::playlist::{Pick, PlaylistSettings};
use crate::recommend::profile::{Profile, STYLES};

/// A catalog, a matcher over it, a mood mode and playlist settings.
pub struct Recommender<'a> {
    catalog: &'a Catalog,
    matcher: Box<dyn Matcher + 'a>,
    mode: MoodMode,
    playlist: PlaylistSettings,
    notice: Option<String>,
    /// A profile's style preferences, as a shift of the query's style
    /// components (`Profile::query_shift`).
    style_shift: Option<[f32; STYLES]>,
    style_bias: Option<[f32; STYLES]>,
    /// Each track's hubness, when the hub counter is on.
    hubness: Option<Vec<f32>>,
}

/// One image's query: the mood it asks for and its similarity vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The image's mood after the mood mode.
    pub target: MoodVector,
    pub vector: SimVector,
}

/// What a recommender did, for the manifest.
#[derive(Serialize)]
pub struct RecommendReport<'a> {
    pub catalog: &'a crate::catalog::CatalogReport,
    pub matcher: String,
    pub mood_mode: &'a str,
    /// The group weights of both the track and the query vectors.
    pub weights: Weights,
    pub playlist_length: usize,
    pub per_artist: usize,
    pub relevance_lambda: f32,
    pub candidates: usize,
    /// A profile's preference per style, added to each track's score in
    /// proportion to its share of the style.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_preferences: Option<Vec<(&'static str, f32)>>,
    /// β of the hub counter (0: off).
    pub hub_penalty: f32,
    /// Most playlists one track may be in (0: no cap).
    pub max_exposure: u32,
}

impl<'a> Recommender<'a> {
    /// A recommender over `catalog`, matching where `backend` runs.
    pub fn new(backend: &'a Backend, catalog: &'a Catalog, mode: MoodMode, playlist: PlaylistSettings) -> Result<Self> {
        let (matcher, notice) = backend.matcher(catalog.matrix(), playlist.candidates())?;
        let mut r = Recommender {
            catalog,
            matcher,
            mode,
            playlist,
            notice,
            style_shift: None,
            style_bias: None,
            hubness: None,
        };
        if playlist.hub_penalty > 0.0 {
            let probes: Vec<SimVector> = mood::class_table().iter().map(|m| r.query(m).vector).collect();
            r.hubness = Some(hubness(r.matcher.as_ref(), catalog, &probes, playlist.candidates())?);
        }
        Ok(r)
    }

    /// Applies a profile's style preferences to every query. Its weights
    /// are the catalog's business (`CatalogOptions::weights`), its head the
    /// model's.
    pub fn with_profile(mut self, profile: &Profile) -> Self {
        self.style_shift = profile.query_shift(&self.catalog.weights());
        self.style_bias = self.style_shift.map(|_| profile.style_bias);
        if self.hubness.is_some() {
            // The probes are queries: they move with the profile's preferences.
            let probes: Vec<SimVector> = mood::class_table().iter().map(|m| self.query(m).vector).collect();
            // On a matcher failure the estimate without the profile stays.
            if let Ok(h) = hubness(self.matcher.as_ref(), self.catalog, &probes, self.playlist.candidates()) {
                self.hubness = Some(h);
            }
        }
        self
    }

    /// Said when the matcher is not where the backend runs (say, a `k`
    /// too long for the GPU kernel).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn settings(&self) -> &PlaylistSettings {
        &self.playlist
    }

    /// The matcher, for stages that query the catalog themselves (album).
    pub fn matcher(&self) -> &dyn Matcher {
        self.matcher.as_ref()
    }

    /// Each track's hubness, when the hub counter is on.
    pub fn hubness(&self) -> Option<&[f32]> {
        self.hubness.as_deref()
    }

    pub fn catalog(&self) -> &'a Catalog {
        self.catalog
    }

    pub fn mode(&self) -> MoodMode {
        self.mode
    }

    /// The similarity's group weights: the catalog's.
    pub fn weights(&self) -> Weights {
        self.catalog.weights()
    }

    /// The query for an image of mood `mood`.
    pub fn query(&self, mood: &MoodVector) -> Query {
        let target = self.mode.apply(mood);
        let mut vector = mood::sim_vector(&target, mood::Groups::ALL, &self.catalog.weights(), false);
        if let Some(shift) = &self.style_shift {
            for (d, s) in mood::Group::Styles.dims().zip(shift) {
                vector[d] += s;
            }
        }
        Query { target, vector }
    }

    /// One playlist per image, from one matcher call for the whole batch.
    /// With an exposure cap each holds `PlaylistSettings::ranked` picks,
    /// for `playlist::Exposure` to cut in input order.
    pub fn playlists(&self, images: &[&Analysis]) -> Result<Vec<Vec<Pick>>> {
        let ranked = PlaylistSettings { length: self.playlist.ranked(), ..self.playlist };
        let queries: Vec<Query> = images.iter().map(|a| self.query(&a.mood)).collect();
        let vectors: Vec<SimVector> = queries.iter().map(|q| q.vector).collect();
        let hits = self.matcher.top_k(&vectors, self.playlist.candidates())?;
        Ok(queries
            .iter()
            .zip(images)
            .zip(&hits)
            .map(|((q, a), h)| {
                let hubness = self.hubness.as_deref();
                playlist::build(&q.vector, &q.target, &why(a), h, self.catalog, &ranked, hubness)
            })
            .collect())
    }

    /// One image's playlist (an exposure cap, which is a run's, does not
    /// apply to one image).
    pub fn playlist(&self, analysis: &Analysis) -> Result<Vec<Pick>> {
        let mut p = self.playlists(&[analysis])?.pop().unwrap_or_default();
        p.truncate(self.playlist.length);
        Ok(p)
    }

    /// The settings and the catalog, as the manifest records them.
    pub fn report(&self) -> RecommendReport<'_> {
        RecommendReport {
            catalog: &self.catalog.report,
            matcher: self.matcher.describe(),
            mood_mode: self.mode.as_str(),
            weights: self.catalog.weights(),
            playlist_length: self.playlist.length,
            per_artist: self.playlist.per_artist,
            relevance_lambda: self.playlist.relevance,
            candidates: self.playlist.candidates(),
            style_preferences: self
                .style_bias
                .map(|b| mood::Group::Styles.dims().zip(b).map(|(d, v)| (mood::DIM_NAMES[d], v)).collect()),
            hub_penalty: self.playlist.hub_penalty,
            max_exposure: self.playlist.max_exposure,
        }
    }
}

/// Each track's hubness: ln(1 + N), where N is how many of the 1,000
/// ImageNet classes' moods (`mood::image::class_table`, the semantic moods
/// pictures are mixed from) have the track among their `k` best. In a
/// high-dimensional space some tracks sit near the middle of everything and
/// come up for every picture (Radovanović et al. 2010); counting how often
/// a track answers the queries pictures are made of finds them without any
/// picture, the same for every shard of a run, for 1,000 queries once.
pub fn hubness(matcher: &dyn Matcher, catalog: &Catalog, probes: &[SimVector], k: usize) -> Result<Vec<f32>> {
    let mut occurrences = vec![0u32; catalog.len()];
    for hits in matcher.top_k(probes, k)? {
        for h in hits {
            occurrences[h.track as usize] += 1;
        }
    }
    Ok(occurrences.iter().map(|&o| (1.0 + o as f32).ln()).collect())
}

/// What drove an image's mood: its light, its most probable ImageNet class
/// and its top mood with the mood's score.
fn why(a: &Analysis) -> String {
    let score = mood::dim(a.label).map_or(0.0, |d| a.mood[d]);
    let faces = (a.face_effect >= FACE_EFFECT_NAMED)
        .then(|| {
            faces::mix(&a.info.faces).map(|m| playlist::faces_phrase(a.info.faces.len(), faces::top_expression(&m)))
        })
        .flatten();
    playlist::mood_drivers(&a.info.colour, a.scene(), faces.as_deref(), a.label, score)
}
