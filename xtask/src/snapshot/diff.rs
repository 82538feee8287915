//! Unified diffs for humans: `similar`'s unified diff, cut after [`MAX_LINES`] lines so that a
//! large change cannot flood a CI log (as ruff's generated-file checks do).

use similar::TextDiff;

pub const MAX_LINES: usize = 100;

/// The unified diff from `old` to `new` with 3 lines of context, truncated at [`MAX_LINES`].
pub fn render(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    let full = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    truncate(&full, MAX_LINES)
}

fn truncate(text: &str, max_lines: usize) -> String {
    let total = text.lines().count();
    if total <= max_lines {
        return text.to_owned();
    }
    let mut kept: String = text
        .lines()
        .take(max_lines)
        .flat_map(|l| [l, "\n"])
        .collect();
    kept += &format!("... diff truncated: {} more lines\n", total - max_lines);
    kept
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data")
            .join(name)
    }

    #[test]
    fn short_diff_matches_golden() {
        let old = "{\n  \"N\": 64,\n  \"gridsize\": 1,\n  \"nphotons\": 1000000000.0\n}\n";
        let new = "{\n  \"N\": 128,\n  \"gridsize\": 1,\n  \"nphotons\": 1000000000.0\n}\n";
        crate::golden::check(
            &data("diff_short.txt"),
            &render(old, new, "a/baseline.json", "b/generated.json"),
        );
    }

    #[test]
    fn long_diff_is_truncated_with_a_marker() {
        let old: String = (0..300).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..300).map(|i| format!("line {}\n", i * 2)).collect();
        let out = render(&old, &new, "a", "b");
        assert_eq!(out.lines().count(), MAX_LINES + 1);
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with("... diff truncated: ") && last.ends_with(" more lines"),
            "{last}"
        );
        crate::golden::check(&data("diff_truncated.txt"), &out);
    }

    #[test]
    fn change_after_a_long_unchanged_prefix_keeps_only_context() {
        let old: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 450\n", "line four hundred fifty\n");
        let out = render(&old, &new, "a", "b");
        assert!(out.contains("@@ -448,7 +448,7 @@"), "{out}");
        assert!(
            out.contains("-line 450\n+line four hundred fifty\n"),
            "{out}"
        );
        assert!(!out.contains("line 10\n"));
    }

    #[test]
    fn identical_inputs_give_no_diff() {
        assert_eq!(render("a\n", "a\n", "x", "y"), "");
    }
}
