//! Lead scoring on a generated fixture of 52 leads: the grades follow type-7 quartiles of the
//! validation leads' probabilities, computed by hand, and tied scores share the higher grade.

use super::analyses::{days, table};
use super::*;

/// Type-7 quantile (linear interpolation between order statistics) of ascending `sorted`:
/// the definition the lead grades follow, written out here independently of the code.
fn type7(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Lead `i` (0-based, in creation order) of the lead-scoring fixture: 48 leads created every
/// 5 days from 2024-01-01 (the last 2024-08-23), then 4 a week apart from 2024-10-20, within
/// 60 days of the newest (2024-11-10, the leads' as-of day): with the 60-day conversion window
/// these tests use, scored, never learnt from. Channel by i mod 3
/// (referral, web, event); a referral converts unless i mod 4 = 3, a web lead when
/// i mod 4 = 0, an event lead when i mod 8 = 1. Company size 10 + 5 · (37 i mod 90) employees
/// is distinct for every lead. With `tied`, the 12 validation leads (i = 36..47) all have
/// 100 employees, industry retail and no campaign: they differ by channel only.
fn lead_csv(tied: bool) -> String {
    let mut s = String::from(
        "lead_id,created_at,converted_at,source_channel,industry,campaign_id,employees\n",
    );
    for i in 0..52usize {
        let created = if i < 48 {
            d("2024-01-01") + days(5 * i as i64)
        } else {
            d("2024-10-20") + days(7 * (i as i64 - 48))
        };
        let converted = i < 48
            && match i % 3 {
                0 => i % 4 != 3,
                1 => i % 4 == 0,
                _ => i % 8 == 1,
            };
        let same = tied && (36..48).contains(&i);
        let industry = if same || i % 2 == 0 { "retail" } else { "tech" };
        let campaign = if !same && i % 5 == 0 { "K1" } else { "" };
        let employees = if same { 100 } else { 10 + 5 * (37 * i % 90) };
        let conv = if converted {
            (created + days(10)).to_string()
        } else {
            String::new()
        };
        let channel = ["referral", "web", "event"][i % 3];
        s += &format!(
            "L{:02},{created},{conv},{channel},{industry},{campaign},{employees}\n",
            i + 1
        );
    }
    s
}

/// Validation outcomes of the lead fixture by hand (i = 36..47): 36 referral ✓, 37 web,
/// 38 event, 39 referral (39 mod 4 = 3), 40 web ✓, 41 event ✓ (41 mod 8 = 1), 42 referral ✓,
/// 43 web, 44 event, 45 referral ✓, 46 web, 47 event: 5 of 12 converted.
const LEAD_VALIDATION_CONVERTED: [bool; 12] = [
    true, false, false, false, true, true, true, false, false, true, false, false,
];

/// Per grade (A..D): (leads, converted) of the validation leads graded by hand with the
/// type-7 quartiles of their probabilities, ties going to the higher grade; and each lead's
/// grade by the same cut points.
struct HandGrades {
    cuts: [f64; 3],
    counts: [(f64, f64); 4],
}

impl HandGrades {
    fn new(validation: &[f64], converted: &[bool]) -> HandGrades {
        let mut sorted = validation.to_vec();
        sorted.sort_by(f64::total_cmp);
        let cuts = [
            type7(&sorted, 0.75),
            type7(&sorted, 0.5),
            type7(&sorted, 0.25),
        ];
        let mut h = HandGrades {
            cuts,
            counts: [(0.0, 0.0); 4],
        };
        for (p, c) in validation.iter().zip(converted) {
            let g = h.grade(*p);
            h.counts[g].0 += 1.0;
            h.counts[g].1 += f64::from(u8::from(*c));
        }
        h
    }

    /// 0 = A … 3 = D.
    fn grade(&self, p: f64) -> usize {
        self.cuts.iter().position(|c| p >= *c).unwrap_or(3)
    }

    fn rate(&self, g: usize) -> Option<f64> {
        let (n, c) = self.counts[g];
        (n > 0.0).then(|| c / n)
    }

    fn a_vs_rest(&self) -> Option<f64> {
        let (n, c) = self.counts[1..]
            .iter()
            .fold((0.0, 0.0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
        let rest = (n > 0.0).then(|| c / n).filter(|r| *r > 0.0)?;
        Some(self.rate(0)? / rest)
    }
}

/// Checks the grades table, the grades fact and every lead's grade and score against `hand`.
fn check_lead_grades(a: &Analysis, hand: &HandGrades) {
    let t = table(a, "grades");
    assert_eq!(
        text(t, "grade"),
        ["A", "B", "C", "D"].map(|s| Some(s.to_string())).to_vec()
    );
    let (leads, converted, rate) = (
        num(t, "leads"),
        num(t, "converted"),
        num(t, "conversion_rate"),
    );
    let conversion = a.facts["grades"]["validation_conversion"]
        .as_array()
        .unwrap();
    for g in 0..4 {
        let what = ["A", "B", "C", "D"][g];
        assert_eq!(leads[g], Some(hand.counts[g].0), "{what} leads");
        assert_eq!(converted[g], Some(hand.counts[g].1), "{what} converted");
        close(rate[g], hand.rate(g), &format!("{what} conversion rate"));
        assert_eq!(conversion[g]["grade"], what);
        assert_eq!(conversion[g]["leads"].as_f64(), Some(hand.counts[g].0));
        close(
            conversion[g]["conversion_rate"].as_f64(),
            hand.rate(g),
            &format!("{what} conversion rate fact"),
        );
    }
    close(
        a.facts["grades"]["grade_a_vs_rest"].as_f64(),
        hand.a_vs_rest(),
        "grade_a_vs_rest",
    );
    // Every lead (training, validation and too young to learn from) is graded by the same
    // cut points, and its score is round(100 × probability).
    let rows = a.rows.as_ref().unwrap();
    let p = num(rows, "conversion_probability");
    let score = num(rows, "lead_score");
    let grade = text(rows, "lead_grade");
    for i in 0..p.len() {
        let pi = p[i].unwrap();
        assert_eq!(score[i], Some((100.0 * pi).round()), "score of lead {i}");
        assert_eq!(
            grade[i].as_deref(),
            Some(["A", "B", "C", "D"][hand.grade(pi)]),
            "grade of lead {i} (p = {pi})"
        );
    }
}

/// The validation leads' probabilities (L37..L48) as the analysis reports them per lead.
fn validation_probabilities(a: &Analysis) -> Vec<f64> {
    let rows = a.rows.as_ref().unwrap();
    let ids = text(rows, "lead_id");
    // Rows come in creation order: L01..L52.
    let want: Vec<Option<String>> = (1..=52).map(|i| Some(format!("L{i:02}"))).collect();
    assert_eq!(ids, want);
    num(rows, "conversion_probability")[36..48]
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

#[tokio::test]
async fn lead_grades_match_hand_computed_quartiles() {
    let csv = lead_csv(false);
    let dir = workspace(&[("leads.csv", &csv)]);
    let engine = open(dir.path()).await;
    let a = leads(&engine, &LeadOptions { maturity_days: 60 })
        .await
        .unwrap();
    // 48 mature leads (created by 2024-09-11 = 60 days before the as-of day, every one
    // converted within 10 days or not at all); the oldest
    // 48 − 48/4 = 36 train, the newest 12 (L37..L48) validate.
    assert_eq!(a.facts["leads"], 52);
    assert_eq!(a.facts["mature_leads"], 48);
    assert_eq!(a.facts["evaluation"]["n_test"], 12);
    let val = validation_probabilities(&a);
    let hand = HandGrades::new(&val, &LEAD_VALIDATION_CONVERTED);
    // Distinct company sizes give 12 distinct probabilities, so the type-7 quartiles (at
    // positions 8.25, 5.5 and 2.75 of the 12 sorted scores) split them 3 / 3 / 3 / 3: A is
    // exactly the top quarter.
    let mut sorted = val.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    assert_eq!(sorted.len(), 12, "validation probabilities {val:?}");
    assert_eq!(hand.counts.map(|c| c.0), [3.0; 4]);
    // A holds the three highest, D the three lowest.
    let grade_of = |p: f64| hand.grade(p);
    assert!(sorted[9..].iter().all(|p| grade_of(*p) == 0));
    assert!(sorted[..3].iter().all(|p| grade_of(*p) == 3));
    assert_eq!(hand.counts.iter().map(|c| c.1).sum::<f64>(), 5.0);
    check_lead_grades(&a, &hand);
    // The cut-offs reported are the quartiles on the score scale.
    let cutoffs = &a.facts["grades"]["cutoffs"];
    for (cut, key) in hand.cuts.iter().zip(["A", "B", "C"]) {
        close(
            cutoffs[key].as_f64(),
            Some((100.0 * cut).round()),
            &format!("cut-off {key}"),
        );
    }
}

#[tokio::test]
async fn tied_lead_scores_share_the_higher_grade() {
    let csv = lead_csv(true);
    let dir = workspace(&[("leads.csv", &csv)]);
    let engine = open(dir.path()).await;
    let a = leads(&engine, &LeadOptions { maturity_days: 60 })
        .await
        .unwrap();
    let val = validation_probabilities(&a);
    // The 12 validation leads differ by channel only: three scores, four leads each, and
    // referral leads (9 of 12 converted in training, against 3 web and 1 event) score highest.
    let by_channel =
        |c: usize| -> Vec<f64> { (0..12).filter(|k| k % 3 == c).map(|k| val[k]).collect() };
    let (referral, web, event) = (by_channel(0), by_channel(1), by_channel(2));
    for v in [&referral, &web, &event] {
        assert!(v.iter().all(|p| *p == v[0]), "{val:?}");
    }
    assert!(referral[0] > web[0] && web[0] > event[0], "{val:?}");
    // Sorted: event ×4 (positions 0–3), web ×4 (4–7), referral ×4 (8–11). Q3 at 8.25 and Q1 at
    // 2.75 fall inside a run of ties and the median at 5.5 inside the web run, so every cut
    // point equals a tied score and the tied leads all take the higher grade: A = the four
    // referrals (3 converted), B = web (1), C = event (1), and no lead is D.
    let hand = HandGrades::new(&val, &LEAD_VALIDATION_CONVERTED);
    assert_eq!(hand.cuts, [referral[0], web[0], event[0]]);
    assert_eq!(
        hand.counts,
        [(4.0, 3.0), (4.0, 1.0), (4.0, 1.0), (0.0, 0.0)]
    );
    assert_eq!(hand.rate(3), None);
    // A converts 3/4, the rest 2/8: 3 times as often.
    close(hand.a_vs_rest(), Some(3.0), "A vs rest by hand");
    check_lead_grades(&a, &hand);
}

/// 60 leads created every 5 days from 2024-01-01 (lead i on day 5 i, the last on 2024-10-22),
/// channel by i mod 3 (referral, web, event). A referral converts after 10 days unless
/// i mod 4 = 3; a web lead after 10 days when i mod 4 = 0, and after 120 days (too late for the
/// 90-day window) when i mod 4 = 1 and i < 40 (i = 1, 13, 25, 37); an event lead after 30 days
/// when i mod 8 = 2. The latest date in the table is lead 37's late conversion, 2024-07-04 +
/// 120 = 2024-11-01: the as-of day. A window has closed for leads created by 2024-08-03 (5 i ≤
/// 215: i ≤ 43), so 44 leads are learnt from: 11 referrals (0, 6, …, 42 but not 3, 15, 27,
/// 39), 4 web leads (4, 16, 28, 40) and 2 event leads (2, 26) converted within the window, 17
/// in all, and the 4 late web conversions count as none. The newest quarter, 44 − 33 = 11
/// leads (i = 33..43), validates: 33, 36, 40 and 42 converted (37 only after 120 days).
/// Labelling "ever converted" with the old 60 days before the newest lead would learn from 48.
#[tokio::test]
async fn lead_scoring_learns_conversions_within_the_window_from_leads_whose_window_has_closed() {
    let mut csv = String::from(
        "lead_id,created_at,converted_at,source_channel,industry,campaign_id,employees\n",
    );
    for i in 0..60usize {
        let created = d("2024-01-01") + days(5 * i as i64);
        let after = match i % 3 {
            0 if i % 4 != 3 => Some(10),
            1 if i % 4 == 0 => Some(10),
            1 if i % 4 == 1 && i < 40 => Some(120),
            2 if i % 8 == 2 => Some(30),
            _ => None,
        };
        let conv = after.map_or(String::new(), |a| (created + days(a)).to_string());
        let channel = ["referral", "web", "event"][i % 3];
        let industry = if i % 2 == 0 { "retail" } else { "tech" };
        let campaign = if i % 5 == 0 { "K1" } else { "" };
        let employees = 10 + 5 * (37 * i % 90);
        csv += &format!(
            "L{:02},{created},{conv},{channel},{industry},{campaign},{employees}\n",
            i + 1
        );
    }
    let dir = workspace(&[("leads.csv", &csv)]);
    let engine = open(dir.path()).await;
    let a = leads(&engine, &LeadOptions::default()).await.unwrap();
    assert_eq!(a.facts["conversion_window_days"], 90);
    assert_eq!(a.facts["as_of"], "2024-11-01");
    assert_eq!(a.facts["leads"], 60);
    assert_eq!(a.facts["mature_leads"], 44);
    assert_eq!(a.facts["mature_converted"], 17);
    assert_eq!(a.facts["evaluation"]["n_test"], 11);
    let t = table(&a, "grades");
    let sum = |col: &str| num(t, col).iter().map(|v| v.unwrap()).sum::<f64>();
    assert_eq!(sum("leads"), 11.0);
    assert_eq!(sum("converted"), 4.0);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("4 of the mature leads converted more than 90 days")),
        "{:?}",
        a.notes
    );
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("leads created after 2024-08-03")),
        "{:?}",
        a.notes
    );
    // Every lead is scored, the young ones too.
    assert_eq!(a.rows.as_ref().unwrap().to_batch().num_rows(), 60);
}
