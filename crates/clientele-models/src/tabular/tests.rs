//! Tests of the tabular encoder and target: kind inference, date and number parsing,
//! imputation, one-hot levels, dropped columns and the positive-class rule.

use super::*;

fn text(name: &str, vals: &[&str]) -> Column {
    Column::Text(TextColumn {
        name: name.into(),
        values: vals
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect(),
    })
}

fn opt(vals: &[&str]) -> Vec<Option<String>> {
    vals.iter()
        .map(|v| (!v.is_empty()).then(|| v.to_string()))
        .collect()
}

#[test]
fn kinds_are_inferred() {
    assert_eq!(
        infer_kind(&opt(&["yes", "No", "", "YES"])),
        ColumnKind::Boolean
    );
    assert_eq!(infer_kind(&opt(&["1", "0", "1"])), ColumnKind::Boolean);
    assert_eq!(infer_kind(&opt(&["1", "0", "2"])), ColumnKind::Numeric);
    assert_eq!(
        infer_kind(&opt(&["yes", "no", "1"])),
        ColumnKind::Categorical
    );
    assert_eq!(
        infer_kind(&opt(&["1.5", "-2", "1,234.5", " 3e2 "])),
        ColumnKind::Numeric
    );
    assert_eq!(infer_kind(&opt(&["1,5", "2"])), ColumnKind::Categorical);
    assert_eq!(
        infer_kind(&opt(&["2024-02-29", "2023-01-01T10:00:00", ""])),
        ColumnKind::Date
    );
    assert_eq!(infer_kind(&opt(&["2023-02-29"])), ColumnKind::Categorical);
    assert_eq!(
        infer_kind(&opt(&["gold", "silver"])),
        ColumnKind::Categorical
    );
    assert_eq!(infer_kind(&opt(&["", ""])), ColumnKind::Categorical);
    assert_eq!(infer_kind(&opt(&["NaN", "1"])), ColumnKind::Categorical);
}

#[test]
fn dates_count_days_since_epoch() {
    assert_eq!(parse_date_days("1970-01-01"), Some(0));
    assert_eq!(parse_date_days("2000-03-01"), Some(11_017));
    assert_eq!(parse_date_days("1969-12-31 23:59"), Some(-1));
    assert_eq!(parse_date_days("2024-13-01"), None);
    assert_eq!(parse_number("-12,345"), Some(-12_345.0));
    assert_eq!(parse_number("12,34"), None);
}

#[test]
fn numeric_missing_values_get_median_and_indicator() {
    let cols = vec![
        text("spend", &["10", "", "30", "20"]),
        Column::Numeric {
            name: "visits".into(),
            values: vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)],
        },
        text("active", &["yes", "no", "", "YES"]),
        text(
            "since",
            &["1970-01-02", "1970-01-04", "1970-01-03", "1970-01-03"],
        ),
    ];
    let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
    assert_eq!(
        enc.feature_names(),
        vec![
            "spend",
            "spend (missing)",
            "visits",
            "active",
            "active (missing)",
            "since"
        ]
    );
    let x = enc.transform(&cols).unwrap();
    assert_eq!(x.row(1).to_vec(), vec![20.0, 1.0, 2.0, 0.0, 0.0, 3.0]);
    // Boolean median of [1, 0, 1] is 1.
    assert_eq!(x.row(2).to_vec(), vec![30.0, 0.0, 3.0, 1.0, 1.0, 2.0]);
    let kinds = enc.column_kinds();
    assert_eq!(kinds[2], ("active".to_string(), ColumnKind::Boolean));
    assert_eq!(kinds[3], ("since".to_string(), ColumnKind::Date));
}

#[test]
fn training_rows_only_decide_the_encoding() {
    // Row 3 (held out) is the only missing one: no indicator, median from rows 0..3.
    let cols = vec![text("spend", &["10", "20", "40", ""])];
    let enc = Encoder::fit_rows(&cols, &[0, 1, 2], &EncoderOptions::default()).unwrap();
    assert_eq!(enc.feature_names(), vec!["spend"]);
    let x = enc.transform_rows(&cols, &[3]).unwrap();
    assert_eq!(x[[0, 0]], 20.0);
}

