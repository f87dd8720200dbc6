//! The `derivpool` command-line tool.
fn main() {}
