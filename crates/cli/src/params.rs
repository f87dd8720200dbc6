//! `derivpool params`: every pool parameter with its default, hard bounds, unit and meaning
//! (DESIGN.md §5.12), from the engine's single table (`derivpool_engine::params::PARAM_SPECS`).

use anyhow::Result;
use derivpool_engine::params::{ParamSpec, PARAM_SPECS};
use std::io::{self, Write};
use std::process::ExitCode;

/// One-line description.
pub const ABOUT: &str = "List every pool parameter with its default, bounds, unit and meaning";

/// Full description.
pub const LONG_ABOUT: &str = "\
List every pool parameter: its name, the mechanism it belongs to, its default, its hard bounds,
its unit and what it does.

Parameters are set per pool by create_pool (and per underlying by list_underlying) within the
hard bounds, and changed later only by governance: a token vote (propose, vote, execute, after a
timelock) anywhere inside the hard bounds, the risk council (council_set) inside bounds the
vote gave it, or the emergency role (emergency_set) in the risk-reducing direction only (pause,
reduce-only, lower caps).

Output: a table, or with --json an array of objects with the keys name, mechanism, default,
min, max, unit and meaning (decimals as strings). --mechanism keeps only one mechanism's rows
(e.g. hedger, governance, perp).";

/// Arguments of `derivpool params`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only the parameters of this mechanism (as in the table's `mechanism` column).
    #[arg(long, value_name = "NAME")]
    pub mechanism: Option<String>,
}

/// Prints the parameter table.
pub fn run(args: Args) -> Result<ExitCode> {
    let rows: Vec<&ParamSpec> = PARAM_SPECS
        .iter()
        .filter(|s| args.mechanism.as_deref().is_none_or(|m| s.mechanism == m))
        .collect();
    if rows.is_empty() {
        anyhow::bail!(
            "no parameters for mechanism {:?}; mechanisms: {}",
            args.mechanism.unwrap_or_default(),
            mechanisms().join(", ")
        );
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The mechanisms in table order, each once.
fn mechanisms() -> Vec<&'static str> {
    let mut seen = Vec::new();
    for s in PARAM_SPECS {
        if !seen.contains(&s.mechanism) {
            seen.push(s.mechanism);
        }
    }
    seen
}

fn write_table(out: &mut impl Write, rows: &[&ParamSpec]) -> io::Result<()> {
    let header = ["name", "mechanism", "default", "bounds", "unit", "meaning"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|s| {
            [
                s.name.to_string(),
                s.mechanism.to_string(),
                s.default.to_string(),
                format!("[{}, {}]", s.min, s.max),
                s.unit.to_string(),
                s.meaning.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[String]| -> io::Result<()> {
        // The last column (meaning) is not padded.
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                writeln!(out, "{c}")?;
            } else {
                let pad = width[i] - c.chars().count();
                write!(out, "{c}{}  ", " ".repeat(pad))?;
            }
        }
        Ok(())
    };
    line(out, &header.map(String::from))?;
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule)?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}
