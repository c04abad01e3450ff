//! A sweep at a glance, as a self-contained SVG like the equity chart: for a grid of two parameters a heatmap of
//! the ranking metric (one cell per combination, green the better end, the best outlined), otherwise the ranked
//! table of the leaderboard's first rows.

use std::fmt::Write;

use serde_json::Value;

use super::leaderboard::{Better, Leaderboard, Row};
use super::space::ParameterSpace;
use crate::results::chart::{document, escape};

const WIDTH: f64 = 800.0;
/// The plot's edges: room on the left for the row labels, at the top for the title and the column labels.
const LEFT: f64 = 120.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 72.0;
const BOTTOM: f64 = 48.0;
const CELL_HEIGHT_MAX: f64 = 48.0;
/// Cells narrower than this carry no number.
const LABELLED_CELL_WIDTH: f64 = 36.0;
/// Rows the table shows; the leaderboard has them all.
const TABLE_ROWS: usize = 25;
const TABLE_ROW_HEIGHT: f64 = 20.0;

/// The picture of `board` over `space`, titled `title`.
pub fn sweep_svg(title: &str, space: &ParameterSpace, board: &Leaderboard) -> String {
    match space {
        ParameterSpace::Grid(grid) if grid.len() == 2 => {
            let mut axes = grid.iter();
            match (axes.next(), axes.next()) {
                (Some((rows, row_values)), Some((columns, column_values))) => heatmap(
                    title,
                    board,
                    (&rows.to_string(), row_values),
                    (&columns.to_string(), column_values),
                ),
                _ => table(title, board),
            }
        }
        _ => table(title, board),
    }
}

fn heatmap(title: &str, board: &Leaderboard, rows: (&str, &[Value]), columns: (&str, &[Value])) -> String {
    let values: Vec<f64> = board.rows.iter().filter_map(|row| row.value).collect();
    let (low, high) = values.iter().fold((f64::MAX, f64::MIN), |(low, high), value| {
        (low.min(*value), high.max(*value))
    });
    let cell_width = (WIDTH - LEFT - RIGHT) / columns.1.len() as f64;
    let cell_height = ((360.0 - TOP - BOTTOM) / rows.1.len() as f64).clamp(14.0, CELL_HEIGHT_MAX);
    let height = TOP + cell_height * rows.1.len() as f64 + BOTTOM;
    let mut body = String::new();
    for (column, value) in columns.1.iter().enumerate() {
        let _infallible = write!(
            body,
            r##"<text x="{x:.1}" y="{y}" font-size="11" text-anchor="middle">{label}</text>"##,
            x = LEFT + cell_width * (column as f64 + 0.5),
            y = TOP - 8.0,
            label = escape(&value_label(value)),
        );
    }
    let mut best = String::new();
    for (row_index, row_value) in rows.1.iter().enumerate() {
        let y = TOP + cell_height * row_index as f64;
        let _infallible = write!(
            body,
            r##"<text x="{x}" y="{text_y:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            x = LEFT - 8.0,
            text_y = y + cell_height / 2.0 + 4.0,
            label = escape(&value_label(row_value)),
        );
        for (column, column_value) in columns.1.iter().enumerate() {
            let x = LEFT + cell_width * column as f64;
            let child = board.rows.iter().find(|row| {
                row.parameters.get(rows.0) == Some(row_value) && row.parameters.get(columns.0) == Some(column_value)
            });
            let value = child.and_then(|row| row.value);
            let fill = value.map_or_else(|| "#eeeeee".to_owned(), |value| color(value, low, high, board.better));
            let _infallible = write!(
                body,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" stroke="#ffffff"/>"##,
                w = cell_width,
                h = cell_height,
            );
            if cell_width >= LABELLED_CELL_WIDTH {
                let label = match (value, child) {
                    (Some(value), _) => format!("{value:.2}"),
                    (None, Some(row)) => row.status.to_lowercase(),
                    (None, None) => String::new(),
                };
                let _infallible = write!(
                    body,
                    r##"<text x="{cx:.1}" y="{cy:.1}" font-size="11" text-anchor="middle">{label}</text>"##,
                    cx = x + cell_width / 2.0,
                    cy = y + cell_height / 2.0 + 4.0,
                    label = escape(&label),
                );
            }
            if child.is_some_and(|row| row.best) {
                let _infallible = write!(
                    best,
                    r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#000000" stroke-width="3"><title>best</title></rect>"##,
                    x = x + 1.5,
                    y = y + 1.5,
                    w = cell_width - 3.0,
                    h = cell_height - 3.0,
                );
            }
        }
    }
    let _infallible = write!(
        body,
        concat!(
            "{best}",
            r##"<text x="{cx:.1}" y="{top_label}" font-size="12" text-anchor="middle">{columns}</text>"##,
            r##"<text x="16" y="{cy:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {cy:.1})">{rows}</text>"##,
            r##"<text x="{left}" y="{legend_y:.1}" font-size="11">{legend}</text>"##,
        ),
        best = best,
        left = LEFT,
        cx = (LEFT + WIDTH - RIGHT) / 2.0,
        top_label = TOP - 26.0,
        columns = escape(columns.0),
        cy = TOP + cell_height * rows.1.len() as f64 / 2.0,
        rows = escape(rows.0),
        legend_y = height - 18.0,
        legend = escape(&legend(board, low, high, values.is_empty())),
    );
    frame(title, height, &body)
}

