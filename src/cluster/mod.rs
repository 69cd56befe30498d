//! The cluster: the shard folders of one run in (a Slurm array, Ray or
//! Spark tasks, each writing `shard-IIIII-of-NNNNN/`), one run out.
//! `verify` checks that every shard is present, complete and of the same
//! run; `merge` joins their tables into one run folder. How inputs are
//! assigned to shards is part of the run itself (`run::shard`).

pub mod merge;
pub mod verify;
