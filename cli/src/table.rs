//! Aligned plain-text tables and key/value blocks, as a terminal shows them.

/// A table: a header row, then rows, every column as wide as its widest cell; numbers right-aligned.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|cell| (*cell).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|cell| cell.chars().count()).collect();
        for row in &self.rows {
            for (column, cell) in row.iter().enumerate().take(columns) {
                widths[column] = widths[column].max(cell.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..columns)
            .map(|column| {
                !self.rows.is_empty()
                    && self
                        .rows
                        .iter()
                        .all(|row| row.get(column).is_some_and(|cell| looks_numeric(cell)))
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = (0..columns)
                .map(|column| {
                    let cell = cells.get(column).map_or("", String::as_str);
                    if numeric[column] {
                        format!("{cell:>width$}", width = widths[column])
                    } else {
                        format!("{cell:<width$}", width = widths[column])
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut out = vec![line(&self.header)];
        out.extend(self.rows.iter().map(|row| line(row)));
        out.join("\n")
    }
}

fn looks_numeric(cell: &str) -> bool {
    let trimmed = cell.trim_end_matches('%').replace([',', '+'], "");
    !trimmed.is_empty() && (trimmed == "-" || trimmed.parse::<f64>().is_ok())
}

/// `key  value` lines, keys padded to the longest.
pub fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(key, _)| key.chars().count()).max().unwrap_or(0);
    rows.iter()
        .map(|(key, value)| format!("{key:<width$}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_sit_right() {
        let mut table = Table::new(&["pair", "trades", "profit %"]);
        table.row(vec!["BTC/USDT".into(), "12".into(), "3.25%".into()]);
        table.row(vec!["ETH/USDT".into(), "7".into(), "-1.50%".into()]);
        assert_eq!(
            table.render(),
            "pair      trades  profit %\nBTC/USDT      12     3.25%\nETH/USDT       7    -1.50%"
        );
    }

    #[test]
    fn keys_are_padded_to_the_longest() {
        assert_eq!(
            pairs(&[("run", "a".into()), ("status", "b".into())]),
            "run     a\nstatus  b"
        );
    }
}
