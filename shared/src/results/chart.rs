//! The equity curve as a small, self-contained SVG: no script, no external fonts or links, so it renders the same
//! in a browser, in MLflow's artifact view and in an e-mail.

use std::fmt::Write;

use super::EquityPoint;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 360.0;
/// The plot's edges: room on the left for the balance ticks, at the bottom for the dates.
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;
/// Ticks on each axis.
const TICKS: usize = 5;

/// The curve of `points` (in time order) as an SVG document titled `title`: labelled axes with ticks and grid
/// lines, and the drawdown — the fall below the running high — shaded.
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
    let x = |at_ms: i64| LEFT + (at_ms - first.at_ms) as f64 / span_ms * (WIDTH - LEFT - RIGHT);
    let y = |balance: f64| HEIGHT - BOTTOM - (balance - low) / (high - low) * (HEIGHT - TOP - BOTTOM);
    let shown = visible(points, |point| x(point.at_ms));
    let mut path = String::new();
    for (index, point) in shown.iter().enumerate() {
        let command = if index == 0 { 'M' } else { 'L' };
        let _infallible = write!(path, "{command}{:.1},{:.1} ", x(point.at_ms), y(point.balance));
    }
    // The drawdown: along the curve, then back along the running high.
    let mut running_high = f64::MIN;
    let highs: Vec<f64> = shown
        .iter()
        .map(|point| {
            running_high = running_high.max(point.balance);
            running_high
        })
        .collect();
    let mut drawdown = path.trim_end().to_owned();
    for (point, high) in shown.iter().zip(&highs).rev() {
        let _infallible = write!(drawdown, " L{:.1},{:.1}", x(point.at_ms), y(*high));
    }
    let mut axes = String::new();
    for tick in 0..TICKS {
        let fraction = tick as f64 / (TICKS - 1) as f64;
        let balance = low + (high - low) * fraction;
        let at = y(balance);
        let _infallible = write!(
            axes,
            r##"<line x1="{LEFT}" y1="{at:.1}" x2="{right}" y2="{at:.1}" stroke="#e0e0e0"/><text x="{label:.1}" y="{text:.1}" font-size="11" text-anchor="end">{balance:.2}</text>"##,
            right = WIDTH - RIGHT,
            label = LEFT - 6.0,
            text = at + 4.0,
        );
        let at_ms = first.at_ms + ((last.at_ms - first.at_ms) as f64 * fraction) as i64;
        let _infallible = write!(
            axes,
            r##"<line x1="{at:.1}" y1="{bottom}" x2="{at:.1}" y2="{tick_end}" stroke="#555555"/><text x="{at:.1}" y="{label}" font-size="11" text-anchor="middle">{date}</text>"##,
            at = x(at_ms),
            bottom = HEIGHT - BOTTOM,
            tick_end = HEIGHT - BOTTOM + 5.0,
            label = HEIGHT - BOTTOM + 18.0,
            date = date(at_ms),
        );
    }
    let body = format!(
        concat!(
            "{axes}",
            r##"<path d="{drawdown} Z" fill="#d62728" fill-opacity="0.25" stroke="none"/>"##,
            r##"<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##,
            r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#555555"/>"##,
            r##"<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555555"/>"##,
            r##"<text x="16" y="{middle}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {middle})">"##,
            r##"balance (stake currency)</text>"##,
            r##"<text x="{center}" y="{xlabel}" font-size="12" text-anchor="middle">trade close (UTC)</text>"##,
            r##"<rect x="{legend}" y="14" width="12" height="10" fill="#d62728" fill-opacity="0.25"/>"##,
            r##"<text x="{legend_text}" y="23" font-size="11">drawdown from the running high</text>"##,
        ),
        axes = axes,
        drawdown = drawdown,
        path = path.trim_end(),
        left = LEFT,
        top = TOP,
        bottom = HEIGHT - BOTTOM,
        right = WIDTH - RIGHT,
        middle = (TOP + HEIGHT - BOTTOM) / 2.0,
        center = (LEFT + WIDTH - RIGHT) / 2.0,
        xlabel = HEIGHT - 12.0,
        legend = WIDTH - RIGHT - 200.0,
        legend_text = WIDTH - RIGHT - 184.0,
    );
    frame(title, &body, "")
}

/// The points that can be seen at this width: per pixel column its first, lowest, highest and last point, in time
/// order, so a curve of 100 000 trades draws the same picture from a few thousand points.
fn visible(points: &[EquityPoint], x: impl Fn(&EquityPoint) -> f64) -> Vec<EquityPoint> {
    let columns = (WIDTH - LEFT - RIGHT) as usize;
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
    let note = format!(
        r##"<text x="{cx}" y="{cy}" font-size="12" text-anchor="middle">{note}</text>"##,
        cx = WIDTH / 2.0,
        cy = HEIGHT / 2.0,
        note = escape(note),
    );
    document(WIDTH, HEIGHT, LEFT, title, &format!("{body}{note}"))
}

/// A self-contained SVG document of `width` × `height` on white, its title written at `title_x` and given to
/// screen readers, then `body`.
pub(crate) fn document(width: f64, height: f64, title_x: f64, title: &str, body: &str) -> String {
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" "##,
            r##"font-family="sans-serif" role="img" aria-label="{title}">"##,
            r##"<title>{title}</title><rect width="100%" height="100%" fill="#ffffff"/>"##,
            r##"<text x="{m}" y="24" font-size="14">{title}</text>{body}</svg>"##,
        ),
        w = width,
        h = height,
        m = title_x,
        title = escape(title),
        body = body,
    )
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub(crate) fn escape(text: &str) -> String {
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
        // First point at the left edge, last at the right; the low at the bottom, the high at the top.
        assert!(svg.contains("M80.0,216.0 L428.0,40.0 L776.0,304.0"), "{svg}");
        // The drawdown runs back along the running high: 1100 from the second point on, 1000 before.
        assert!(svg.contains("L776.0,40.0 L428.0,40.0 L80.0,216.0 Z"), "{svg}");
        assert!(svg.contains("balance (stake currency)") && svg.contains("trade close (UTC)"));
        assert!(
            svg.contains(">1100.00<") && svg.contains(">950.00<") && svg.contains(">1025.00<"),
            "ticks"
        );
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
        assert!(svg.contains(",40.0 "), "the highest point is drawn");
        let highest = points.iter().map(|p| p.balance).fold(f64::MIN, f64::max);
        assert!(highest > 1400.0, "the spike is the highest point");
        assert!(svg.contains(&format!(">{highest:.2}<")), "{}", &svg[svg.len() - 400..]);
    }

    #[test]
    fn a_curve_without_points_says_so() {
        assert!(equity_svg("S", &[]).contains("no trades"));
    }
}
