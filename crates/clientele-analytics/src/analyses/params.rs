//! Parsing shared by the analyses' parameter structs, so that the terminal (clap) and HTTP
//! (serde, from a query string) read a value the same way: dates as `parse_date` reads them,
//! choices by the names clap's `ValueEnum` gives them, lists comma-separated.

use std::marker::PhantomData;

use chrono::NaiveDate;
use clap::ValueEnum;
use serde::{Deserialize, Deserializer, de::Error as _};

/// `a, b or c`: the names of an enum's values, as a phrase for error messages.
pub fn one_of<E: ValueEnum>() -> String {
    let names: Vec<String> = E::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A date as the data model reads one: `2024-03-01`, an ISO 8601 timestamp, or `20240301`.
pub fn day(s: &str) -> Result<NaiveDate, String> {
    clientele_schema::parse_date(s.trim())
        .ok_or_else(|| format!("'{s}' is not a date: expected YYYY-MM-DD"))
}

/// A choice among an enum's values for clap: the `--help` value list comes from the enum,
/// and a wrong value is answered with the whole list as one sentence.
#[derive(Clone)]
pub struct Choice<E>(PhantomData<E>);

impl<E> Default for Choice<E> {
    fn default() -> Self {
        Choice(PhantomData)
    }
}

/// The value parser of an enum-valued flag.
pub fn choice<E>() -> Choice<E> {
    Choice::default()
}

impl<E: ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Choice<E> {
    type Value = E;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<E, clap::Error> {
        let text = value.to_string_lossy();
        E::from_str(text.trim(), true).map_err(|_| {
            let flag = arg
                .and_then(|a| a.get_long())
                .map_or_else(String::new, |l| format!(" for --{l}"));
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}'{flag}: expected {}\n", one_of::<E>()),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            E::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value()),
        ))
    }
}

/// Serde: an enum by its clap name (or alias), ignoring case.
pub fn de_choice<'de, D: Deserializer<'de>, E: ValueEnum>(d: D) -> Result<E, D::Error> {
    let s = String::deserialize(d)?;
    E::from_str(s.trim(), true)
        .map_err(|_| D::Error::custom(format!("'{s}' is not known: expected {}", one_of::<E>())))
}

/// Serde: an optional date; an empty value is no date.
pub fn de_opt_day<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => day(&s).map(Some).map_err(D::Error::custom),
    }
}

/// Serde: a comma-separated list of enum values (`by=gender,age_band`).
pub fn de_choice_list<'de, D: Deserializer<'de>, E: ValueEnum>(d: D) -> Result<Vec<E>, D::Error> {
    let s = String::deserialize(d)?;
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            E::from_str(p, true).map_err(|_| {
                D::Error::custom(format!("'{p}' is not known: expected {}", one_of::<E>()))
            })
        })
        .collect()
}

/// Checks that a number lies in an inclusive range, naming the parameter neutrally.
pub fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &'static str,
    value: T,
    low: T,
    high: T,
    unit: &str,
) -> Result<(), crate::AnalyticsError> {
    // Written so that NaN fails too.
    if value >= low && value <= high {
        Ok(())
    } else {
        Err(crate::AnalyticsError::parameter(
            name,
            value,
            format!("expected {unit} between {low} and {high}"),
        ))
    }
}
