//! CSV plumbing shared by the table subcommands (`price`, `iv`, `surface`): opening `FILE` or `-`
//! (stdin), finding columns by name in the header, parsing cells with errors that name the column,
//! reporting bad rows as `FILE:LINE: message` on stderr, and writing numbers so that they
//! round-trip.
//!
//! Reading and writing go through the `csv` crate's `ByteRecord` with one reused record per row,
//! so a row costs no allocation once the buffers have grown.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Stderr, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use csv::ByteRecord;

/// Exit status when every row (or slice) was processed.
pub const EXIT_OK: u8 = 0;
/// Exit status when some rows (or slices) failed and were reported, and the rest were processed.
pub const EXIT_SOME_FAILED: u8 = 1;

/// Size of the read and write buffers, in bytes.
const IO_BUFFER_BYTES: usize = 256 * 1024;

/// Exit code for a run in which `failed` rows or slices could not be processed.
pub fn exit_code(failed: usize) -> ExitCode {
    ExitCode::from(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

/// An input table: the name used in messages and a CSV reader over it.
pub struct Input {
    /// The file name as given on the command line, or `<stdin>`.
    pub name: String,
    /// The reader, positioned before the header.
    pub reader: csv::Reader<Box<dyn Read>>,
}

impl Input {
    /// Opens `path`, or stdin when `path` is `-`.
    pub fn open(path: &str) -> Result<Self> {
        let (name, source): (String, Box<dyn Read>) = if path == "-" {
            ("<stdin>".to_owned(), Box::new(io::stdin().lock()))
        } else {
            let file = File::open(path).with_context(|| format!("{path}: cannot open"))?;
            (path.to_owned(), Box::new(file))
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(IO_BUFFER_BYTES)
            .from_reader(source);
        Ok(Self { name, reader })
    }

    /// Reads the header line and indexes its column names.
    pub fn header(&mut self) -> Result<Header> {
        let raw = self
            .reader
            .byte_headers()
            .with_context(|| format!("{}:1: cannot read the header", self.name))?
            .clone();
        Ok(Header::new(self.name.clone(), raw))
    }

    /// Reads the next row into `record`; false at the end of the input.
    pub fn read(&mut self, record: &mut ByteRecord) -> Result<bool> {
        let name = &self.name;
        self.reader.read_byte_record(record).with_context(|| {
            let line = record.position().map_or(0, |p| p.line());
            format!("{name}:{line}: cannot read the row")
        })
    }
}

/// A CSV writer on stdout with a large buffer.
pub fn stdout_writer() -> csv::Writer<io::StdoutLock<'static>> {
    csv::WriterBuilder::new()
        .flexible(false)
        .buffer_capacity(IO_BUFFER_BYTES)
        .from_writer(io::stdout().lock())
}

/// Line number (1-based, the header is line 1) of a record just read.
pub fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// A column found in the header: its 0-based index and its canonical (lower-case) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    /// 0-based index in the row.
    pub index: usize,
    /// Canonical name, e.g. `vol`.
    pub name: &'static str,
}

impl fmt::Display for Col {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {} ({})", self.index + 1, self.name)
    }
}

/// The header of an input table, for finding columns by name (case-insensitive, trimmed).
pub struct Header {
    file: String,
    /// The header exactly as read, to be copied to the output.
    pub raw: ByteRecord,
    names: Vec<String>,
}

impl Header {
    fn new(file: String, raw: ByteRecord) -> Self {
        let names = raw
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase())
            .collect();
        Self { file, raw, names }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The column named `name`, if present. Two columns of that name are an error.
    pub fn optional(&self, name: &'static str) -> Result<Option<Col>> {
        let mut found = None;
        for (index, n) in self.names.iter().enumerate() {
            if n == name {
                if let Some(Col { index: first, .. }) = found {
                    bail!(
                        "{}:1: column \"{name}\" appears twice (columns {} and {})",
                        self.file,
                        first + 1,
                        index + 1
                    );
                }
                found = Some(Col { index, name });
            }
        }
        Ok(found)
    }

    /// The column named `name`; its absence is an error naming the file, line 1 and the column.
    pub fn required(&self, name: &'static str) -> Result<Col> {
        match self.optional(name)? {
            Some(col) => Ok(col),
            None => bail!(
                "{}:1: missing column \"{name}\" in the header ({})",
                self.file,
                self.describe()
            ),
        }
    }

