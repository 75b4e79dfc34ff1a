//! Tests of `tool.rs`.

use super::*;

#[test]
fn csv_rows_with_p99() {
    let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"PING_INLINE\",\"666666.69\",\"1.051\",\"0.352\",\"1.071\",\"1.551\",\"1.615\",\"1.727\"\n\"MSET (10 keys)\",\"200000.00\",\"3.299\",\"0.536\",\"3.607\",\"4.271\",\"4.343\",\"4.367\"\n";
    let rows = parse_csv(out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], ("PING_INLINE".to_string(), 666666.69, Some(1.615)));
    assert_eq!(rows[1].0, "MSET (10 keys)");
    assert_eq!(rows[1].2, Some(4.343));
    // Older versions print only test and rps.
    assert_eq!(
        parse_csv("\"test\",\"rps\"\n\"SET\",\"10.5\"\n"),
        vec![("SET".to_string(), 10.5, None)]
    );
    assert!(parse_csv("garbage").is_empty());
    let full = parse_csv_rows(out);
    assert_eq!(full[0].p50, Some(1.071));
    assert_eq!(full[1].p99, Some(4.343));
    assert_eq!(
        parse_csv_rows("\"test\",\"rps\"\n\"SET\",\"10.5\"\n")[0].p50,
        None
    );
}
