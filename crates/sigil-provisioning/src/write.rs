//! Writing settings back to the file format, and the masked diff of two settings.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use zeroize::Zeroizing;

use crate::format::{Document, Item};
use crate::secret::{display_value, is_secret_key, MASK};
use crate::settings::{keys, Settings};

/// Renders settings as a configuration file: one `key = value` line per
/// setting, known keys in [`keys::ALL`] order, then unknown keys in their
/// original order. The text (which holds secrets) is wiped on drop.
pub fn render(settings: &Settings) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for (key, value) in settings.to_pairs() {
        push_line(&mut out, &key, &value);
    }
    out
}

fn push_line(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

/// Renders settings over an existing file, like a settings backup that keeps
/// the installer's notes:
///
/// - keys of the original stay in their place; a key whose value is
///   unchanged keeps its line as written and the comment lines right above it;
/// - a changed key is written as a fresh `key = value` line in its place (its
///   old comment lines are dropped, as they described the old value);
/// - keys no longer set are removed with their comments;
/// - keys the original did not have are appended in the stable order of
///   [`render`], except known keys that merely hold their default value;
/// - blank lines and comments not attached to a key (e.g. a header, or the
///   file's last lines) are kept; a later duplicate of a key replaces the
///   earlier line.
pub fn render_onto(settings: &Settings, original: &Document) -> Zeroizing<String> {
    let pairs = settings.to_pairs();
    let defaults = Settings::default().to_pairs();
    let index: HashMap<&str, &Zeroizing<String>> =
        pairs.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let value_of = |key: &str| index.get(key).copied();
    let mut out = Zeroizing::new(String::new());
    let mut pending: Vec<&str> = Vec::new();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let effective: HashSet<usize> = original.effective().iter().map(|e| e.line).collect();
    for item in &original.items {
        match item {
            Item::Blank => {
                // A blank line ends a comment block attached to nothing.
                for comment in pending.drain(..) {
                    out.push_str(comment);
                    out.push('\n');
                }
                out.push('\n');
            }
            Item::Comment(text) => pending.push(text),
            Item::Entry(entry) => {
                if !effective.contains(&entry.line) {
                    // An earlier duplicate: the last occurrence is the one written.
                    pending.clear();
                    continue;
                }
                match value_of(&entry.key) {
                    Some(value) if value.as_str() == entry.value.as_str() => {
                        for comment in pending.drain(..) {
                            out.push_str(comment);
                            out.push('\n');
                        }
                        push_line(&mut out, &entry.key, value);
                    }
                    Some(value) => {
                        pending.clear();
                        push_line(&mut out, &entry.key, value);
                    }
                    None => pending.clear(),
                }
                written.insert(entry.key.clone());
            }
        }
    }
    for comment in pending.drain(..) {
        out.push_str(comment);
        out.push('\n');
    }
    for (key, value) in &pairs {
        if written.contains(key) {
            continue;
        }
        let is_default = defaults
            .iter()
            .any(|(k, v)| k == key && v.as_str() == value.as_str());
        if keys::ALL.contains(&key.as_str()) && is_default {
            continue;
        }
        push_line(&mut out, key, value);
    }
    out
}

/// One changed setting. `Display` masks secret values.
#[derive(Clone, PartialEq, Eq)]
pub struct Change {
    /// The key.
    pub key: String,
    /// The old value, `None` when the key was not set.
    pub old: Option<Zeroizing<String>>,
    /// The new value, `None` when the key is no longer set.
    pub new: Option<Zeroizing<String>>,
}

impl Change {
    /// Whether the values must be masked when shown.
    pub fn is_secret(&self) -> bool {
        is_secret_key(&self.key)
    }

    /// The old value as it may be shown (masked for secrets).
    pub fn old_shown(&self) -> Option<String> {
        self.old.as_ref().map(|v| display_value(&self.key, v))
    }

    /// The new value as it may be shown (masked for secrets).
    pub fn new_shown(&self) -> Option<String> {
        self.new.as_ref().map(|v| display_value(&self.key, v))
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.old_shown(), self.new_shown()) {
            (None, Some(new)) => write!(f, "+ {} = {new}", self.key),
            (Some(old), None) => write!(f, "- {} (was {old})", self.key),
            (Some(_), Some(_)) if self.is_secret() => {
                write!(f, "~ {} = {MASK} (changed)", self.key)
            }
            (Some(old), Some(new)) => write!(f, "~ {} = {new} (was {old})", self.key),
            (None, None) => write!(f, "  {}", self.key),
        }
    }
}

