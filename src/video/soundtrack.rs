//! Soundtrack stage: a film's scenes in order in, one track per scene out,
//! chosen by the album's sequence rules (`after::sequence`): no track used
//! twice in the film, arousal and tempo changing smoothly between
//! neighbouring scenes.
//!
//! A scene's target is its own mood, pulled a quarter of the way toward
//! its neighbours' when they are short: a flash of a scene between two
//! long ones should not jerk the music, while a long scene keeps its mood.

use crate::engine::mood::{self, MoodVector};
use crate::error::Result;
use crate::recommend::Recommender;
use crate::video::read::Film;
use crate::video::scenes::timecode;

/// Scenes at least this long (seconds) are not pulled toward neighbours.
const STEADY_SCENE: f64 = 8.0;
/// The largest pull toward the mean of a scene's neighbours.
const MAX_PULL: f32 = 0.25;

/// One cue of the soundtrack: a scene and its track.
#[derive(Clone, Debug)]
pub struct Cue {
    /// From 1, in film order.
    pub position: u16,
    pub scene: usize,
    /// The catalog row of the track.
    pub track: u32,
    pub score: f32,
    pub explanation: String,
}

/// The scenes' target moods.
pub fn targets(film: &Film) -> Vec<MoodVector> {
    let moods: Vec<(&MoodVector, f64)> =
        film.scenes.iter().map(|(s, m)| (&m.analysis.mood, s.end_s - s.start_s)).collect();
    (0..moods.len())
        .map(|i| {
            let (own, length) = moods[i];
            let around: Vec<&MoodVector> = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| moods.get(j))
                .map(|m| m.0)
                .collect();
            if around.is_empty() {
                return *own;
            }
            let pull = MAX_PULL * (1.0 - (length / STEADY_SCENE).min(1.0)) as f32;
            std::array::from_fn(|d| {
                let near = around.iter().map(|m| m[d]).sum::<f32>() / around.len() as f32;
                own[d] * (1.0 - pull) + near * pull
            })
        })
        .collect()
}

/// The film's soundtrack: one cue per scene while the catalog lasts.
pub fn soundtrack(film: &Film, recommender: &Recommender) -> Result<Vec<Cue>> {
    let targets = targets(film);
    let catalog = recommender.catalog();
    let chosen = crate::after::sequence::choose(recommender, &targets)?;
    Ok(chosen
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (scene, m) = &film.scenes[i];
            let target = &targets[i];
            let label = mood::top_mood(target);
            let label_score = mood::dim(label).map_or(0.0, |d| target[d]);
            let mut explanation = format!(
                "scene {i} {}–{} ({}) → {label} {label_score:.2}, arousal {:+.2}",
                timecode(scene.start_s),
                timecode(scene.end_s),
                m.analysis.scene(),
                target[1]
            );
            explanation.push_str(&c.note(catalog));
            Cue { position: i as u16 + 1, scene: i, track: c.track, score: c.score, explanation }
        })
        .collect())
}
