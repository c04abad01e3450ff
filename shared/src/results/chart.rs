//! The equity curve as a small, self-contained SVG: no script, no external fonts or links, so it renders the same
//! in a browser, in MLflow's artifact view and in an e-mail.

use std::fmt::Write;

use super::EquityPoint;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 320.0;
const MARGIN: f64 = 48.0;

/// The curve of `points` (in time order) as an SVG document titled `title`.
pub fn equity_svg(title: &str, points: &[EquityPoint]) -> String {
    let (first, last) = match (points.first(), points.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => return frame(title, "", "no trades"),
    };
    let (low, high) = points.iter().fold((f64::MAX, f64::MIN), |(low, high), point| {
        (low.min(point.balance), high.max(point.balance))
    });
    // A flat curve still needs a band to draw in.
    let (low, high) = if high - low < 1e-9 {
        (low - 1.0, high + 1.0)
    } else {
        (low, high)
    };
    let span_ms = (last.at_ms - first.at_ms).max(1) as f64;
    let x = |at_ms: i64| MARGIN + (at_ms - first.at_ms) as f64 / span_ms * (WIDTH - 2.0 * MARGIN);
    let y = |balance: f64| HEIGHT - MARGIN - (balance - low) / (high - low) * (HEIGHT - 2.0 * MARGIN);
    let mut path = String::new();
    for (index, point) in visible(points, |point| x(point.at_ms)).iter().enumerate() {
        let command = if index == 0 { 'M' } else { 'L' };
        let _infallible = write!(path, "{command}{:.1},{:.1} ", x(point.at_ms), y(point.balance));
    }
    let body = format!(
        concat!(
            r##"<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##,
            r##"<text x="{left}" y="{top}" font-size="11">{high:.2}</text>"##,
            r##"<text x="{left}" y="{bottom}" font-size="11">{low:.2}</text>"##,
            r##"<text x="{margin}" y="{axis}" font-size="11">{start}</text>"##,
            r##"<text x="{right}" y="{axis}" font-size="11" text-anchor="end">{end}</text>"##,
        ),
        path = path.trim_end(),
        left = 4.0,
        top = MARGIN,
        bottom = HEIGHT - MARGIN,
        high = high,
        low = low,
        margin = MARGIN,
        right = WIDTH - MARGIN,
        axis = HEIGHT - MARGIN / 3.0,
        start = date(first.at_ms),
        end = date(last.at_ms),
    );
    frame(title, &body, "")
}

/// The points that can be seen at this width: per pixel column its first, lowest, highest and last point, in time
/// order, so a curve of 100 000 trades draws the same picture from a few thousand points.
fn visible(points: &[EquityPoint], x: impl Fn(&EquityPoint) -> f64) -> Vec<EquityPoint> {
    let columns = (WIDTH - 2.0 * MARGIN) as usize;
    if points.len() <= 4 * columns {
        return points.to_vec();
    }
    let mut kept = Vec::with_capacity(4 * columns + 1);
    let mut start = 0;
    while start < points.len() {
        let column = x(&points[start]).floor();
        let end = (start..points.len())
            .find(|&index| x(&points[index]).floor() != column)
            .unwrap_or(points.len());
        let bucket = &points[start..end];
        let (mut low, mut high) = (0, 0);
        for (index, point) in bucket.iter().enumerate() {
            if point.balance < bucket[low].balance {
                low = index;
            }
            if point.balance > bucket[high].balance {
                high = index;
            }
        }
        let mut chosen = [0, low, high, bucket.len() - 1];
        chosen.sort_unstable();
        let mut previous = None;
        for index in chosen {
            if previous != Some(index) {
                kept.push(bucket[index]);
                previous = Some(index);
            }
        }
        start = end;
    }
    kept
}

fn frame(title: &str, body: &str, note: &str) -> String {
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" "##,
            r##"font-family="sans-serif" role="img" aria-label="{title}">"##,
            r##"<title>{title}</title><rect width="100%" height="100%" fill="#ffffff"/>"##,
            r##"<text x="{m}" y="24" font-size="14">{title}</text>{body}"##,
            r##"<text x="{cx}" y="{cy}" font-size="12" text-anchor="middle">{note}</text></svg>"##,
        ),
        w = WIDTH,
        h = HEIGHT,
        m = MARGIN,
        title = escape(title),
        body = body,
        cx = WIDTH / 2.0,
        cy = HEIGHT / 2.0,
        note = escape(note),
    )
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_spans_the_plot_from_first_to_last_point() {
        let points = [
            EquityPoint {
                at_ms: 0,
                balance: 1000.0,
            },
            EquityPoint {
                at_ms: 86_400_000,
                balance: 1100.0,
            },
            EquityPoint {
                at_ms: 2 * 86_400_000,
                balance: 950.0,
            },
        ];
        let svg = equity_svg("EmaCross <run>", &points);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        // First point at the left margin, last at the right; the low at the bottom, the high at the top.
        assert!(svg.contains("M48.0,197.3 L400.0,48.0 L752.0,272.0"), "{svg}");
        assert!(svg.contains("EmaCross &lt;run&gt;"));
        assert!(svg.contains("1970-01-01") && svg.contains("1970-01-03"));
    }

    #[test]
    fn a_long_curve_keeps_each_columns_extremes_and_stays_small() {
        let points: Vec<EquityPoint> = (0..100_000)
            .map(|i| EquityPoint {
                at_ms: i * 60_000,
                balance: 1000.0 + (i as f64 / 500.0).sin() * 100.0 + if i == 54_321 { 400.0 } else { 0.0 },
            })
            .collect();
        let svg = equity_svg("S", &points);
        assert!(svg.len() < 100 * 1024, "{} bytes", svg.len());
        // The spike is one point of 100 000, and still the top of the chart.
        assert!(svg.contains(",48.0 "), "the highest point is drawn");
        let highest = points.iter().map(|p| p.balance).fold(f64::MIN, f64::max);
        assert!(highest > 1400.0, "the spike is the highest point");
        assert!(svg.contains(&format!(">{highest:.2}<")), "{}", &svg[svg.len() - 400..]);
    }

    #[test]
    fn a_curve_without_points_says_so() {
        assert!(equity_svg("S", &[]).contains("no trades"));
    }
}
