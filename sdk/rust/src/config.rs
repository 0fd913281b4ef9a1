//! Where a client finds its server and token: the environment, then the CLI's profile file.
//!
//! The profile file is TOML at `$XDG_CONFIG_HOME/hearth/config.toml`, else
//! `~/.config/hearth/config.toml`:
//!
//! ```toml
//! default_profile = "prod"      # optional
//!
//! [profiles.default]
//! url = "http://127.0.0.1:8080"
//! token = "eyJ…"
//!
//! [profiles.prod]
//! url = "https://hearth.example.com"
//! token = "eyJ…"
//! ```
//!
//! [`Credentials::from_env`] (what [`crate::Client::from_env`] uses) takes, each on its own:
//!
//! - the URL from `HEARTH_URL`, else `QARNOT_CLUSTER_URL`, else the profile's `url`;
//! - the token from `HEARTH_TOKEN`, else `QARNOT_CLIENT_TOKEN`, else the profile's `token`;
//!
//! where the profile is the one `HEARTH_PROFILE` names, else the file's `default_profile`,
//! else `default`. A profile named by `HEARTH_PROFILE` or `default_profile` must exist. So
//! that a token is never sent to a server it was not saved for, a URL from the environment
//! takes the profile's token only when the profile's `url` is that same URL.
//!
//! The CLI's `hearth login` writes the file with [`ProfileFile::save`] (mode 0600).
//!
//! ```no_run
//! use hearth_client::config::{Profile, ProfileFile};
//!
//! # fn run() -> hearth_client::Result<()> {
//! let path = ProfileFile::default_path()?;
//! let mut file = ProfileFile::load(&path)?.unwrap_or_default();
//! file.profiles.insert(
//!     "default".into(),
//!     Profile::new("http://127.0.0.1:8080", "TOKEN"),
//! );
//! file.save(&path)?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The profile used when neither `HEARTH_PROFILE` nor `default_profile` names one.
///
/// ```
/// use hearth_client::config::{DEFAULT_PROFILE, ProfileFile};
/// assert_eq!(ProfileFile::default().selected_name(None), DEFAULT_PROFILE);
/// ```
pub const DEFAULT_PROFILE: &str = "default";

/// One `[profiles.NAME]` table: a server and the token to use there.
///
/// ```
/// let p = hearth_client::config::Profile::new("http://127.0.0.1:8080", "TOKEN");
/// assert_eq!(p.url, "http://127.0.0.1:8080");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The API token.
    pub token: String,
    /// Other keys of the table, kept as they were when the file is saved again.
    #[serde(flatten)]
    pub extra: toml::Table,
}

impl Profile {
    /// A profile of `url` and `token`.
    ///
    /// ```
    /// let p = hearth_client::config::Profile::new("http://h:8080", "T");
    /// assert_eq!(p.token, "T");
    /// ```
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Profile {
        Profile {
            url: url.into(),
            token: token.into(),
            extra: toml::Table::new(),
        }
    }
}

/// The whole profile file.
///
/// ```
/// let file: hearth_client::config::ProfileFile = toml::from_str(
///     "default_profile = \"prod\"\n[profiles.prod]\nurl = \"http://h:1\"\ntoken = \"t\"\n",
/// )
/// .unwrap();
/// assert_eq!(file.selected(None).unwrap().url, "http://h:1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileFile {
    /// The profile to use when `HEARTH_PROFILE` names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    /// The profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Other top-level keys, kept as they were when the file is saved again.
    #[serde(flatten)]
    pub extra: toml::Table,
}

impl ProfileFile {
    /// `$XDG_CONFIG_HOME/hearth/config.toml` when `XDG_CONFIG_HOME` is set (and absolute),
    /// else `$HOME/.config/hearth/config.toml`.
    ///
    /// ```
    /// if let Ok(path) = hearth_client::config::ProfileFile::default_path() {
    ///     assert!(path.ends_with("hearth/config.toml"));
    /// }
    /// ```
    pub fn default_path() -> Result<PathBuf> {
        path_from(|name| std::env::var_os(name).map(PathBuf::from))
    }

