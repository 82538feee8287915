//! Test-case results: read from nextest's JUnit report or from libtest's output, and written
//! back as one JUnit file per phase report.

use std::path::Path;

use anyhow::{Context, Result};
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// The test target (binary), e.g. `config_bridge`.
    pub target: String,
    /// The test path inside the target, e.g. `parity::params_cfg_matches_baseline`.
    pub name: String,
    pub status: CaseStatus,
    pub time_s: f64,
    pub message: Option<String>,
}

/// Reads every `<testcase>` of a nextest JUnit report.
pub fn read_cases(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the junit report {}", path.display()))?;
    parse_junit(&text).with_context(|| format!("parsing the junit report {}", path.display()))
}

pub fn parse_junit(text: &str) -> Result<Vec<Case>> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    loop {
        match reader.read_event()? {
            Event::Start(e) if e.name().into_inner() == "testcase" => current = Some(new_case(&e)?),
            Event::Empty(e) if e.name().into_inner() == "testcase" => cases.push(new_case(&e)?),
            Event::Start(e) | Event::Empty(e) => {
                if let Some(case) = current.as_mut() {
                    match e.name().into_inner() {
                        "failure" | "error" => {
                            case.status = CaseStatus::Failed;
                            case.message = attribute(&e, "message")?;
                        }
                        "skipped" => case.status = CaseStatus::Skipped,
                        _ => {}
                    }
                }
            }
            Event::End(e) if e.name().into_inner() == "testcase" => {
                cases.extend(current.take());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(cases)
}

fn new_case(e: &BytesStart<'_>) -> Result<Case> {
    let classname = attribute(e, "classname")?.unwrap_or_default();
    // nextest names a suite `<package>::<binary>`; the target is the part after the package.
    let target = classname.rsplit("::").next().unwrap_or_default().to_owned();
    Ok(Case {
        target,
        name: attribute(e, "name")?.context("a <testcase> has no name")?,
        status: CaseStatus::Passed,
        time_s: attribute(e, "time")?
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0),
        message: None,
    })
}

fn attribute(e: &BytesStart<'_>, key: &str) -> Result<Option<String>> {
    for attr in e.attributes() {
        let attr = attr?;
        if attr.key.into_inner() == key {
            return Ok(Some(
                attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)?
                    .into_owned(),
            ));
        }
    }
    Ok(None)
}

/// Reads libtest's `test NAME ... ok|FAILED|ignored` lines (the `cargo test` fallback).
pub fn parse_libtest(target: &str, output: &str) -> Vec<Case> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (name, result) = rest.rsplit_once(" ... ")?;
            let status = match result.trim() {
                "ok" => CaseStatus::Passed,
                "FAILED" => CaseStatus::Failed,
                r if r.starts_with("ignored") => CaseStatus::Skipped,
                _ => return None,
            };
            Some(Case {
                target: target.to_owned(),
                name: name.to_owned(),
                status,
                time_s: 0.0,
                message: None,
            })
        })
        .collect()
}

/// One JUnit document: a `<testsuite>` per (suite name, cases) pair.
pub fn render(name: &str, suites: &[(String, Vec<Case>)]) -> String {
    let all: Vec<&Case> = suites.iter().flat_map(|(_, cases)| cases).collect();
    let failures = all
        .iter()
        .filter(|c| c.status == CaseStatus::Failed)
        .count();
    let skipped = all
        .iter()
        .filter(|c| c.status == CaseStatus::Skipped)
        .count();
    let time: f64 = all.iter().map(|c| c.time_s).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml += &format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">\n",
        escape(name),
        all.len()
    );
    for (suite, cases) in suites {
        let failures = cases
            .iter()
            .filter(|c| c.status == CaseStatus::Failed)
            .count();
        let skipped = cases
            .iter()
            .filter(|c| c.status == CaseStatus::Skipped)
            .count();
        xml += &format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
            escape(suite.as_str()),
            cases.len()
        );
        for case in cases {
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                escape(case.name.as_str()),
                escape(case.target.as_str()),
                case.time_s
            );
            match case.status {
                CaseStatus::Passed => xml += &format!("{open}/>\n"),
                CaseStatus::Skipped => {
                    xml += &format!("{open}>\n      <skipped/>\n    </testcase>\n")
                }
                CaseStatus::Failed => {
                    let message = case.message.as_deref().unwrap_or("test failed");
                    xml += &format!(
                        "{open}>\n      <failure message=\"{}\"/>\n    </testcase>\n",
                        escape(message)
                    );
                }
            }
        }
        xml += "  </testsuite>\n";
    }
    xml += "</testsuites>\n";
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXTEST_REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0">
  <testsuite name="ptychopinn::config_bridge" tests="3" disabled="0" errors="0" failures="1">
    <testcase name="mvp::mvp_populates" classname="ptychopinn::config_bridge" time="0.012"/>
    <testcase name="parity::params_cfg_matches_baseline" classname="ptychopinn::config_bridge" time="0.5">
      <failure message="thread panicked at &apos;N differs&apos;" type="test failure">details</failure>
      <system-out>out</system-out>
    </testcase>
    <testcase name="parity::slow" classname="ptychopinn::config_bridge" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn reads_nextest_junit() {
        let cases = parse_junit(NEXTEST_REPORT).unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].target, "config_bridge");
        assert_eq!(cases[0].status, CaseStatus::Passed);
        assert!((cases[1].time_s - 0.5).abs() < 1e-12);
        assert_eq!(cases[1].status, CaseStatus::Failed);
        assert_eq!(
            cases[1].message.as_deref(),
            Some("thread panicked at 'N differs'")
        );
        assert_eq!(cases[2].status, CaseStatus::Skipped);
    }

    #[test]
    fn reads_libtest_lines() {
        let out = "running 3 tests\ntest a::b ... ok\ntest a::c ... FAILED\ntest d ... ignored, slow\n\ntest result: FAILED";
        let cases = parse_libtest("t", out);
        let statuses: Vec<_> = cases.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            statuses,
            [
                ("a::b", CaseStatus::Passed),
                ("a::c", CaseStatus::Failed),
                ("d", CaseStatus::Skipped)
            ]
        );
    }

    #[test]
    fn rendered_report_reads_back() {
        let cases = parse_junit(NEXTEST_REPORT).unwrap();
        let xml = render("phase d4c", &[("config_bridge".to_owned(), cases.clone())]);
        assert!(xml.contains(
            r#"<testsuites name="phase d4c" tests="3" failures="1" errors="0" skipped="1""#
        ));
        let again = parse_junit(&xml).unwrap();
        assert_eq!(again.len(), 3);
        assert_eq!(again[1].message, cases[1].message);
        assert_eq!(again[2].status, CaseStatus::Skipped);
    }
}
