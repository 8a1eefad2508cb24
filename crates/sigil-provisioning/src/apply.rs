//! Atomic apply (SPEC P6): validate fully, write a temporary file in the same
//! directory, fsync, keep the previous file as a backup, rename, fsync the directory.
//!
//! Whatever fails — an invalid file, a full disk, a crash between any two
//! steps — the active configuration is either the old one or the new one,
//! complete, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::format::{parse_document, Document, LocatedError, Warning, MAX_FILE_BYTES};
use crate::settings::Settings;
use crate::write::{diff, render, render_onto, Change};

/// File name of the active configuration in the user store directory.
pub const CONFIG_FILE: &str = "config.conf";
/// File name of the previous configuration, kept by every apply.
pub const BACKUP_FILE: &str = "config.conf.bak";
/// File name of the temporary file an apply writes before renaming it.
pub const TEMP_FILE: &str = ".config.conf.new";

/// A step after which an apply can be made to fail on purpose, to test that
/// an interruption there leaves the active configuration intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// After the temporary file is written and synced, before anything else.
    AfterTempWrite,
    /// After the backup is made, before the rename.
    BeforeRename,
}

/// Options of an apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Failure injection for crash-safety tests: stop with
    /// [`ApplyError::Interrupted`] at this step, leaving the files exactly as
    /// a crash there would. `None` in normal use.
    pub fail_at: Option<FailPoint>,
}

/// Why an apply changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The new configuration is invalid; every error is listed (secrets masked).
    #[error("{} error(s) in the configuration, nothing applied: {}", .0.len(), first_error(.0))]
    Invalid(Vec<LocatedError>),
    /// Reading or writing a file failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The active configuration is larger than a configuration may be.
    #[error("{} is larger than {MAX_FILE_BYTES} bytes", .0.display())]
    TooLarge(PathBuf),
    /// The admin password could not be hashed, so nothing was written.
    #[error("cannot hash admin.password, nothing applied: {0}")]
    Seal(String),
    /// A test interrupted the apply on purpose ([`ApplyOptions::fail_at`]).
    #[error("apply interrupted at {0:?} (failure injection)")]
    Interrupted(FailPoint),
}

fn first_error(errors: &[LocatedError]) -> String {
    errors.first().map(ToString::to_string).unwrap_or_default()
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ApplyError + 'a {
    move |source| ApplyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Where a loaded configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// No configuration file yet: the defaults.
    Defaults,
    /// The active file.
    Active,
    /// The active file is damaged (`damage` says how: truncated, invalid
    /// UTF-8, NUL bytes, an invalid value…); the copy the last apply kept
    /// ([`BACKUP_FILE`]) is used instead.
    Backup {
        /// What is wrong with the active file (never a secret).
        damage: String,
    },
    /// The active file is damaged and there is no usable backup: the defaults.
    DamagedDefaults {
        /// What is wrong with the active file (never a secret).
        damage: String,
    },
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Defaults => f.write_str("defaults (no configuration file yet)"),
            ConfigSource::Active => f.write_str(CONFIG_FILE),
            ConfigSource::Backup { damage } => write!(
                f,
                "{BACKUP_FILE}, the last good copy ({CONFIG_FILE} is damaged: {damage})"
            ),
            ConfigSource::DamagedDefaults { damage } => write!(
                f,
                "defaults ({CONFIG_FILE} is damaged: {damage}; no usable {BACKUP_FILE})"
            ),
        }
    }
}

/// The active configuration as loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed settings (defaults when there is no file yet).
    pub settings: Settings,
    /// The file as parsed (empty when there is no file yet).
    pub document: Document,
    /// Warnings found while loading.
    pub warnings: Vec<Warning>,
    /// Whether a configuration file exists.
    pub exists: bool,
    /// Which file the settings came from.
    pub source: ConfigSource,
}

/// What an apply did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// The settings now active.
    pub settings: Settings,
    /// The changed keys (show with `Display`: secrets masked).
    pub changes: Vec<Change>,
    /// Warnings about the applied file (unknown keys, duplicates, weakened security).
    pub warnings: Vec<Warning>,
    /// The active configuration file.
    pub path: PathBuf,
    /// The backup of the previous configuration, if there was one.
    pub backup: Option<PathBuf>,
    /// Whether the file on disk was rewritten (false when nothing changed).
    pub written: bool,
}

