//! The CSV candle reader cleans each kind of mess real exports have, and says what it cleaned.

use derivpool_sim::candles::{read_candles, to_path, CandleError};

const H: u64 = 3600;
/// 2022-05-09 00:00:00 UTC.
const T: u64 = 1_652_054_400;

#[test]
fn newest_first_rows_are_sorted() {
    let csv = "timestamp,open,close\n2022-05-09 02:00:00,1,102\n2022-05-09 01:00:00,1,101\n2022-05-09 00:00:00,1,100\n";
    let (c, r) = read_candles(csv).unwrap();
    assert!(r.reordered);
    assert_eq!(
        c.iter().map(|c| c.t).collect::<Vec<_>>(),
        [T, T + H, T + 2 * H]
    );
    assert_eq!(c[0].price, 100.0);
    assert!(r.describe().contains("sorted oldest first"));
}

#[test]
fn duplicated_hours_keep_the_first_row() {
    let csv = "timestamp,close\n2022-05-09 00:00:00,100\n2022-05-09 01:00:00,101\n2022-05-09 01:00:00,999\n2022-05-09 02:00:00,102\n";
    let (c, r) = read_candles(csv).unwrap();
    assert_eq!(r.duplicates, 1);
    assert_eq!(c.len(), 3);
    assert_eq!(c[1].price, 101.0);
}

#[test]
fn mixed_timestamp_formats_are_read_and_counted() {
    let csv = format!(
        "timestamp,close\n2022-05-09 00:00:00,100\n2022-05-09T01:00:00Z,101\n{},102\n{},103\n",
        T + 2 * H,
        (T + 3 * H) * 1000
    );
    let (c, r) = read_candles(&csv).unwrap();
    assert_eq!(r.mixed_time_formats, 2);
    assert_eq!(
        c.iter().map(|c| c.t).collect::<Vec<_>>(),
        [T, T + H, T + 2 * H, T + 3 * H]
    );
}

#[test]
fn unix_seconds_and_milliseconds_with_a_price_column() {
    let secs = format!("unix,price\n{},100\n{},101\n", T, T + H);
    let ms = format!("unix,price\n{},100\n{},101\n", T * 1000, (T + H) * 1000);
    for csv in [secs, ms] {
        let (c, r) = read_candles(&csv).unwrap();
        assert_eq!((c[0].t, c[1].t), (T, T + H));
        assert_eq!(r.interval_s, H);
    }
}

#[test]
fn missing_hours_are_counted_and_interpolated_log_linearly() {
    let csv = "timestamp,close\n2022-05-09 00:00:00,100\n2022-05-09 01:00:00,100\n2022-05-09 04:00:00,800\n2022-05-09 05:00:00,800\n";
    let (c, r) = read_candles(csv).unwrap();
    assert_eq!(r.interval_s, H);
    assert_eq!(r.missing_intervals, 2);
    let p = to_path(&c, H, None);
    assert_eq!(p.len(), 6);
    // 100 → 800 over three hours: ×2 per hour.
    assert!((p.spot[2] - 200.0).abs() < 1e-9 && (p.spot[3] - 400.0).abs() < 1e-9);
}

#[test]
fn unreadable_rows_are_skipped_with_their_line() {
    let csv = "timestamp,close\n2022-05-09 00:00:00,100\nyesterday,101\n2022-05-09 02:00:00,-5\n2022-05-09 03:00:00,abc\n2022-05-09 04:00:00,104\n";
    let (c, r) = read_candles(csv).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(r.unreadable, 3);
    assert!(
        r.unreadable_examples[0].starts_with("line 3:"),
        "{:?}",
        r.unreadable_examples
    );
}

#[test]
fn missing_columns_and_empty_files_are_errors_that_say_what_is_expected() {
    assert!(matches!(
        read_candles("date,close\n1,2\n"),
        Err(CandleError::MissingColumn("time", _))
    ));
    assert!(matches!(
        read_candles("timestamp,open\n2022-05-09,2\n"),
        Err(CandleError::MissingColumn("price", _))
    ));
    assert!(matches!(
        read_candles("timestamp,close\n2022-05-09,2\n"),
        Err(CandleError::TooFewRows(_))
    ));
}
