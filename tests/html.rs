//! The HTML reports in a real browser: headless Chromium loads each page, no script fails,
//! the charts and a sequence diagram are in the rendered DOM, and a screenshot is saved.
//!
//! Without Chromium the test says so and passes, so `cargo test` works on any machine;
//! `.ci/run` installs Chromium and sets `CONSIM_REQUIRE_BROWSER=1`, which makes its absence a
//! failure there.

use std::path::{Path, PathBuf};
use std::process::Command;

use consim::scenario;
use consim::sim::TraceLevel;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let found = Command::new("which").arg(name).output().ok()?;
            found
                .status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
        })
}

/// The DOM after the page's scripts ran, and a screenshot beside the page.
fn render(browser: &Path, page: &Path) -> String {
    let url = format!("file://{}", page.display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"];
    let dom = Command::new(browser)
        .args(headless)
        .args(["--virtual-time-budget=5000", "--dump-dom", &url])
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = page.with_extension("png");
    let status = Command::new(browser)
        .args(headless)
        .args([
            "--window-size=1400,2000",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        status.status.success() && shot.exists(),
        "no screenshot of {}",
        page.display()
    );
    String::from_utf8(dom.stdout).unwrap()
}

#[test]
fn the_run_and_compare_pages_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CONSIM_REQUIRE_BROWSER").is_err(),
            "CONSIM_REQUIRE_BROWSER is set but no Chromium is installed"
        );
        eprintln!("skipped: no Chromium (Debian: apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("consim-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let twin = scenario::load(Path::new("scenarios/twin_dual_write.ron")).unwrap();
    let run = consim::runner::run(&twin, twin.seed, TraceLevel::Full);
    let run_page = dir.join("run.html");
    std::fs::write(&run_page, consim::html::run_page("twin_dual_write", &run)).unwrap();

    let partition = scenario::load(Path::new("scenarios/food_partition.ron")).unwrap();
    let variants =
        consim::compare::strategy_variants(&partition, &["two_pc".into(), "saga_orchestrated".into()])
            .unwrap();
    let pool = consim::seeds::pool(Some(2)).unwrap();
    let comparison = consim::compare::compare_variants("food_partition", &variants, 0..2, &pool);
    let runs: Vec<(String, consim::runner::Run)> = variants
        .iter()
        .map(|v| {
            (
                v.label.clone(),
                consim::runner::run(&v.scenario, 0, TraceLevel::Full),
            )
        })
        .collect();
    let compare_page = dir.join("compare.html");
    let html = consim::html::compare_page("food_partition", &comparison, &comparison.to_table(), &runs);
    for load in ["<script src", "<link", "src=\"http", "href=\"http", "@import"] {
        assert!(
            !html.contains(load),
            "the page loads something ({load}): it must be self-contained"
        );
    }
    std::fs::write(&compare_page, html).unwrap();

    // A load curve: three charts, one line per strategy.
    let point = |value: f64, strategy: &str, throughput: f64| consim::compare::CurvePoint {
        value,
        strategy: strategy.into(),
        throughput_per_s: Some(throughput),
        latency_p99_us: Some(20_000.0),
        availability: Some(1.0),
    };
    let curve = consim::compare::Curve::new(
        "workload.arrival.rate_per_s",
        vec![
            point(100.0, "a", 99.0),
            point(100.0, "b", 98.0),
            point(200.0, "a", 190.0),
            point(200.0, "b", 120.0),
        ],
    );
    let curve_page = dir.join("curve.html");
    std::fs::write(&curve_page, consim::html::curve_page("curve", &curve)).unwrap();
    let dom = render(&browser, &curve_page);
    assert!(
        dom.contains("data-ready=\"1\"") && !dom.contains("data-error"),
        "curve page"
    );
    assert_eq!(dom.matches("<svg").count(), 3, "throughput, p99 and availability");

    for (page, charts) in [(&run_page, 5), (&compare_page, 4)] {
        let dom = render(&browser, page);
        assert!(
            dom.contains("data-ready=\"1\""),
            "{}: the script did not finish",
            page.display()
        );
        assert!(!dom.contains("data-error"), "{}: a script error", page.display());
        let svgs = dom.matches("<svg").count();
        assert!(
            svgs > charts,
            "{}: {svgs} SVGs, expected {charts} charts and diagrams",
            page.display()
        );
        assert!(
            dom.contains("class=\"diagram\" id=\"gtx-0\">"),
            "{}: the chosen diagram is shown",
            page.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
