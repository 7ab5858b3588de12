//! `compare --vary`: every strategy at each value of one setting (offered load, typically),
//! over the same seeds: throughput, p99 latency and availability against the setting, and
//! each strategy's saturation point.
//!
//! A strategy saturates at the lowest value where it stops keeping up: its availability (the
//! share of requests served within the deadline) falls below 95%, or its p99 latency grows
//! past ten times its value at the lowest setting.

use std::fmt::Write as _;

use serde::Serialize;

use super::RunRow;

/// The values one setting takes: `path=from..to:step`, `to` included.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// The setting's place in the file, as `--set` writes it.
    pub path: String,
    /// Each value, as written into the file.
    pub values: Vec<String>,
}

/// Parses `path=from..to:step` (numbers; written back as integers unless one has a point).
pub fn parse_vary(text: &str) -> Result<Vary, String> {
    let hint = "write --vary path=from..to:step, e.g. --vary workload.arrival.rate_per_s=200..3000:200";
    let (path, range) = text
        .split_once('=')
        .ok_or_else(|| format!("--vary {text}: {hint}"))?;
    let (span, step) = range
        .split_once(':')
        .ok_or_else(|| format!("--vary {text}: no step; {hint}"))?;
    let (from, to) = span
        .split_once("..")
        .ok_or_else(|| format!("--vary {text}: no range; {hint}"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("--vary {text}: `{s}` is not a number; {hint}"))
    };
    let (from_v, to_v, step_v) = (number(from)?, number(to)?, number(step)?);
    if step_v <= 0.0 || to_v < from_v {
        return Err(format!(
            "--vary {text}: the step must be above 0 and the range must not run backwards"
        ));
    }
    let count = ((to_v - from_v) / step_v).floor() as usize + 1;
    if count > 100 {
        return Err(format!(
            "--vary {text}: {count} values; at most 100 (take a larger step)"
        ));
    }
    let float = [from, to, step].iter().any(|s| s.contains('.'));
    let values = (0..count)
        .map(|i| from_v + step_v * i as f64)
        .map(|v| {
            if float {
                format!("{v:?}")
            } else {
                format!("{}", v.round() as i64)
            }
        })
        .collect();
    Ok(Vary {
        path: path.trim().to_string(),
        values,
    })
}

/// One strategy at one value: means over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurvePoint {
    /// The setting's value.
    pub value: f64,
    /// The strategy (column).
    pub strategy: String,
    /// Answered committed or accepted per second.
    pub throughput_per_s: Option<f64>,
    /// p99 end-to-end latency, µs.
    pub latency_p99_us: Option<f64>,
    /// Share of requests served within the deadline.
    pub availability: Option<f64>,
}

/// A load curve: every point, and where each strategy saturated (`None`: it kept up).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    /// The setting varied.
    pub setting: String,
    /// The points, by value then strategy.
    pub points: Vec<CurvePoint>,
    /// Each strategy's saturation point.
    pub saturation: Vec<(String, Option<f64>)>,
}

impl CurvePoint {
    /// The point of `strategy`'s runs `rows` at `value`.
    pub fn of(value: f64, strategy: &str, rows: &[&RunRow]) -> Self {
        let mean = |f: &dyn Fn(&RunRow) -> Option<f64>| {
            let values: Vec<f64> = rows.iter().filter_map(|r| f(r)).collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        CurvePoint {
            value,
            strategy: strategy.to_string(),
            throughput_per_s: mean(&|r| r.throughput_per_s),
            latency_p99_us: mean(&|r| r.latency_p99_us.map(|us| us as f64)),
            availability: mean(&|r| r.availability),
        }
    }
}

impl Curve {
    /// The curve of `points`, with each strategy's saturation point.
    pub fn new(setting: &str, points: Vec<CurvePoint>) -> Self {
        let mut strategies: Vec<String> = Vec::new();
        for p in &points {
            if !strategies.contains(&p.strategy) {
                strategies.push(p.strategy.clone());
            }
        }
        let saturation = strategies
            .iter()
            .map(|s| {
                let mine: Vec<&CurvePoint> = points.iter().filter(|p| &p.strategy == s).collect();
                let base = mine.first().and_then(|p| p.latency_p99_us);
                let saturated = mine.iter().find(|p| {
                    p.availability.is_some_and(|a| a < 0.95)
                        || matches!((p.latency_p99_us, base), (Some(l), Some(b)) if l > 10.0 * b)
                });
                (s.clone(), saturated.map(|p| p.value))
            })
            .collect();
        Curve {
            setting: setting.to_string(),
            points,
            saturation,
        }
    }