fn table(title: &str, board: &Leaderboard) -> String {
    let name = board.rank_by.metric();
    let shown: Vec<&Row> = board.rows.iter().take(TABLE_ROWS).collect();
    let height = TOP + TABLE_ROW_HEIGHT * (shown.len() as f64 + 1.0) + BOTTOM;
    let mut body = String::new();
    let header = ["rank", name, "parameters"];
    let columns = [LEFT - 96.0, LEFT - 40.0, LEFT + 60.0];
    for (label, x) in header.iter().zip(columns) {
        let _infallible = write!(
            body,
            r##"<text x="{x}" y="{TOP}" font-size="12" font-weight="bold">{label}</text>"##,
            label = escape(label),
        );
    }
    for (index, row) in shown.iter().enumerate() {
        let y = TOP + TABLE_ROW_HEIGHT * (index as f64 + 1.0);
        let weight = if row.best { "bold" } else { "normal" };
        let rank = row
            .rank
            .map_or_else(|| row.status.to_lowercase(), |rank| rank.to_string());
        let value = row.value.map_or_else(|| "—".to_owned(), |value| format!("{value:.2}"));
        let parameters: Vec<String> = row
            .parameters
            .iter()
            .map(|(name, value)| format!("{name}={}", value_label(value)))
            .collect();
        for (text, x) in [rank, value, parameters.join(" ")].iter().zip(columns) {
            let _infallible = write!(
                body,
                r##"<text x="{x}" y="{y:.1}" font-size="11" font-weight="{weight}">{text}</text>"##,
                text = escape(text),
            );
        }
    }
    if board.rows.len() > shown.len() {
        let _infallible = write!(
            body,
            r##"<text x="{LEFT}" y="{y:.1}" font-size="11">and {more} more in leaderboard.json</text>"##,
            y = height - 18.0,
            more = board.rows.len() - shown.len(),
        );
    }
    frame(title, height, &body)
}

fn legend(board: &Leaderboard, low: f64, high: f64, empty: bool) -> String {
    let name = board.rank_by.metric();
    if empty {
        return format!("{name}: no child has completed yet");
    }
    let (worst, best) = match board.better {
        Better::Higher => (low, high),
        Better::Lower => (high, low),
    };
    format!("{name}: red {worst:.2} (worst) to green {best:.2} (best); the best combination is outlined")
}

/// From red (worst) through white to green (best).
fn color(value: f64, low: f64, high: f64, better: Better) -> String {
    let mut fraction = if high - low < 1e-12 {
        1.0
    } else {
        (value - low) / (high - low)
    };
    if better == Better::Lower {
        fraction = 1.0 - fraction;
    }
    let (worst, middle, best) = ((214.0, 39.0, 40.0), (255.0, 255.0, 255.0), (44.0, 160.0, 44.0));
    let (from, to, t) = if fraction < 0.5 {
        (worst, middle, fraction * 2.0)
    } else {
        (middle, best, (fraction - 0.5) * 2.0)
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round().clamp(0.0, 255.0) as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(from.0, to.0),
        mix(from.1, to.1),
        mix(from.2, to.2)
    )
}

