//! The feedback simulation on real data: synthetic users with known
//! preferences give feedback on a run's images, `pixtape learn`'s fits make
//! a profile, and NDCG@20 on held-out images says what it gained; random
//! feedback of the same kind and size is the control.
//!
//! ```sh
//! pixtape recommend --images PHOTOS --catalog CATALOG --features --out RUN
//! cargo run --release --example feedback_simulation -- RUN CATALOG [SEEDS]
//! ```
//!
//! Prints one markdown row per user: mean NDCG@20 over held-out images
//! before, after learning from the user's feedback and after learning from
//! random feedback, averaged over SEEDS draws of the feedback (default 5),
//! with each change's t statistic across draws (SEEDS − 1 degrees of
//! freedom: one profile serves all held-out images, so draws, not images,
//! are the replicates).

use std::path::PathBuf;

use pixtape::catalog::{self, CatalogOptions};
use pixtape::learn::Run;
use pixtape::learn::simulate::{self, Gives};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 2, "usage: feedback_simulation RUN CATALOG [SEEDS]");
    let run = Run::read(&PathBuf::from(&args[0]))?;
    let seeds: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let options = CatalogOptions::new(&args[1]);
    let catalog = catalog::load(&options)?;
    let catalog_for = |w| catalog::load(&CatalogOptions { weights: w, ..options.clone() });
    println!(
        "{} images ({} held out), {} tracks, NDCG@20 on the held-out images, {seeds} draws of the feedback",
        run.images.len(),
        run.images.iter().filter(|m| pixtape::learn::fit::fold_of(&m.id) == 0).count(),
        catalog.len()
    );
    println!();
    println!(
        "| synthetic user | feedback | rows | before | after learning | change (t) | after random feedback | change (t) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for user in simulate::users() {
        let r = simulate::replicate(&run, &catalog, &catalog_for, &user, 20, 1000, seeds as usize)?;
        let (da, ta) = r.change(&r.after);
        let (dr, tr) = r.change(&r.random);
        let gives = if user.gives == Gives::Ratings { "image ratings" } else { "likes of the top 20" };
        println!(
            "| {} | {gives} | {} | {:.3} | {:.3} | {da:+.3} ({ta:+.1}) | {:.3} | {dr:+.3} ({tr:+.1}) |",
            user.name,
            r.feedback_rows,
            r.ndcg_before,
            simulate::mean(&r.after),
            simulate::mean(&r.random)
        );
    }
    Ok(())
}