/// The configuration file of a device's user store.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// The configuration kept in `user_dir` (the file [`CONFIG_FILE`]).
    pub fn new(user_dir: impl Into<PathBuf>) -> Self {
        ConfigStore {
            dir: user_dir.into(),
        }
    }

    /// Path of the active configuration file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Path of the backup of the previous configuration.
    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(BACKUP_FILE)
    }

    fn read_active(&self) -> Result<Option<Zeroizing<Vec<u8>>>, ApplyError> {
        read_limited(&self.path())
    }

    /// Loads the active configuration (the defaults when there is none yet).
    ///
    /// # Errors
    ///
    /// The file cannot be read, or it is invalid ([`ApplyError::Invalid`]).
    pub fn load(&self) -> Result<Loaded, ApplyError> {
        let name = self.path().display().to_string();
        let Some(bytes) = self.read_active()? else {
            return Ok(Loaded {
                settings: Settings::default(),
                document: Document {
                    file: name,
                    ..Document::default()
                },
                warnings: Vec::new(),
                exists: false,
                source: ConfigSource::Defaults,
            });
        };
        parse_loaded(&name, &bytes, ConfigSource::Active)
    }

    /// Loads the configuration a device should run with: the active file;
    /// when it is damaged (truncated, invalid UTF-8, NUL bytes, unreadable),
    /// the last good copy the last apply kept ([`BACKUP_FILE`]); only when
    /// neither is usable, the defaults. [`Loaded::source`] says which, with
    /// what is wrong. Never fails: a device must boot.
    pub fn load_last_good(&self) -> Loaded {
        let damage = match self.load() {
            Ok(loaded) => return loaded,
            Err(e) => e.to_string(),
        };
        let backup = self.backup_path();
        let name = backup.display().to_string();
        let from_backup = match read_limited(&backup) {
            Ok(Some(bytes)) => parse_loaded(
                &name,
                &bytes,
                ConfigSource::Backup {
                    damage: damage.clone(),
                },
            )
            .ok(),
            _ => None,
        };
        from_backup.unwrap_or_else(|| Loaded {
            settings: Settings::default(),
            document: Document {
                file: self.path().display().to_string(),
                ..Document::default()
            },
            warnings: Vec::new(),
            exists: true,
            source: ConfigSource::DamagedDefaults { damage },
        })
    }
}

fn parse_loaded(name: &str, bytes: &[u8], source: ConfigSource) -> Result<Loaded, ApplyError> {
    let document = parse_document(name, bytes).map_err(ApplyError::Invalid)?;
    let parsed = Settings::from_documents(&[&document]).map_err(ApplyError::Invalid)?;
    Ok(Loaded {
        settings: parsed.settings,
        document,
        warnings: parsed.warnings,
        exists: true,
        source,
    })
}

/// Reads `path` (at most [`MAX_FILE_BYTES`]); `None` when it does not exist.
fn read_limited(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, ApplyError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", path)(e)),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    Read::by_ref(&mut file)
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io("read", path))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ApplyError::TooLarge(path.to_owned()));
    }
    Ok(Some(bytes))
}

impl ConfigStore {
    /// Applies a configuration file on top of the active configuration: its
    /// keys replace the active values, keys it does not mention keep theirs.
    ///
    /// The file is parsed and validated completely first (every value, then
    /// the cross-field rules on the combined result); only then is the new
    /// configuration written atomically. On any error the active
    /// configuration is unchanged. `source` names the file in messages (a
    /// path or a URL).
    ///
    /// If the active configuration itself is invalid (edited by hand), it is
    /// replaced by the defaults overlaid with the new file, with a warning.
    ///
    /// # Errors
    ///
    /// [`ApplyError::Invalid`] with every error of the file, or an I/O error.
    pub fn apply(
        &self,
        source: &str,
        bytes: &[u8],
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let incoming = parse_document(source, bytes).map_err(ApplyError::Invalid)?;
        let mut warnings = Vec::new();
        // A damaged active file is not built on, and never becomes the backup:
        // the last good copy stays the base and the backup.
        let current = self.load_last_good();
        let keep_backup = matches!(
            current.source,
            ConfigSource::Backup { .. } | ConfigSource::DamagedDefaults { .. }
        );
        if keep_backup {
            warnings.push(Warning {
                file: self.path().display().to_string(),
                line: 0,
                message: format!(
                    "the active configuration is damaged; it is replaced, based on {}",
                    current.source
                ),
            });
        }
        let mut parsed = Settings::from_documents_over(current.settings.clone(), &[&incoming])
            .map_err(ApplyError::Invalid)?;
        // `admin.password` arrives in plain text; only its hash is ever written.
        parsed
            .settings
            .seal_secrets(&current.settings)
            .map_err(ApplyError::Seal)?;
        warnings.extend(parsed.warnings);
        let changes = diff(&current.settings, &parsed.settings);
        let written = if changes.is_empty() && current.exists {
            false
        } else {
            // Keep the layout and comments of the active file; the first time,
            // those of the applied file.
            let layout = if current.document.items.is_empty() {
                &incoming
            } else {
                &current.document
            };
            let text = render_onto(&parsed.settings, layout);
            self.write_atomic(text.as_bytes(), options, !keep_backup)?;
            true
        };
        Ok(ApplyReport {
            settings: parsed.settings,
            changes,
            warnings,
            path: self.path(),
            backup: self.backup_path().exists().then(|| self.backup_path()),
            written,
        })
    }

