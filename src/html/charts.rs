//! The report's charts, drawn by plotters into SVG text: a latency CDF per series, bars, a
//! time series with fault windows shaded, and paired differences with their intervals.

use plotters::prelude::*;

/// Chart size in pixels.
const SIZE: (u32, u32) = (640, 320);

/// Colours per series, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Draws with `draw` on a fresh SVG canvas; an empty string if plotters fails (a chart is
/// an aid, not worth failing a report for).
fn svg(
    draw: impl FnOnce(
        &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error>>,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        if root.fill(&WHITE).is_err() || draw(&root).is_err() || root.present().is_err() {
            return String::new();
        }
    }
    out
}

/// A chart builder on `root` with the report's caption style and margins.
fn builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55);
    builder
}

/// One CDF line per series of latencies (µs), in milliseconds.
pub fn latency_cdf(series: &[(String, Vec<u64>)]) -> String {
    let max_ms = series
        .iter()
        .flat_map(|(_, l)| l.iter())
        .max()
        .map_or(1.0, |&us| (us as f64 / 1000.0).max(0.001));
    svg(|root| {
        let mut chart =
            builder(root, "end-to-end latency, CDF").build_cartesian_2d(0f64..max_ms * 1.02, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("ms")
            .y_desc("share of answers")
            .draw()?;
        for (index, (label, latencies)) in series.iter().enumerate() {
            let mut sorted = latencies.clone();
            sorted.sort_unstable();
            let n = sorted.len().max(1) as f64;
            let points = sorted
                .iter()
                .enumerate()
                .map(|(i, us)| (*us as f64 / 1000.0, (i + 1) as f64 / n));
            let c = colour(index);
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        Ok(())
    })
}

/// One line per series of `(x, y)` points: a load curve.
pub fn lines(title: &str, x_desc: &str, unit: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let all = || series.iter().flat_map(|(_, points)| points.iter());
    let max_x = all().map(|p| p.0).fold(1e-9f64, f64::max);
    let max_y = all().map(|p| p.1).fold(1e-9f64, f64::max);
    svg(|root| {
        let mut chart = builder(root, title).build_cartesian_2d(0f64..max_x * 1.02, 0f64..max_y * 1.1)?;
        chart.configure_mesh().x_desc(x_desc).y_desc(unit).draw()?;
        for (index, (label, points)) in series.iter().enumerate() {
            let c = colour(index);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        Ok(())
    })
}

/// One bar per `(label, value)`.
pub fn bars(title: &str, unit: &str, values: &[(String, f64)]) -> String {
    let max = values.iter().map(|(_, v)| *v).fold(0.0f64, f64::max).max(1e-9);
    svg(|root| {
        let mut chart =
            builder(root, title).build_cartesian_2d((0..values.len()).into_segmented(), 0f64..max * 1.1)?;
        chart
            .configure_mesh()
            .y_desc(unit)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => values.get(*i).map_or(String::new(), |(l, _)| l.clone()),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, (_, v))| {
            let c = colour(i);
            Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                c.filled(),
            )
        }))?;
        Ok(())
    })
}

/// A series over time (ms) with the windows in `shaded` (ms) drawn behind it.
pub fn over_time(title: &str, unit: &str, points: &[(f64, f64)], shaded: &[(f64, f64)]) -> String {
    let max_x = points.iter().map(|p| p.0).fold(1.0f64, f64::max);
    let max_y = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1e-9);
    svg(|root| {
        let mut chart = builder(root, title).build_cartesian_2d(0f64..max_x, 0f64..max_y * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("virtual time, ms")
            .y_desc(unit)
            .draw()?;
        chart.draw_series(shaded.iter().map(|&(from, to)| {
            Rectangle::new(
                [(from, 0.0), (to.min(max_x), max_y * 1.1)],
                RGBColor(255, 200, 200).mix(0.5).filled(),
            )
        }))?;
        chart.draw_series(LineSeries::new(points.iter().copied(), colour(0).stroke_width(2)))?;
        Ok(())
    })
}

/// Each `(label, mean, half-width)` as a point with its 95% interval, around zero.
pub fn differences(title: &str, values: &[(String, f64, f64)]) -> String {
    let reach = values
        .iter()
        .map(|(_, m, c)| m.abs() + c)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    svg(|root| {
        let mut chart =
            builder(root, title).build_cartesian_2d((0..values.len()).into_segmented(), -reach..reach)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => values.get(*i).map_or(String::new(), |(l, _, _)| l.clone()),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, (_, mean, ci))| {
            // Coloured as its column in the other charts (the first column is the baseline).
            ErrorBar::new_vertical(
                SegmentValue::CenterOf(i),
                mean - ci,
                *mean,
                mean + ci,
                colour(i + 1).filled(),
                12,
            )
        }))?;
        Ok(())
    })
}
