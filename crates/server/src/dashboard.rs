//! `GET /`: the dashboard, one self-contained HTML page (inline CSS, JS and SVG; nothing from
//! a CDN). It reads `/v1/pools`, `/v1/pools/{pool}` and `/v1/state`, and listens to
//! `/v1/stream` to show trades and liquidations and refresh the numbers as commands apply.

/// The page.
pub const PAGE: &str = include_str!("dashboard.html");