    /// Writes complete settings as the active configuration, atomically
    /// (keeping the installer's comments of unchanged keys). A plain-text
    /// admin password is hashed first ([`Settings::seal_secrets`]).
    ///
    /// A damaged active file is replaced without becoming the backup.
    ///
    /// # Errors
    ///
    /// An I/O error, or [`ApplyError::Interrupted`] under failure injection.
    pub fn save(
        &self,
        settings: &Settings,
        options: ApplyOptions,
    ) -> Result<Vec<Change>, ApplyError> {
        let current = self.load_last_good();
        let damaged = matches!(
            current.source,
            ConfigSource::Backup { .. } | ConfigSource::DamagedDefaults { .. }
        );
        let mut settings = settings.clone();
        settings
            .seal_secrets(&current.settings)
            .map_err(ApplyError::Seal)?;
        let text = if current.document.items.is_empty() {
            render(&settings)
        } else {
            render_onto(&settings, &current.document)
        };
        self.write_atomic(text.as_bytes(), options, !damaged)?;
        Ok(diff(&current.settings, &settings))
    }

    /// temp file → fsync → backup → rename → fsync directory.
    ///
    /// On an I/O failure (a full disk, a read-only store) the temporary files
    /// are removed again, so a failed apply leaves the store as it was. An
    /// injected [`FailPoint`] stands for a crash and leaves them, as a crash
    /// would; the next apply replaces them.
    ///
    /// `backup`: copy the active file to [`BACKUP_FILE`] first (not when the
    /// active file is damaged: the backup is then the last good copy).
    fn write_atomic(
        &self,
        bytes: &[u8],
        options: ApplyOptions,
        backup: bool,
    ) -> Result<(), ApplyError> {
        fs::create_dir_all(&self.dir).map_err(io("create the directory", &self.dir))?;
        let temp = self.dir.join(TEMP_FILE);
        let backup_temp = self.dir.join(format!("{BACKUP_FILE}.new"));
        let result = self.write_steps(bytes, options, &temp, backup.then_some(&*backup_temp));
        if let Err(ApplyError::Io { .. }) = &result {
            for leftover in [&temp, &backup_temp] {
                let _ = fs::remove_file(leftover);
            }
        }
        result
    }

    fn write_steps(
        &self,
        bytes: &[u8],
        options: ApplyOptions,
        temp: &Path,
        backup_temp: Option<&Path>,
    ) -> Result<(), ApplyError> {
        let active = self.path();
        write_private_synced(temp, bytes).map_err(io("write", temp))?;
        if options.fail_at == Some(FailPoint::AfterTempWrite) {
            return Err(ApplyError::Interrupted(FailPoint::AfterTempWrite));
        }
        if let (true, Some(backup_temp)) = (active.exists(), backup_temp) {
            // Write, sync, then rename into place, so the backup is complete too
            // (and, holding passwords, as private as the active file).
            let previous = Zeroizing::new(fs::read(&active).map_err(io("read", &active))?);
            write_private_synced(backup_temp, &previous)
                .map_err(io("copy the previous configuration to", backup_temp))?;
            let backup = self.backup_path();
            fs::rename(backup_temp, &backup).map_err(io("rename the backup to", &backup))?;
        }
        if options.fail_at == Some(FailPoint::BeforeRename) {
            return Err(ApplyError::Interrupted(FailPoint::BeforeRename));
        }
        fs::rename(temp, &active).map_err(io("rename the new configuration to", &active))?;
        sync_dir(&self.dir)?;
        log::info!("configuration written to {}", active.display());
        Ok(())
    }
}