#[test]
fn categorical_levels_other_and_unseen() {
    // 100 rows: a×50, b×30, c×15, d×4 (below min count 5 → other), missing×1.
    let mut vals = Vec::new();
    for (level, count) in [("a", 50), ("b", 30), ("c", 15), ("d", 4), ("", 1)] {
        vals.extend(std::iter::repeat_n(level, count));
    }
    let cols = vec![text("plan", &vals)];
    let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
    assert_eq!(
        enc.feature_names(),
        vec!["plan=a", "plan=b", "plan=c", "plan=(missing)", "plan=other"]
    );
    assert!(enc.features().iter().all(|f| f.source == "plan"));
    let new = vec![text("plan", &["b", "d", "zzz", ""])];
    let x = enc.transform(&new).unwrap();
    assert_eq!(x.row(0).to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(x.row(1).to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(x.row(2).to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(x.row(3).to_vec(), vec![0.0, 0.0, 0.0, 1.0, 0.0]);
    // max_levels caps the kept levels.
    let opts = EncoderOptions {
        max_levels: 1,
        ..EncoderOptions::default()
    };
    let enc = Encoder::fit(&cols, &opts).unwrap();
    assert_eq!(
        enc.feature_names(),
        vec!["plan=a", "plan=(missing)", "plan=other"]
    );
    // Without an "other" column an unseen level encodes as all zeros.
    let enc = Encoder::fit(
        &[text(
            "t",
            &["x", "y", "x", "y", "x", "y", "x", "y", "x", "y"],
        )],
        &EncoderOptions::default(),
    )
    .unwrap();
    let x = enc.transform(&[text("t", &["z"])]).unwrap();
    assert_eq!(x.row(0).to_vec(), vec![0.0, 0.0]);
}

#[test]
fn constant_and_id_like_columns_are_dropped() {
    let ids: Vec<String> = (0..30).map(|i| format!("C{i:04}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let cols = vec![
        text("customer_id", &ids),
        text("currency", &["EUR"; 30]),
        Column::Numeric {
            name: "flat".into(),
            values: vec![Some(1.0); 30],
        },
        text("blank", &[""; 30]),
        Column::Numeric {
            name: "x".into(),
            values: (0..30).map(|i| Some(i as f64)).collect(),
        },
    ];
    let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
    assert_eq!(enc.feature_names(), vec!["x"]);
    let reasons: Vec<(&str, &str)> = enc
        .dropped()
        .iter()
        .map(|d| (d.column.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "customer_id",
                "looks like an identifier (30 distinct values in 30 rows)"
            ),
            ("currency", "has a single value (\"EUR\")"),
            ("flat", "has a single value (1)"),
            ("blank", "has no values"),
        ]
    );
    // Only dropped columns → error; the numeric id-like column is kept (numbers may be
    // meaningful), which is why callers should not pass numeric ids.
    assert!(Encoder::fit(&cols[..2], &EncoderOptions::default()).is_err());
    // A column the encoder needs must be present at transform time.
    assert!(enc.transform(&cols[..2]).is_err());
}

#[test]
fn target_positive_class_rule() {
    let t = Target::from_text(&opt(&["yes", "no", "", "Yes"]), None).unwrap();
    let Target::Binary {
        values, positive, ..
    } = &t
    else {
        panic!()
    };
    assert_eq!(positive, "yes");
    assert_eq!(values, &vec![Some(true), Some(false), None, Some(true)]);
    assert_eq!(t.missing_count(), 1);
    assert_eq!(t.observed_rows(), vec![0, 1, 3]);
    assert_eq!(
        t.labels(&t.observed_rows()),
        Labels::Binary(vec![true, false, true])
    );

    let t = Target::from_text(&opt(&["churned", "stayed", "stayed"]), None).unwrap();
    assert!(matches!(&t, Target::Binary { positive, .. } if positive == "stayed"));
    let t = Target::from_text(&opt(&["churned", "stayed"]), Some("Churned")).unwrap();
    assert!(
        matches!(&t, Target::Binary { positive, negative, .. } if positive == "churned" && negative == "stayed")
    );
    assert!(Target::from_text(&opt(&["churned", "stayed"]), Some("lost")).is_err());
    // 0/1 → 1 positive; 9/10 sorted numerically → 10 positive.
    assert!(
        matches!(Target::from_text(&opt(&["1", "0"]), None).unwrap(), Target::Binary { positive, .. } if positive == "1")
    );
    assert!(
        matches!(Target::from_text(&opt(&["10", "9"]), None).unwrap(), Target::Binary { positive, .. } if positive == "10")
    );
    let t = Target::from_text(&opt(&["1.5", "2", "", "7"]), None).unwrap();
    assert_eq!(
        t,
        Target::Numeric {
            values: vec![Some(1.5), Some(2.0), None, Some(7.0)]
        }
    );
    let e = Target::from_text(&opt(&["gold", "silver", "bronze"]), None).unwrap_err();
    assert!(e.to_string().contains("3 different text values"), "{e}");
    assert!(matches!(
        Target::from_text(&opt(&["a", "a"]), None),
        Err(ModelError::InsufficientData(_))
    ));
}