    /// An error for a header that lacks every one of several alternatives.
    pub fn missing_any(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{}:1: missing column {what} in the header ({})",
            self.file,
            self.describe()
        )
    }

    fn describe(&self) -> String {
        if self.names.iter().all(String::is_empty) {
            "the header is empty".to_owned()
        } else {
            format!("found: {}", self.names.join(","))
        }
    }
}

/// What is wrong with one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The cell is empty or the row is too short.
    Missing,
    /// The cell is not a decimal number.
    NotANumber(String),
    /// The cell is a number but not finite (`nan`, `inf`).
    NotFinite(String),
    /// Any other rule, as a sentence fragment.
    Invalid(String),
}

/// A bad cell: which column and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    /// The column.
    pub col: Col,
    /// The problem.
    pub problem: Problem,
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Missing => write!(f, "{}: missing value", self.col),
            Problem::NotANumber(s) => write!(f, "{}: \"{s}\" is not a number", self.col),
            Problem::NotFinite(s) => write!(f, "{}: \"{s}\" is not a finite number", self.col),
            Problem::Invalid(s) => write!(f, "{}: {s}", self.col),
        }
    }
}

/// The trimmed text of a cell, or `None` when the cell is empty or absent.
pub fn text(record: &ByteRecord, col: Col) -> Option<&[u8]> {
    let bytes = record.get(col.index)?.trim_ascii();
    (!bytes.is_empty()).then_some(bytes)
}

/// Parses a finite number from a cell that must be present.
pub fn number(record: &ByteRecord, col: Col) -> Result<f64, CellError> {
    match text(record, col) {
        Some(bytes) => parse_finite(bytes).map_err(|problem| CellError { col, problem }),
        None => Err(CellError {
            col,
            problem: Problem::Missing,
        }),
    }
}

/// Parses a finite number from an optional column; an absent column or empty cell gives `None`.
pub fn optional_number(record: &ByteRecord, col: Option<Col>) -> Result<Option<f64>, CellError> {
    let Some(col) = col else { return Ok(None) };
    match text(record, col) {
        Some(bytes) => parse_finite(bytes)
            .map(Some)
            .map_err(|problem| CellError { col, problem }),
        None => Ok(None),
    }
}

fn parse_finite(bytes: &[u8]) -> Result<f64, Problem> {
    let shown = || String::from_utf8_lossy(bytes).into_owned();
    let value: f64 = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Problem::NotANumber(shown()))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Problem::NotFinite(shown()))
    }
}

/// Appends the input row to `out`, padded with empty fields or cut to the header's `width` so
/// that the output stays rectangular.
pub fn push_input(out: &mut ByteRecord, record: &ByteRecord, width: usize) {
    for field in record.iter().take(width) {
        out.push_field(field);
    }
    for _ in record.len()..width {
        out.push_field(b"");
    }
}

/// The error for a row whose number of fields differs from the header's.
pub fn width_error(record: &ByteRecord, width: usize) -> Option<String> {
    (record.len() != width).then(|| {
        format!(
            "the row has {} fields but the header has {width}",
            record.len()
        )
    })
}

/// Appends `value` to `out` in the shortest form that parses back to the same f64 (`1.5`,
/// `0.00123`, `3.6104705255997863e-6`; the format of the JSON output), using `scratch` as the
/// formatting buffer.
pub fn push_f64(out: &mut ByteRecord, scratch: &mut zmij::Buffer, value: f64) {
    out.push_field(scratch.format(value).as_bytes());
}

/// Reports bad rows on stderr as `FILE:LINE: message` and counts them.
pub struct RowErrors {
    file: String,
    count: usize,
    stderr: BufWriter<Stderr>,
}

impl RowErrors {
    /// A reporter for rows of `file`.
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            count: 0,
            stderr: BufWriter::new(io::stderr()),
        }
    }

    /// Reports the row at `line`.
    pub fn report(&mut self, line: u64, message: &dyn fmt::Display) {
        self.count += 1;
        // A failing stderr must not stop the run; the exit code still reports the failure.
        let _ = writeln!(self.stderr, "{}:{line}: {message}", self.file);
    }

    /// Writes a note (not an error) on stderr.
    pub fn note(&mut self, message: &dyn fmt::Display) {
        let _ = writeln!(self.stderr, "{message}");
    }

    /// Number of rows reported so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Writes the summary `N of M rows failed` when some did, flushes, and returns the count.
    pub fn finish(mut self, rows: u64, what: &str) -> usize {
        if self.count > 0 {
            let _ = writeln!(
                self.stderr,
                "{}: {} of {rows} {what} failed",
                self.file, self.count
            );
        }
        let _ = self.stderr.flush();
        self.count
    }
}
