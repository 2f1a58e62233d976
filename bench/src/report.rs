//! The results: one row per figure, one value per target, printed as one
//! table (with ratios to the reference and to the database ceiling) and
//! written as JSON.

use std::fmt::Write as _;

use super::workers::median;

/// One figure measured on every target.
pub struct Row {
    /// Stable key, e.g. `set.c50`.
    pub id: String,
    /// What the table shows, e.g. `SET -c 50`.
    pub metric: String,
    pub unit: &'static str,
    /// One per target (`None`: not measured there).
    pub values: Vec<Option<f64>>,
    /// The database's own ceiling for the same work, one per target.
    pub ceiling: Vec<Option<f64>>,
    /// The individual runs the value is the median of, one list per target.
    pub samples: Vec<Vec<f64>>,
}

impl Row {
    pub fn new(id: impl Into<String>, metric: impl Into<String>, unit: &'static str) -> Row {
        Row {
            id: id.into(),
            metric: metric.into(),
            unit,
            values: Vec::new(),
            ceiling: Vec::new(),
            samples: Vec::new(),
        }
    }

    pub fn with_values(mut self, values: Vec<Option<f64>>) -> Row {
        self.values = values;
        self
    }

    /// Each target's median of its runs, keeping the runs.
    pub fn with_samples(mut self, samples: Vec<Vec<f64>>) -> Row {
        self.values = samples.iter().map(|s| median(s)).collect();
        self.samples = samples;
        self
    }

    pub fn value(&self, target: usize) -> Option<f64> {
        self.values.get(target).copied().flatten()
    }

    pub fn ceiling(&self, target: usize) -> Option<f64> {
        self.ceiling.get(target).copied().flatten()
    }
}

/// A whole run.
pub struct Report {
    /// Target names, one column each.
    pub columns: Vec<String>,
    /// Which column is the reference Redis.
    pub reference: usize,
    pub rows: Vec<Row>,
    /// Free-form lines (skipped targets, limits hit).
    pub notes: Vec<String>,
    /// Run parameters, as key/value text.
    pub meta: Vec<(String, String)>,
    /// Issue goals as evaluated (see `goals`).
    pub goals: Vec<Goal>,
}

/// One performance target, checked against the figures.
pub struct Goal {
    pub text: String,
    pub target: String,
    pub value: Option<f64>,
    pub pass: Option<bool>,
}

/// `a / b`, when both exist and `b` is not zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

impl Report {
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// Respire columns (every column but the reference).
    fn respire_columns(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&c| c != self.reference)
            .collect()
    }

    /// Respire columns that have a ceiling in some row.
    fn ceiling_columns(&self) -> Vec<usize> {
        self.respire_columns()
            .into_iter()
            .filter(|&c| self.rows.iter().any(|r| r.ceiling(c).is_some()))
            .collect()
    }

    /// The table, as text.
    pub fn table(&self) -> String {
        let respire = self.respire_columns();
        let ceilings = self.ceiling_columns();
        let reference = &self.columns[self.reference];
        let mut header = vec!["metric".to_string(), "unit".to_string()];
        header.extend(self.columns.iter().cloned());
        header.extend(
            respire
                .iter()
                .map(|&c| format!("{}/{reference}", self.columns[c])),
        );
        header.extend(ceilings.iter().map(|&c| format!("{}/db", self.columns[c])));
        let mut lines = vec![header];
        for row in &self.rows {
            let mut line = vec![row.metric.clone(), row.unit.to_string()];
            line.extend((0..self.columns.len()).map(|c| number(row.value(c))));
            line.extend(
                respire
                    .iter()
                    .map(|&c| times(ratio(row.value(c), row.value(self.reference)))),
            );
            line.extend(
                ceilings
                    .iter()
                    .map(|&c| times(ratio(row.value(c), row.ceiling(c)))),
            );
            lines.push(line);
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, line) in lines.iter().enumerate() {
            for (i, cell) in line.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i < 2 {
                    let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            if n == 0 {
                let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
        }
        out
    }

    /// The goals and notes, as text lines.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for goal in &self.goals {
            let verdict = match goal.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "n/a ",
            };
            let _ = writeln!(
                out,
                "{verdict}  {:<13} {}: {}",
                goal.target,
                goal.text,
                number(goal.value)
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// The same figures as JSON.
    pub fn json(&self) -> String {
        let respire = self.respire_columns();
        let reference = self.reference;
        let per_column = |f: &dyn Fn(usize) -> Option<f64>, cols: &[usize]| {
            object(cols.iter().map(|&c| (self.columns[c].as_str(), num(f(c)))))
        };
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let rows = self.rows.iter().map(|row| {
            object([
                ("id", string(&row.id)),
                ("metric", string(&row.metric)),
                ("unit", string(row.unit)),
                ("values", per_column(&|c| row.value(c), &all)),
                (
                    "vs_reference",
                    per_column(&|c| ratio(row.value(c), row.value(reference)), &respire),
                ),
                (
                    "vs_database",
                    per_column(&|c| ratio(row.value(c), row.ceiling(c)), &respire),
                ),
                (
                    "database_ceiling",
                    per_column(&|c| row.ceiling(c), &respire),
                ),
                (
                    "runs",
                    object(all.iter().map(|&c| {
                        let runs = row.samples.get(c).cloned().unwrap_or_default();
                        (
                            self.columns[c].as_str(),
                            array(runs.into_iter().map(|v| num(Some(v)))),
                        )
                    })),
                ),
            ])
        });
        let goals = self.goals.iter().map(|g| {
            object([
                ("goal", string(&g.text)),
                ("target", string(&g.target)),
                ("value", num(g.value)),
                ("pass", g.pass.map_or("null".into(), |p| p.to_string())),
            ])
        });
        object([
            (
                "meta",
                object(self.meta.iter().map(|(k, v)| (k.as_str(), string(v)))),
            ),
            ("reference", string(&self.columns[reference])),
            ("rows", array(rows)),
            ("goals", array(goals)),
            ("notes", array(self.notes.iter().map(|n| string(n)))),
        ]) + "\n"
    }
}

/// A figure as the table shows it.
fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 0.1 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn times(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}x"),
        Some(v) => format!("{v:.2}x"),
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn object<'a>(fields: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let body: Vec<String> = fields
        .into_iter()
        .map(|(k, v)| format!("{}: {v}", string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

fn array(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut row = Row::new("set.c50", "SET -c 50", "ops/s")
            .with_samples(vec![vec![100.0, 300.0, 200.0], vec![1000.0]]);
        row.ceiling = vec![Some(50.0), None];
        Report {
            columns: vec!["sqlite".into(), "redis".into()],
            reference: 1,
            rows: vec![row],
            notes: vec!["a \"quoted\" note".into()],
            meta: Vec::new(),
            goals: Vec::new(),
        }
    }

    #[test]
    fn table_has_medians_and_ratios() {
        let table = report().table();
        let line = table.lines().nth(2).unwrap();
        assert!(line.starts_with("SET -c 50"), "{table}");
        assert!(
            line.contains(" 200.0 ") && line.contains("0.20x") && line.ends_with("4.00x"),
            "{table}"
        );
    }

    #[test]
    fn json_escapes_and_ratios() {
        let json = report().json();
        assert!(json.contains(r#""notes": ["a \"quoted\" note"]"#), "{json}");
        assert!(
            json.contains(r#""vs_reference": {"sqlite": 0.2}"#),
            "{json}"
        );
        assert!(json.contains(r#""vs_database": {"sqlite": 4}"#), "{json}");
    }
}