/// The settings that differ between `old` and `new`, known keys in
/// [`keys::ALL`] order, then unknown keys. Show them with `Display` (secrets
/// masked).
pub fn diff(old: &Settings, new: &Settings) -> Vec<Change> {
    let old_pairs = old.to_pairs();
    let new_pairs = new.to_pairs();
    let mut order: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (key, _) in new_pairs.iter().chain(old_pairs.iter()) {
        if seen.insert(key.as_str()) {
            order.push(key);
        }
    }
    let rank = |key: &str| {
        keys::ALL
            .iter()
            .position(|k| *k == key)
            .unwrap_or(keys::ALL.len())
    };
    order.sort_by_key(|key| rank(key)); // stable: unknown keys keep their order
    let old_index: HashMap<&str, &Zeroizing<String>> =
        old_pairs.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new_index: HashMap<&str, &Zeroizing<String>> =
        new_pairs.iter().map(|(k, v)| (k.as_str(), v)).collect();
    order
        .into_iter()
        .filter_map(|key| {
            let old = old_index.get(key).map(|v| (*v).clone());
            let new = new_index.get(key).map(|v| (*v).clone());
            (old != new).then(|| Change {
                key: key.to_owned(),
                old,
                new,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_document;

    fn settings(text: &str) -> Settings {
        Settings::parse("t", text.as_bytes()).unwrap().settings
    }

    #[test]
    fn render_round_trips() {
        let s = settings(
            "sip.proxy = pbx.example:5061\nsip.u1.pwd = pw\nzz.extra = 1\nsip.u1.user = 100\n",
        );
        let text = render(&s);
        assert!(text.find("sip.proxy").unwrap() < text.find("sip.u1.user").unwrap());
        assert!(text.ends_with("zz.extra = 1\n"));
        assert_eq!(settings(&text), s);
    }

    #[test]
    fn render_onto_keeps_comments_of_unchanged_keys() {
        let original = "# Site config\n\n# our PBX\nsip.proxy = pbx.example\n# front door\nsip.u1.user = 100\n# tail\n";
        let doc = parse_document("t", original.as_bytes()).unwrap();
        let mut s = settings(original);
        s.sip_u1_user = "200".into();
        s.sip_transport = crate::values::SipTransport::Udp;
        let text = render_onto(&s, &doc);
        assert_eq!(
            text.as_str(),
            "# Site config\n\n# our PBX\nsip.proxy = pbx.example\nsip.u1.user = 200\n# tail\nsip.transport = udp\n"
        );
        assert_eq!(settings(&text), s);
        // Unchanged settings reproduce the file.
        let same = render_onto(&settings(original), &doc);
        assert_eq!(same.as_str(), original);
    }

    #[test]
    fn diff_masks_secrets() {
        let a = settings("sip.u1.pwd = old-secret\nsip.u1.user = 100\n");
        let b = settings("sip.u1.pwd = new-secret\nsip.u1.user = 200\nsip.transport = tcp\n");
        let changes = diff(&a, &b);
        let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "~ sip.u1.user = 200 (was 100)",
                "~ sip.u1.pwd = ******** (changed)",
                "~ sip.transport = tcp (was tls)"
            ]
        );
        assert!(!format!("{changes:?}").contains("secret"));
        assert!(diff(&a, &a).is_empty());
    }
}
