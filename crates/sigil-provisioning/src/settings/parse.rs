//! Reading configuration files into settings: every value checked, later
//! documents overriding earlier ones, errors located in the file that set
//! the key.

use std::collections::{BTreeMap, HashMap};

use zeroize::Zeroizing;

use super::{keys, Parsed, Settings, UnknownSetting};
use crate::format::{parse_document_partial, Document, LocatedError, Warning};
use crate::secret::display_value;

impl Settings {
    /// Parses and validates a configuration file (syntax, every value, the
    /// cross-field rules). Any error rejects the whole file.
    ///
    /// # Errors
    ///
    /// Every error found, each with file, line, column and the line's text
    /// (secrets masked).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, Vec<LocatedError>> {
        let (doc, mut errors) = parse_document_partial(file, bytes);
        if errors.is_empty() {
            return Settings::from_documents(&[&doc]);
        }
        // Report the values of the good lines too, so one run shows every error.
        if let Err(value_errors) = Settings::from_documents(&[&doc]) {
            // Value errors only: a cross-field rule may hinge on a line that did not parse.
            errors.extend(
                value_errors
                    .into_iter()
                    .filter(|e| e.message.starts_with("invalid value for ")),
            );
        }
        errors.sort_by_key(|e| (e.line, e.col));
        errors.truncate(crate::format::MAX_ERRORS);
        Err(errors)
    }

    /// Builds settings from parsed documents, later documents overriding
    /// earlier ones key by key (e.g. the active configuration, then a
    /// downloaded file). Values are checked, then the cross-field rules on the
    /// combined result.
    ///
    /// # Errors
    ///
    /// Every invalid value and every broken cross-field rule, located in the
    /// document that set the key.
    pub fn from_documents(docs: &[&Document]) -> Result<Parsed, Vec<LocatedError>> {
        Settings::from_documents_over(Settings::default(), docs)
    }

    /// Like [`Settings::from_documents`], starting from `base` instead of the defaults.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_documents`].
    pub fn from_documents_over(
        base: Settings,
        docs: &[&Document],
    ) -> Result<Parsed, Vec<LocatedError>> {
        let mut settings = base;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut explicit: BTreeMap<String, Origin> = BTreeMap::new();
        // Position of each unknown key in `settings.unknown` (linear lookups would be quadratic).
        let mut unknown_at: HashMap<String, usize> = settings
            .unknown
            .iter()
            .enumerate()
            .map(|(i, u)| (u.key.clone(), i))
            .collect();
        for doc in docs {
            warnings.extend(doc.warnings.iter().cloned());
            for entry in doc.effective() {
                let origin = Origin {
                    file: doc.file.clone(),
                    line: entry.line,
                    col: entry.value_col,
                    key: entry.key.clone(),
                    value: display_value(&entry.key, &entry.value),
                };
                match settings.set_known(&entry.key, &entry.value) {
                    Ok(true) => {}
                    Ok(false) => {
                        let value = Zeroizing::new(entry.value.as_str().to_owned());
                        match unknown_at.get(&entry.key) {
                            Some(&i) => {
                                if let Some(slot) = settings.unknown.get_mut(i) {
                                    slot.value = value;
                                }
                            }
                            None => {
                                unknown_at.insert(entry.key.clone(), settings.unknown.len());
                                settings.unknown.push(UnknownSetting {
                                    key: entry.key.clone(),
                                    value,
                                });
                            }
                        }
                        warnings.push(Warning {
                            file: doc.file.clone(),
                            line: entry.line,
                            message: format!("unknown key {} (kept as is)", entry.key),
                        });
                    }
                    Err(message) => {
                        errors.push(
                            origin.error(format!("invalid value for {}: {message}", entry.key)),
                        );
                    }
                }
                explicit.insert(entry.key.clone(), origin);
            }
        }
        let (cross_errors, cross_warnings) = settings.cross_check(&explicit);
        if errors.is_empty() {
            for (key, message) in cross_errors {
                errors.push(match explicit.get(key) {
                    Some(origin) => origin.error(message),
                    None => LocatedError {
                        file: docs.last().map(|d| d.file.clone()).unwrap_or_default(),
                        line: 0,
                        col: 0,
                        message,
                        text: String::new(),
                    },
                });
            }
        }
        if !errors.is_empty() {
            let file_rank = |file: &str| docs.iter().position(|d| d.file == file).unwrap_or(0);
            errors.sort_by_key(|e| (file_rank(&e.file), e.line, e.col));
            return Err(errors);
        }
        for (key, message) in cross_warnings {
            let (file, line) = explicit
                .get(key)
                .map(|o| (o.file.clone(), o.line))
                .unwrap_or_else(|| (docs.last().map(|d| d.file.clone()).unwrap_or_default(), 0));
            warnings.push(Warning {
                file,
                line,
                message,
            });
        }
        let known_keys: Vec<String> = explicit
            .keys()
            .filter(|k| keys::ALL.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(Parsed {
            settings,
            warnings,
            keys: explicit.len(),
            known_keys,
        })
    }
}

/// Where a key was set.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    file: String,
    line: usize,
    col: usize,
    key: String,
    /// The value as it may be shown (masked for secrets).
    value: String,
}

impl Origin {
    fn error(&self, message: String) -> LocatedError {
        LocatedError {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
            message,
            text: crate::format::masked_line(&format!("{} = {}", self.key, self.value)),
        }
    }
}
