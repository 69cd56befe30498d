//! The `people` cue: how much of what the model sees is people, from its
//! class probabilities. ImageNet has three person classes (ballplayer,
//! groom, scuba diver); most photos of people it names by what they wear
//! or hold up close (a jersey, a gown, sunglasses, a microphone, a stage),
//! so those count too. Shoes and sports gear that photos show on their own
//! do not. A stand-in until faces are counted.

/// ImageNet class indices that mean a person is in the picture.
pub const PERSON_CLASSES: [usize; 53] = [
    399, 400, 411, 433, 445, 451, 452, 457, 459, 465, 474, 501, 515, 518, 529, 552, 560, 568, 578, 601, 608, 610, 614,
    617, 629, 638, 639, 643, 650, 652, 655, 667, 689, 691, 697, 735, 775, 796, 808, 819, 824, 834, 836, 837, 841, 842,
    869, 887, 903, 906, 981, 982, 983,
];

/// The summed probability of the person classes, in [0, 1].
pub fn people_score(probs: &[f32]) -> f32 {
    PERSON_CLASSES.iter().filter_map(|&c| probs.get(c)).sum::<f32>().clamp(0.0, 1.0)
}
