//! Versions as the fleet reports them, compared as versions: `0.65` is newer than `0.9`.
use std::cmp::Ordering;

/// The text of a reported version: the service sets `major` or `minor` (a oneof upstream), the
/// sandbox both, which read as `major.minor`; `None` when neither is set.
pub fn text(major: &str, minor: &str) -> Option<String> {
    match (major.is_empty(), minor.is_empty()) {
        (true, true) => None,
        (false, true) => Some(major.to_string()),
        (true, false) => Some(minor.to_string()),
        (false, false) => Some(format!("{major}.{minor}")),
    }
}

/// A release number such as `v0.65.1`: the `v` and `+build` are ignored, trailing zeros do not count
/// (`0.65` is `0.65.0`), and a pre-release (`0.66.0-rc1`) comes before its release. A build that is
/// not numbered (`dev`, a commit) is no version.
#[derive(Debug, PartialEq, Eq)]
pub struct Version {
    numbers: Vec<u64>,
    pre_release: Option<String>,
}

/// More numbers than any real version has: the rest is not a version.
const MAX_NUMBERS: usize = 8;

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let text = text.split('+').next().unwrap_or_default();
        let (release, pre_release) = match text.split_once('-') {
            Some((release, pre)) => (release, Some(pre.to_string())),
            None => (text, None),
        };
        let mut numbers = release
            .split('.')
            .map(|n| if n.bytes().all(|b| b.is_ascii_digit()) { n.parse().ok() } else { None })
            .collect::<Option<Vec<u64>>>()?;
        if numbers.len() > MAX_NUMBERS {
            return None;
        }
        while numbers.len() > 1 && numbers.last() == Some(&0) {
            numbers.pop();
        }
        Some(Version { numbers, pre_release })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let release = |v: &Version| v.pre_release.is_none();
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| release(self).cmp(&release(other)))
            .then_with(|| self.pre_release.cmp(&other.pre_release))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn versions_compare_as_numbers_not_text() {
        assert!(v("0.65") > v("0.9"));
        assert!(v("v0.65.1") > v("0.65"));
        assert_eq!(v("v0.65"), v("0.65.0"));
        assert_eq!(v("0.65.0+abc"), v("0.65"));
        assert!(v("0.66.0-rc1") < v("0.66.0"));
        assert!(v("0.66.0-rc1") > v("0.65.9"));
        assert!(v("0.66.0-rc1") < v("0.66.0-rc2"));
        for not_a_version in ["dev", "", "0.x", "abc123", "1..2", "1.2.3.4.5.6.7.8.9"] {
            assert_eq!(Version::parse(not_a_version), None, "{not_a_version}");
        }
    }

    #[test]
    fn a_version_reads_whichever_part_is_set() {
        assert_eq!(text("0", "65").as_deref(), Some("0.65"));
        assert_eq!(text("v0.65.1", "").as_deref(), Some("v0.65.1"));
        assert_eq!(text("", "dev").as_deref(), Some("dev"));
        assert_eq!(text("", ""), None);
    }
}