    /// The file at `path`: `Ok(None)` when there is none, an error when it does not read.
    ///
    /// ```
    /// let none = hearth_client::config::ProfileFile::load("/nonexistent/hearth.toml").unwrap();
    /// assert!(none.is_none());
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Option<ProfileFile>> {
        let path = path.as_ref();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        toml::from_str(&text).map(Some).map_err(|e| {
            Error::Config(format!(
                "{} is not a hearth profile file: {e}",
                path.display()
            ))
        })
    }

    /// Writes the file to `path` with mode 0600 (its folder is created with mode 0700 if
    /// needed): written beside it, then renamed over it, so a reader never sees half a file.
    ///
    /// ```
    /// use hearth_client::config::{Profile, ProfileFile};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("hearth/config.toml");
    /// let mut file = ProfileFile::default();
    /// file.profiles.insert("default".into(), Profile::new("http://h:1", "t"));
    /// file.save(&path).unwrap();
    /// assert_eq!(ProfileFile::load(&path).unwrap(), Some(file));
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = toml::to_string(self)
            .map_err(|e| Error::Config(format!("cannot write the profile file: {e}")))?;
        let fail = |what: &str, e: std::io::Error| {
            Error::Config(format!("cannot {what} {}: {e}", path.display()))
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(&dir)
                .map_err(|e| fail("create the folder of", e))?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config.toml".into());
        let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&temp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
            let _ = std::fs::remove_file(&temp);
            return Err(fail("write", e));
        }
        Ok(())
    }

    /// The name of the profile to use: `asked` (what `HEARTH_PROFILE` says), else
    /// `default_profile`, else `default`.
    ///
    /// ```
    /// let file = hearth_client::config::ProfileFile::default();
    /// assert_eq!(file.selected_name(None), "default");
    /// assert_eq!(file.selected_name(Some("ci")), "ci");
    /// ```
    pub fn selected_name<'a>(&'a self, asked: Option<&'a str>) -> &'a str {
        asked
            .filter(|a| !a.is_empty())
            .or(self.default_profile.as_deref().filter(|d| !d.is_empty()))
            .unwrap_or(DEFAULT_PROFILE)
    }

    /// The profile to use (see [`ProfileFile::selected_name`]), or an error naming it
    /// when the file has none of that name.
    ///
    /// ```
    /// let file = hearth_client::config::ProfileFile::default();
    /// assert!(file.selected(Some("missing")).is_err());
    /// ```
    pub fn selected(&self, asked: Option<&str>) -> Result<&Profile> {
        let name = self.selected_name(asked);
        self.profiles.get(name).ok_or_else(|| {
            Error::Config(format!(
                "the profile file has no profile '{name}' (it has: {})",
                if self.profiles.is_empty() {
                    "none".to_owned()
                } else {
                    self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))
        })
    }
}

fn path_from(var: impl Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    if let Some(xdg) = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("hearth").join("config.toml"));
    }
    match var("HOME").filter(|p| !p.as_os_str().is_empty()) {
        Some(home) => Ok(home.join(".config").join("hearth").join("config.toml")),
        None => Err(Error::Config(
            "neither XDG_CONFIG_HOME nor HOME is set: no profile file".into(),
        )),
    }
}

/// Where [`Credentials`] came from.
///
/// ```
/// use hearth_client::config::{Credentials, Source};
///
/// let env = |name: &str| match name {
///     "QARNOT_CLUSTER_URL" => Some("http://h:8080".to_owned()),
///     "QARNOT_CLIENT_TOKEN" => Some("T".to_owned()),
///     _ => None,
/// };
/// assert_eq!(Credentials::resolve(env, None).unwrap().source, Source::Environment);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Both from environment variables.
    Environment,
    /// Both from this profile of this file.
    Profile {
        /// The profile's name.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The URL from one, the token from the other (see the module's rules).
    Mixed {
        /// The profile's name.
        name: String,
        /// The file.
        path: PathBuf,
    },
}

