//! The progress bar the CLI draws while a run goes on (indicatif). It is
//! hidden when stderr is not a terminal or with `--quiet`.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pixtape::pipeline::{Progress, RunSummary};

pub struct Bar {
    bar: ProgressBar,
    failed: AtomicU64,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{spinner} {bar:30} {human_pos}/{human_len} images  {per_sec:.1}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message("errors: 0");
        Bar {
            bar,
            failed: AtomicU64::new(0),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn discovered(&self, total: u64, _complete: bool) {
        self.bar.set_length(total);
    }

    fn finished_one(&self, ok: bool) {
        if !ok {
            let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("errors: {n}"));
        }
        self.bar.inc(1);
    }
}

pub fn summary_line(s: &RunSummary) -> String {
    let c = &s.counts;
    format!(
        "pixtape: analysed {} images in {:.1} s ({:.1} images/s) on {}; {} errors, {} warnings{}; wrote {}",
        c.images,
        s.wall_seconds,
        c.images as f64 / s.wall_seconds.max(1e-9),
        s.engine,
        c.errors,
        c.warnings,
        if c.skipped_files > 0 {
            format!(", {} non-image files skipped", c.skipped_files)
        } else {
            String::new()
        },
        s.out.display(),
    )
}