fn value_label(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn frame(title: &str, height: f64, body: &str) -> String {
    document(WIDTH, height, LEFT - 96.0, title, body)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::sweep::leaderboard::{Child, RankBy, leaderboard};
    use crate::sweep::{Combination, Parameter};

    fn combination(values: &[(&str, Value)]) -> Combination {
        values
            .iter()
            .map(|(name, value)| (Parameter::parse(name).expect("a name"), value.clone()))
            .collect()
    }

    /// A child per combination of `space`: COMPLETED with `summary(index)`, or RUNNING where that is none.
    fn children(space: &ParameterSpace, summary: impl Fn(usize) -> Option<Value>) -> Vec<Child> {
        space
            .combinations()
            .expect("a grid")
            .into_iter()
            .enumerate()
            .map(|(index, parameters)| {
                let summary = summary(index);
                Child {
                    index,
                    run_id: format!("run-{index}"),
                    status: if summary.is_some() { "COMPLETED" } else { "RUNNING" }.to_owned(),
                    summary,
                    parameters,
                }
            })
            .collect()
    }

    fn grid_sweep() -> (ParameterSpace, Leaderboard) {
        let space = ParameterSpace::from_json(
            "space",
            &json!({"grid": {"buy_rsi": [25, 30, 35], "stoploss": [-0.05, -0.1]}}),
        )
        .expect("a space");
        let children = children(&space, |index| {
            (index != 5).then(|| json!({"sharpe": index as f64 * 0.5 - 1.0}))
        });
        (space, leaderboard(RankBy::default(), &children))
    }

    #[test]
    fn a_two_parameter_grid_is_a_heatmap_with_a_cell_each_and_the_best_outlined() {
        let (space, board) = grid_sweep();
        let svg = sweep_svg("SampleStrategy sweep <s1>", &space, &board);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>"));
        // Three rows of two cells, and the background.
        assert_eq!(svg.matches("<rect ").count(), 1 + 6 + 1, "{svg}");
        // Sharpe -1.0 (the worst) is red, 1.0 (the best, run-4: buy_rsi 35, stoploss -0.05) green, the running
        // child grey and labelled with its status.
        assert!(
            svg.contains(r##"fill="#d62728""##) && svg.contains(r##"fill="#2ca02c""##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"fill="#eeeeee""##) && svg.contains(">running<"),
            "{svg}"
        );
        assert_eq!(board.best.as_deref(), Some("run-4"));
        let outline = svg.find("<title>best</title>").expect("the best is outlined");
        let cell = svg.find(">1.00<").expect("the best value is written");
        assert!(cell < outline);
        assert!(svg.contains(">buy_rsi<") && svg.contains(">stoploss<") && svg.contains(">-0.05<"));
        assert!(svg.contains("SampleStrategy sweep &lt;s1&gt;"));
        assert!(svg.contains("red -1.00 (worst) to green 1.00 (best)"), "{svg}");
    }

    #[test]
    fn a_heatmap_ranked_by_a_metric_the_rows_do_not_list_still_shows_it() {
        let space =
            ParameterSpace::from_json("space", &json!({"grid": {"buy_a": [1, 2], "buy_b": [3]}})).expect("a space");
        let children = children(&space, |index| {
            Some(json!({"max_drawdown_abs": 10.0 * (index as f64 + 1.0)}))
        });
        let board = leaderboard(RankBy::parse("max_drawdown_abs").expect("rankable"), &children);
        let svg = sweep_svg("S", &space, &board);
        assert!(svg.contains(">10.00<") && svg.contains(">20.00<"), "{svg}");
        assert!(!svg.contains(r##"fill="#eeeeee""##), "no cell is left grey: {svg}");
    }

    #[test]
    fn other_spaces_are_the_ranked_table() {
        let space = ParameterSpace::from_json("space", &json!({"grid": {"buy_rsi": [25, 30]}})).expect("a space");
        let children: Vec<Child> = (0..30)
            .map(|index| Child {
                index,
                run_id: format!("run-{index}"),
                status: "COMPLETED".into(),
                parameters: combination(&[("buy_rsi", json!(index)), ("buy.trend", json!("ema"))]),
                summary: Some(json!({"max_drawdown_pct": 30.0 - index as f64})),
            })
            .collect();
        let board = leaderboard(RankBy::parse("max_drawdown_pct").expect("rankable"), &children);
        let svg = sweep_svg("S", &space, &board);
        assert!(!svg.contains("<title>best</title>"), "a table, not a heatmap");
        let first = svg.find("buy_rsi=29").expect("the lowest drawdown first");
        let second = svg.find("buy_rsi=28").expect("then the next");
        assert!(first < second);
        assert!(svg.contains(r##"font-weight="bold">1<"##), "the best row is bold");
        assert!(svg.contains("and 5 more in leaderboard.json"));
        assert!(svg.contains("buy.trend=ema"));
    }

    #[test]
    fn a_heatmap_before_any_child_completes_says_so() {
        let space =
            ParameterSpace::from_json("space", &json!({"grid": {"buy_a": [1, 2], "buy_b": [3]}})).expect("a space");
        let children = [Child {
            index: 0,
            run_id: "run-0".into(),
            status: "QUEUED".into(),
            parameters: BTreeMap::new(),
            summary: None,
        }];
        let svg = sweep_svg("S", &space, &leaderboard(RankBy::default(), &children));
        assert!(svg.contains("no child has completed yet"), "{svg}");
    }
}
