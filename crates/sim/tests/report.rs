//! The report: HTML is well formed (every tag closed in order), opens offline (no scripts, no
//! external references), and every chart has data; the CSV has one row per step.

use derivpool_sim::report::{html, timeseries_csv, CHART_TITLES};
use derivpool_sim::summary::COLUMNS;
use derivpool_sim::{run, Scenario, SimConfig};

/// HTML elements that never close.
const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link", "!doctype"];

/// Checks that tags nest properly; returns the error if not.
fn well_formed(doc: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').ok_or("unclosed <")? + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        let self_closing = tag.ends_with('/');
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name = tag
            .split([' ', '/'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if self_closing || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[test]
fn html_is_well_formed_offline_and_every_chart_has_data() {
    let cfg = SimConfig {
        scenario: Scenario::Crash,
        days: Some(6),
        agents: 40,
        ..SimConfig::default()
    };
    let out = run(&cfg, &mut |_, _| {}).unwrap();
    let doc = html(&out.summary, &out.rows);
    well_formed(&doc).unwrap();
    assert!(!doc.contains("<script") && !doc.contains("src=") && !doc.contains("href="));
    let svgs: Vec<&str> = doc.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), CHART_TITLES.len());
    for (title, svg) in CHART_TITLES.iter().zip(&svgs) {
        assert!(
            doc.contains(&format!("<h2>{title} ")),
            "{title} has a heading"
        );
        for poly in svg.split("points=\"").skip(1) {
            let pts = poly.split('"').next().unwrap();
            let n = pts.split_whitespace().count();
            assert!(
                n >= out.rows.len().min(1_200) / 2,
                "{title}: a line with {n} points"
            );
            for p in pts.split_whitespace() {
                let (x, y) = p.split_once(',').unwrap();
                assert!(
                    x.parse::<f64>().unwrap().is_finite() && y.parse::<f64>().unwrap().is_finite()
                );
            }
        }
    }
    let csv = timeseries_csv(&out.rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines.len(),
        out.summary.steps + 2,
        "header + one row per step"
    );
    assert_eq!(lines[0].split(',').count(), COLUMNS.len() + 2);
}

#[test]
fn the_checker_catches_bad_nesting() {
    assert!(well_formed("<p><b></p></b>").is_err());
    assert!(well_formed("<div>").is_err());
    assert!(well_formed("<p><br></p>").is_ok());
}