/// Creates `path` anew, readable only by the owner (the configuration holds
/// passwords), writes `bytes` and syncs. A stale file of that name (left by
/// a crash, perhaps world-readable) is removed first, never reused.
fn write_private_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut file = open.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> Result<(), ApplyError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync the directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_merges_and_keeps_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let first = store
            .apply(
                "a.conf",
                b"# mine\nsip.proxy = a.example\nsip.u1.pwd = one\n",
                ApplyOptions::default(),
            )
            .unwrap();
        assert!(first.written);
        assert!(first.backup.is_none());
        let second = store
            .apply(
                "b.conf",
                b"sip.u1.user = 7\nsip.u1.pwd = two\n",
                ApplyOptions::default(),
            )
            .unwrap();
        let shown: Vec<String> = second.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec!["+ sip.u1.user = 7", "~ sip.u1.pwd = ******** (changed)"]
        );
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(
            text.starts_with("# mine\nsip.proxy = a.example\n"),
            "{text}"
        );
        assert!(text.contains("sip.u1.pwd = two"));
        let backup = fs::read_to_string(store.backup_path()).unwrap();
        assert!(backup.contains("sip.u1.pwd = one"));
        // Same file again: nothing to write.
        let third = store
            .apply("b.conf", b"sip.u1.user = 7\n", ApplyOptions::default())
            .unwrap();
        assert!(!third.written);
        assert!(third.changes.is_empty());
    }

    #[test]
    fn admin_password_is_stored_as_a_hash_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let report = store
            .apply(
                "prov.conf",
                b"sip.proxy = a.example\nadmin.password = Door-Phone-42\n",
                ApplyOptions::default(),
            )
            .unwrap();
        let shown: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(&"+ admin.password.hash = ********".to_owned()),
            "{shown:?}"
        );
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("Door-Phone-42"), "{text}");
        assert!(text.contains("admin.password.hash = $argon2id$"), "{text}");
        let loaded = store.load().unwrap().settings;
        assert!(loaded.admin_password.verify("Door-Phone-42"));
        // The same file again: the stored hash still matches, nothing rewritten.
        let again = store
            .apply(
                "prov.conf",
                b"admin.password = Door-Phone-42\n",
                ApplyOptions::default(),
            )
            .unwrap();
        assert!(!again.written, "{:?}", again.changes);
        // save() seals too.
        let mut settings = loaded.clone();
        settings.set("admin.password", "Other-Pass-7").unwrap();
        store.save(&settings, ApplyOptions::default()).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("Other-Pass-7"), "{text}");
        assert!(store
            .load()
            .unwrap()
            .settings
            .admin_password
            .verify("Other-Pass-7"));
        // The backup holds only the old hash.
        assert!(!fs::read_to_string(store.backup_path())
            .unwrap()
            .contains("Door-Phone-42"));
    }

    #[test]
    fn invalid_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store
            .apply("a", b"sip.proxy = a.example\n", ApplyOptions::default())
            .unwrap();
        let before = fs::read(store.path()).unwrap();
        let err = store
            .apply(
                "b",
                b"sip.proxy = b.example\nsip.transport = carrier-pigeon\n",
                ApplyOptions::default(),
            )
            .unwrap_err();
        match err {
            ApplyError::Invalid(errors) => assert_eq!(errors[0].line, 2),
            other => panic!("{other}"),
        }
        assert_eq!(fs::read(store.path()).unwrap(), before);
    }

    /// A stale, world-readable temporary file (a crash left it) is never
    /// reused: the configuration and its backup end up 0600.
    #[cfg(unix)]
    #[test]
    fn stale_temp_files_do_not_widen_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        for round in ["sip.u1.pwd = one\n", "sip.u1.pwd = two\n"] {
            for stale in [TEMP_FILE.to_owned(), format!("{BACKUP_FILE}.new")] {
                let path = dir.path().join(stale);
                fs::write(&path, b"stale").unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            }
            store
                .apply("a", round.as_bytes(), ApplyOptions::default())
                .unwrap();
            assert_eq!(mode(&store.path()), 0o600);
        }
        assert_eq!(mode(&store.backup_path()), 0o600);
        assert!(!dir.path().join(TEMP_FILE).exists());
    }

    /// A write that fails part-way (here the backup's name is taken by a
    /// non-empty directory, so its rename fails) removes its temporary files.
    #[test]
    fn failed_write_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        store
            .apply("a", b"sip.proxy = old.example\n", ApplyOptions::default())
            .unwrap();
        // The backup cannot be renamed over a non-empty directory.
        fs::create_dir(store.backup_path()).unwrap();
        fs::write(store.backup_path().join("x"), b"x").unwrap();
        let err = store
            .apply("b", b"sip.proxy = new.example\n", ApplyOptions::default())
            .unwrap_err();
        assert!(matches!(err, ApplyError::Io { .. }), "{err}");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".new")), "{names:?}");
        assert!(fs::read_to_string(store.path())
            .unwrap()
            .contains("old.example"));
    }

    /// A config.conf that no longer parses (truncated mid-line, invalid
    /// UTF-8, NUL bytes) falls back to the last good copy, never silently to
    /// the defaults; an apply over it builds on that copy and keeps it as
    /// the backup.
    #[test]
    fn damaged_active_file_falls_back_to_the_last_good_copy() {
        for damage in [
            &b"sip.proxy = good.example\nsip.u1.pwd = s3cret\nsip.transp"[..],
            &b"sip.proxy = good.ex\xffample\n"[..],
            &b"sip.proxy = good.example\x00\x00\x00\n"[..],
        ] {
            let dir = tempfile::tempdir().unwrap();
            let store = ConfigStore::new(dir.path());
            store
                .apply(
                    "a",
                    b"sip.proxy = good.example\nsip.u1.pwd = s3cret\n",
                    ApplyOptions::default(),
                )
                .unwrap();
            store
                .apply("b", b"sip.u1.user = 1001\n", ApplyOptions::default())
                .unwrap();
            fs::write(store.path(), damage).unwrap();

            assert!(store.load().is_err());
            let loaded = store.load_last_good();
            match &loaded.source {
                ConfigSource::Backup { damage } => assert!(!damage.contains("s3cret"), "{damage}"),
                other => panic!("{other:?}"),
            }
            assert!(loaded.exists);
            assert_eq!(
                loaded.settings.sip_proxy.unwrap().to_string(),
                "good.example"
            );

            let report = store
                .apply("c", b"sip.u1.dname = Lobby\n", ApplyOptions::default())
                .unwrap();
            assert_eq!(
                report.settings.sip_proxy.unwrap().to_string(),
                "good.example"
            );
            assert!(report
                .warnings
                .iter()
                .any(|w| w.message.contains("damaged")));
            let backup = fs::read_to_string(store.backup_path()).unwrap();
            assert!(
                backup.contains("good.example"),
                "the good backup survives: {backup}"
            );
            assert_eq!(store.load().unwrap().source, ConfigSource::Active);
        }
        // Nothing usable at all: the defaults, said so.
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        fs::write(store.path(), b"\x00garbage").unwrap();
        assert!(matches!(
            store.load_last_good().source,
            ConfigSource::DamagedDefaults { .. }
        ));
    }

    #[test]
    fn interrupted_apply_leaves_old_config() {
        for point in [FailPoint::AfterTempWrite, FailPoint::BeforeRename] {
            let dir = tempfile::tempdir().unwrap();
            let store = ConfigStore::new(dir.path());
            store
                .apply("a", b"sip.proxy = old.example\n", ApplyOptions::default())
                .unwrap();
            let before = fs::read(store.path()).unwrap();
            let err = store
                .apply(
                    "b",
                    b"sip.proxy = new.example\n",
                    ApplyOptions {
                        fail_at: Some(point),
                    },
                )
                .unwrap_err();
            assert!(matches!(err, ApplyError::Interrupted(p) if p == point));
            assert_eq!(fs::read(store.path()).unwrap(), before);
            let loaded = store.load().unwrap();
            assert_eq!(
                loaded.settings.sip_proxy.unwrap().to_string(),
                "old.example"
            );
            // The next apply succeeds over the leftover temporary file.
            store
                .apply("b", b"sip.proxy = new.example\n", ApplyOptions::default())
                .unwrap();
            assert_eq!(
                store
                    .load()
                    .unwrap()
                    .settings
                    .sip_proxy
                    .unwrap()
                    .to_string(),
                "new.example"
            );
        }
    }
}
