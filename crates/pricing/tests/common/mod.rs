//! Reading the reference data files of `shared/data` in tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

/// Path of a reference data file; panics with a clear message when it is missing.
pub fn data_file(name: &str) -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(name);
    assert!(
        path.is_file(),
        "reference data file {name} is missing: expected it at {} (see shared/data/README.md)",
        path.display()
    );
    path
}

pub fn records(name: &str) -> Vec<HashMap<String, String>> {
    let path = data_file(name);
    let mut rdr = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    rdr.records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("bad row in {name}: {e}"));
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    let s = row
        .get(col)
        .unwrap_or_else(|| panic!("column {col} missing in {row:?}"));
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("column {col} = {s:?} is not a number: {e}"))
}