/// A server URL and a token, and where they were found.
///
/// ```no_run
/// let found = hearth_client::config::Credentials::from_env().unwrap();
/// println!("{} (from {:?})", found.url, found.source);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The server.
    pub url: String,
    /// The API token.
    pub token: String,
    /// Where they came from.
    pub source: Source,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("token", &"…")
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// The credentials the process's environment and profile file give (see the module's
    /// documentation for the order).
    ///
    /// ```no_run
    /// let found = hearth_client::config::Credentials::from_env().unwrap();
    /// let client = hearth_client::Client::new(found.url, found.token).unwrap();
    /// # let _ = client;
    /// ```
    pub fn from_env() -> Result<Credentials> {
        Credentials::resolve(|name| std::env::var(name).ok(), None)
    }

    /// The same as [`Credentials::from_env`] with `var` for the environment and, when
    /// given, `file` for the profile file's path (else [`ProfileFile::default_path`] as
    /// `var` says it).
    ///
    /// ```
    /// use hearth_client::config::{Credentials, Source};
    ///
    /// let env = |name: &str| match name {
    ///     "HEARTH_URL" => Some("http://h:8080".to_owned()),
    ///     "HEARTH_TOKEN" => Some("T".to_owned()),
    ///     _ => None,
    /// };
    /// let found = Credentials::resolve(env, None).unwrap();
    /// assert_eq!((found.url.as_str(), found.source), ("http://h:8080", Source::Environment));
    /// ```
    pub fn resolve(
        var: impl Fn(&str) -> Option<String>,
        file: Option<&Path>,
    ) -> Result<Credentials> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let env_url = var("HEARTH_URL").or_else(|| var("QARNOT_CLUSTER_URL"));
        let env_token = var("HEARTH_TOKEN").or_else(|| var("QARNOT_CLIENT_TOKEN"));
        if let (Some(url), Some(token)) = (&env_url, &env_token) {
            return Ok(Credentials {
                url: url.clone(),
                token: token.clone(),
                source: Source::Environment,
            });
        }
        let path = match file {
            Some(p) => p.to_path_buf(),
            None => path_from(|name| var(name).map(PathBuf::from))?,
        };
        let asked = var("HEARTH_PROFILE");
        let Some(loaded) = ProfileFile::load(&path)? else {
            return Err(Error::Config(format!(
                "no hearth credentials: set HEARTH_URL and HEARTH_TOKEN, or save a profile \
                 in {} (hearth login){}",
                path.display(),
                match (&env_url, &env_token) {
                    (Some(_), None) => " (HEARTH_URL is set, HEARTH_TOKEN is not)",
                    (None, Some(_)) => " (HEARTH_TOKEN is set, HEARTH_URL is not)",
                    _ => "",
                }
            )));
        };
        let name = loaded.selected_name(asked.as_deref()).to_owned();
        let profile = loaded.selected(asked.as_deref())?;
        let same_server = |url: &str| {
            url.trim().trim_end_matches('/') == profile.url.trim().trim_end_matches('/')
        };
        match (env_url, env_token) {
            (None, None) => Ok(Credentials {
                url: profile.url.clone(),
                token: profile.token.clone(),
                source: Source::Profile { name, path },
            }),
            (None, Some(token)) => Ok(Credentials {
                url: profile.url.clone(),
                token,
                source: Source::Mixed { name, path },
            }),
            (Some(url), None) if same_server(&url) => Ok(Credentials {
                url,
                token: profile.token.clone(),
                source: Source::Mixed { name, path },
            }),
            (Some(url), None) => Err(Error::Config(format!(
                "HEARTH_URL is {url} but no HEARTH_TOKEN is set, and profile '{name}' is for \
                 another server ({}): set HEARTH_TOKEN",
                profile.url
            ))),
            (Some(_), Some(_)) => unreachable!("answered above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn file_with(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const TWO: &str = "default_profile = \"prod\"\n\
        [profiles.default]\nurl = \"http://local:1\"\ntoken = \"local-token\"\n\
        [profiles.prod]\nurl = \"http://prod:1/\"\ntoken = \"prod-token\"\n";

    #[test]
    fn hearth_variables_win_then_qarnot_ones() {
        let both = env(&[
            ("HEARTH_URL", "http://a:1"),
            ("HEARTH_TOKEN", "a"),
            ("QARNOT_CLUSTER_URL", "http://q:1"),
            ("QARNOT_CLIENT_TOKEN", "q"),
        ]);
        let c = Credentials::resolve(both, Some(Path::new("/nonexistent"))).unwrap();
        assert_eq!((c.url.as_str(), c.token.as_str()), ("http://a:1", "a"));
        let qarnot = env(&[
            ("QARNOT_CLUSTER_URL", "http://q:1"),
            ("QARNOT_CLIENT_TOKEN", "q"),
        ]);
        let c = Credentials::resolve(qarnot, Some(Path::new("/nonexistent"))).unwrap();
        assert_eq!((c.url.as_str(), c.token.as_str()), ("http://q:1", "q"));
    }

    #[test]
    fn the_profile_is_hearth_profile_then_default_profile_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), TWO);
        let c = Credentials::resolve(env(&[]), Some(&path)).unwrap();
        assert_eq!(c.token, "prod-token");
        let c = Credentials::resolve(env(&[("HEARTH_PROFILE", "default")]), Some(&path)).unwrap();
        assert_eq!(c.token, "local-token");
        assert_eq!(
            c.source,
            Source::Profile {
                name: "default".into(),
                path: path.clone()
            }
        );
        let e = Credentials::resolve(env(&[("HEARTH_PROFILE", "ci")]), Some(&path)).unwrap_err();
        assert!(e.to_string().contains("no profile 'ci'"), "{e}");
        let plain = file_with(
            dir.path(),
            "[profiles.default]\nurl = \"http://d:1\"\ntoken = \"d\"\n",
        );
        assert_eq!(
            Credentials::resolve(env(&[]), Some(&plain)).unwrap().token,
            "d"
        );
    }

    #[test]
    fn a_token_from_a_profile_goes_only_to_its_own_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), TWO);
        let same = env(&[("HEARTH_URL", "http://prod:1")]);
        let c = Credentials::resolve(same, Some(&path)).unwrap();
        assert_eq!(c.token, "prod-token");
        let other = env(&[("HEARTH_URL", "http://evil:1")]);
        assert!(Credentials::resolve(other, Some(&path)).is_err());
        let token_only = env(&[("HEARTH_TOKEN", "mine")]);
        let c = Credentials::resolve(token_only, Some(&path)).unwrap();
        assert_eq!(
            (c.url.as_str(), c.token.as_str()),
            ("http://prod:1/", "mine")
        );
    }

    #[test]
    fn no_credentials_anywhere_says_what_to_do() {
        let e = Credentials::resolve(env(&[]), Some(Path::new("/nonexistent/c.toml"))).unwrap_err();
        assert!(e.to_string().contains("HEARTH_URL"), "{e}");
    }

    #[test]
    fn the_path_follows_xdg_then_home() {
        let p = path_from(|n| (n == "XDG_CONFIG_HOME").then(|| PathBuf::from("/x"))).unwrap();
        assert_eq!(p, Path::new("/x/hearth/config.toml"));
        let p = path_from(|n| match n {
            "XDG_CONFIG_HOME" => Some(PathBuf::from("relative")),
            "HOME" => Some(PathBuf::from("/home/u")),
            _ => None,
        })
        .unwrap();
        assert_eq!(p, Path::new("/home/u/.config/hearth/config.toml"));
        assert!(path_from(|_| None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn saved_files_are_private_and_keep_unknown_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(
            dir.path(),
            "editor = \"vim\"\n[profiles.default]\nurl = \"http://d:1\"\ntoken = \"d\"\nnote = \"x\"\n",
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = ProfileFile::load(&path).unwrap().unwrap();
        file.profiles
            .insert("prod".into(), Profile::new("http://p:1", "p"));
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("editor = \"vim\"") && text.contains("note = \"x\""),
            "{text}"
        );
        assert_eq!(ProfileFile::load(&path).unwrap().unwrap(), file);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let nested = dir.path().join("a/b/config.toml");
        file.save(&nested).unwrap();
        let mode = std::fs::metadata(nested.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
}
