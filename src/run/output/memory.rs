//! A run's tables kept in memory: what `PartSink::memory` fills instead of
//! part files, for callers that want the record batches themselves (the
//! Python module hands them to pyarrow through Arrow's C data interface).

use arrow_array::RecordBatch;

use super::{Collected, Dest, ERRORS_FILE, FACES_FILE, FEATURES_FILE, IMAGES_FILE, RECOMMENDATIONS_FILE};

/// The batches of each table, in input order, as the files would hold them.
#[derive(Clone, Debug, Default)]
pub struct MemoryTables {
    pub images: Collected,
    pub errors: Collected,
    pub recommendations: Collected,
    pub features: Collected,
    pub faces: Collected,
}

impl MemoryTables {
    /// Where the rows of the table the run would write to `file` go.
    pub(super) fn dest(&self, file: &str) -> Dest {
        let c = match file {
            IMAGES_FILE => &self.images,
            RECOMMENDATIONS_FILE => &self.recommendations,
            FEATURES_FILE => &self.features,
            FACES_FILE => &self.faces,
            _ => {
                debug_assert_eq!(file, ERRORS_FILE);
                &self.errors
            }
        };
        Dest::Memory(c.clone())
    }

    /// Takes the batches of one table out.
    pub fn take(c: &Collected) -> Vec<RecordBatch> {
        std::mem::take(&mut *c.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