    /// A table: one row per value, each strategy's throughput, p99 and availability.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} (means over the seeds: throughput / p99 latency / available)\n",
            self.setting
        );
        let strategies: Vec<&String> = self.saturation.iter().map(|(s, _)| s).collect();
        let _ = write!(out, "{:>10}", "value");
        for s in &strategies {
            let _ = write!(out, "  {s:>30}");
        }
        out.push('\n');
        let mut values: Vec<f64> = self.points.iter().map(|p| p.value).collect();
        values.dedup();
        for value in values {
            let _ = write!(out, "{value:>10}");
            for s in &strategies {
                let cell = self
                    .points
                    .iter()
                    .find(|p| p.value == value && &&p.strategy == s)
                    .map_or_else(String::new, |p| {
                        format!(
                            "{}/s {} {}",
                            p.throughput_per_s.map_or("-".into(), |t| format!("{t:.0}")),
                            p.latency_p99_us
                                .map_or("-".into(), |l| format!("{:.1}ms", l / 1000.0)),
                            p.availability
                                .map_or("-".into(), |a| format!("{:.1}%", a * 100.0))
                        )
                    });
                let _ = write!(out, "  {cell:>30}");
            }
            out.push('\n');
        }
        out.push_str("saturation (availability below 95% or p99 over 10x the lightest load's):\n");
        for (s, at) in &self.saturation {
            let _ = match at {
                Some(v) => writeln!(out, "  {s}: at {v}"),
                None => writeln!(out, "  {s}: kept up over the whole range"),
            };
        }
        out
    }

    /// JSON: the setting, every point and the saturation points.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a curve serialises")
    }

    /// CSV: one row per point.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for p in &self.points {
            writer.serialize(p).expect("a point serialises");
        }
        String::from_utf8(writer.into_inner().expect("in memory")).expect("CSV is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_gives_its_values_and_a_bad_one_says_how_to_write_it() {
        let vary = parse_vary("workload.arrival.rate_per_s=200..1000:200").unwrap();
        assert_eq!(vary.values, ["200", "400", "600", "800", "1000"]);
        assert_eq!(
            parse_vary("x=0.5..1.0:0.25").unwrap().values,
            ["0.5", "0.75", "1.0"]
        );
        assert!(parse_vary("x=1..5").unwrap_err().contains("no step"));
        assert!(parse_vary("x=5..1:1").unwrap_err().contains("backwards"));
        assert!(parse_vary("x=0..1000:1").unwrap_err().contains("at most 100"));
    }

    #[test]
    fn saturation_is_where_availability_or_p99_gives_way() {
        let point = |value: f64, p99: f64, available: f64| CurvePoint {
            value,
            strategy: "s".into(),
            throughput_per_s: Some(value),
            latency_p99_us: Some(p99),
            availability: Some(available),
        };
        let curve = Curve::new(
            "load",
            vec![
                point(100.0, 1_000.0, 1.0),
                point(200.0, 5_000.0, 0.99),
                point(300.0, 12_000.0, 0.99),
            ],
        );
        assert_eq!(curve.saturation, [("s".to_string(), Some(300.0))]);
        let kept = Curve::new("load", vec![point(100.0, 1_000.0, 1.0)]);
        assert_eq!(kept.saturation, [("s".to_string(), None)]);
    }
}
