//! The hand fixes of the derived class table: each names a class, a
//! dimension, a value in that dimension's range and a rule documented in
//! models/README.md, and the table the engines use carries it.

use pixtape::engine::model::class_names;
use pixtape::engine::mood::{self, Group, class_fixes, class_table};

#[test]
fn every_fix_follows_a_documented_rule_and_reaches_the_table() {
    let readme = include_str!("../models/README.md");
    let section = &readme[readme.find("### Hand fixes").expect("models/README.md documents the hand fixes")..];
    let fixes = class_fixes();
    assert!(fixes.len() >= 20);
    let names = class_names();
    for f in &fixes {
        let c = names.iter().position(|n| *n == f.class).unwrap_or_else(|| panic!("{} is not a class", f.class));
        let (lo, hi) = if Group::Affect.dims().contains(&f.dim) { (-1.0, 1.0) } else { (0.0, 1.0) };
        assert!((lo..=hi).contains(&f.value), "{} {}: {}", f.class, mood::DIM_NAMES[f.dim], f.value);
        assert!(section.contains(&format!("`{}`", f.rule)), "rule {} is not documented", f.rule);
        assert_eq!(class_table()[c][f.dim], f.value, "{} {}", f.class, mood::DIM_NAMES[f.dim]);
    }
}

#[test]
fn the_worst_derived_values_are_fixed() {
    let value = |class: &str, d: &str| {
        let c = class_names().iter().position(|n| *n == class).unwrap();
        class_table()[c][mood::dim(d).unwrap()]
    };
    assert!(value("promontory", "urban") < 0.1);
    assert!(value("valley", "winter") < 0.2);
    assert!(value("restaurant", "arousal") > 0.0);
    assert!(value("espresso", "energetic") < 0.2);
    assert!(value("volcano", "valence") > -0.3);
}
