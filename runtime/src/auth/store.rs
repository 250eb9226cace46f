//! The token store: opaque tokens `rf_<id>_<secret>` kept as SHA-256 hashes in a JSON
//! file, created with mode 0600 and replaced atomically on every change.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use subtle::Choice;

use super::decision::{ClientId, FailureReason};
use super::secret::{self, Digest};
use super::{check_scope, unix_now};
use crate::Error;

/// The prefix of every opaque token.
const PREFIX: &str = "rf_";
/// The length of a new token's id (8 to 12 are accepted).
const ID_LEN: usize = 10;
/// Random bytes in a secret (64 hex digits).
const SECRET_BYTES: usize = 32;
/// The largest store file read.
const MAX_FILE_BYTES: u64 = 8 << 20;
/// How often the watcher looks at the files for changes.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The format written in the file.
const VERSION: u32 = 1;

/// A file of opaque tokens for scrapers, read by the service and managed with the
/// `rustform metrics` commands.
///
/// A token is `rf_<id>_<secret>`: a 10-character id (lowercase letters and digits) and
/// 32 bytes of OS randomness in hex. The file keeps, per token, the id, the SHA-256
/// hash of the secret (never the secret), the scopes, when it was created, when it
/// expires, when it was revoked, and during a rotation the previous hash with the end
/// of its grace period. Times are seconds since the Unix epoch.
///
/// **Files.** A missing file is created (with its directory) with mode 0600. Every change
/// writes a temporary file with mode 0600 in the same directory, syncs it and renames
/// it over the store, so a reader sees the old file or the new one, never a part.
/// Changes from several processes are serialized by a lock on `<file>.lock`.
/// `open` refuses a store that other users may write (anyone who can write it can add
/// a token) and warns on `rustform::auth` when they may read it (hashes and scopes are
/// not secrets, but there is no reason to share them).
///
/// **Changes on disk.** A thread of rustform's (one for every open store) looks at the
/// file once a second and re-reads it when its modification time, size or inode
/// changed, so a token revoked with the CLI stops working in a running service within
/// a second; [`verify`](TokenStore::verify) itself never touches the file, so a request
/// never waits on the disk. A file that cannot be read keeps the tokens last read, with
/// a warning.
///
/// ```
/// use std::time::Duration;
/// use rustform::auth::{FailureReason, TokenStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = TokenStore::open(dir.path().join("tokens.json"))?;
/// let issued = store.create(&["metrics:read"], Some(Duration::from_secs(30 * 86_400)))?;
/// assert!(issued.token().starts_with("rf_"));
/// assert_eq!(store.verify(issued.token()).unwrap().scopes, ["metrics:read"]);
///
/// store.revoke(issued.id())?;
/// assert_eq!(store.verify(issued.token()), Err(FailureReason::Revoked));
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    state: RwLock<Loaded>,
    /// The last read error reported, so each is logged once.
    reported: Mutex<Option<String>>,
    /// Seconds since the Unix epoch: the system clock, or a test's.
    clock: fn() -> u64,
    #[cfg(test)]
    fail_before_rename: std::sync::atomic::AtomicBool,
}

/// The tokens as last read, and what the file looked like then.
#[derive(Default)]
struct Loaded {
    records: Vec<Record>,
    stamp: Option<Stamp>,
}

/// What changes when the file is replaced or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(metadata: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            inode,
        }
    }
}

/// The file.
#[derive(Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    tokens: Vec<Record>,
}

/// One token in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    id: String,
    /// SHA-256 of the secret, hex.
    #[serde(with = "hex_digest")]
    hash: Digest,
    scopes: Vec<String>,
    created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<u64>,
    /// The secret replaced by the last rotation, valid until its grace period ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<Previous>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Previous {
    #[serde(with = "hex_digest")]
    hash: Digest,
    valid_until: u64,
}

mod hex_digest {
    use super::{Digest, secret};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(digest: &Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&secret::hex(digest))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(d)?;
        secret::digest_from_hex(&text)
            .ok_or_else(|| D::Error::custom("expected a SHA-256 hash of 64 hex digits"))
    }
}

impl Record {
    fn info(&self) -> TokenInfo {
        TokenInfo {
            id: self.id.clone(),
            scopes: self.scopes.clone(),
            created: at(self.created_at),
            expires: self.expires_at.map(at),
            revoked: self.revoked_at.map(at),
            previous_valid_until: self.previous.as_ref().map(|p| at(p.valid_until)),
        }
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// What the store knows about a token: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The id (the `<id>` of `rf_<id>_<secret>`).
    pub id: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created: SystemTime,
    /// When it expires, if ever.
    pub expires: Option<SystemTime>,
    /// When it was revoked.
    pub revoked: Option<SystemTime>,
    /// During a rotation, when the previous secret stops working.
    pub previous_valid_until: Option<SystemTime>,
}

impl TokenInfo {
    /// Where the token stands now.
    pub fn status(&self) -> TokenStatus {
        let now = SystemTime::now();
        if self.revoked.is_some() {
            TokenStatus::Revoked
        } else if self.expires.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else if self.previous_valid_until.is_some_and(|u| u > now) {
            TokenStatus::Rotating
        } else {
            TokenStatus::Active
        }
    }

    /// The client a request with this token is attributed to: `rf_<id>`.
    pub fn client(&self) -> ClientId {
        ClientId::known(&format!("{PREFIX}{}", self.id))
    }
}

/// Where a token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// Accepted.
    Active,
    /// Accepted, and so is the secret it replaced until the grace period ends.
    Rotating,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl TokenStatus {
    /// The status in one word.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Rotating => "rotating",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// A token just created or rotated: the only time its secret is shown. `Debug` shows
/// the id, never the token.
pub struct IssuedToken {
    info: TokenInfo,
    token: String,
}

impl IssuedToken {
    /// The id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The credential, `rf_<id>_<secret>`: give it to the scraper and do not keep it
    /// anywhere else; the store cannot show it again.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// What the store keeps about it.
    pub fn info(&self) -> &TokenInfo {
        &self.info
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("info", &self.info)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self.inner.state.read().map(|s| s.records.len()).ok();
        f.debug_struct("TokenStore")
            .field("path", &self.inner.path)
            .field("tokens", &tokens)
            .finish()
    }
}

/// The parts of a well-formed opaque token.
pub(crate) fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(PREFIX)?.split_once('_')?;
    let id_ok = (8..=12).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = secret.len() == SECRET_BYTES * 2
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (id_ok && secret_ok).then_some((id, secret))
}

fn store_error(reason: impl Into<String>) -> Error {
    Error::Install {
        what: "the token store",
        reason: reason.into(),
    }
}

fn system_clock() -> u64 {
    unix_now()
}

impl TokenStore {
    /// Opens the store at `path`, creating it (mode 0600) if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<TokenStore, Error> {
        TokenStore::open_with_clock(path.as_ref(), system_clock)
    }

    /// `open` with another clock (seconds since the Unix epoch), for tests.
    pub(crate) fn open_with_clock(path: &Path, clock: fn() -> u64) -> Result<TokenStore, Error> {
        let name = path
            .file_name()
            .ok_or_else(|| store_error(format!("{} is not a file name", path.display())))?;
        let mut lock_name = name.to_owned();
        lock_name.push(".lock");
        let store = TokenStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                lock_path: path.with_file_name(lock_name),
                state: RwLock::new(Loaded::default()),
                reported: Mutex::new(None),
                clock,
                #[cfg(test)]
                fail_before_rename: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_dir(dir).map_err(|e| {
                    store_error(format!(
                        "cannot create the directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            store.change(|_, _| Ok(()))?;
        }
        store.check_permissions()?;
        store.reload()?;
        watch(&store.inner);
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Refuses a store that others may write; warns when they may read it.
    fn check_permissions(&self) -> Result<(), Error> {
        let path = &self.inner.path;
        let metadata = fs::metadata(path)
            .map_err(|e| store_error(format!("cannot read {}: {e}", path.display())))?;
        if !metadata.is_file() {
            return Err(store_error(format!("{} is not a file", path.display())));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                return Err(store_error(format!(
                    "{} can be written by other users (mode {mode:o}), who could add a token; \
                     run `chmod 600 {}`",
                    path.display(),
                    path.display()
                )));
            }
            if mode & 0o044 != 0 {
                tracing::warn!(
                    target: "rustform::auth",
                    path = %path.display(),
                    mode = %format!("{mode:o}"),
                    "the token store can be read by other users; run `chmod 600` on it"
                );
            }
        }
        Ok(())
    }

    /// Re-reads the file if it changed since it was last read.
    pub fn reload(&self) -> Result<(), Error> {
        let path = &self.inner.path;
        let metadata = fs::metadata(path)
            .map_err(|e| store_error(format!("cannot read {}: {e}", path.display())))?;
        // A pipe or a device could block the reader for ever.
        if !metadata.is_file() {
            return Err(store_error(format!(
                "{} is not a regular file: the store must be a file",
                path.display()
            )));
        }
        let stamp = Stamp::of(&metadata);
        if self
            .inner
            .state
            .read()
            .is_ok_and(|s| s.stamp.as_ref() == Some(&stamp))
        {
            return Ok(());
        }
        let (records, stamp) = self.read_file()?;
        let mut state = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        state.records = records;
        state.stamp = Some(stamp);
        Ok(())
    }

    /// Re-reads the file if it changed; a failure keeps the tokens last read and is
    /// logged once.
    fn refresh(&self) {
        let result = self.reload();
        let mut reported = self
            .inner
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(()) => *reported = None,
            Err(error) => {
                let message = error.to_string();
                if reported.as_ref() != Some(&message) {
                    tracing::warn!(
                        target: "rustform::auth",
                        error = %message,
                        "the token store could not be re-read; the tokens read before stay in force"
                    );
                    *reported = Some(message);
                }
            }
        }
    }

    /// Reads and parses the file.
    fn read_file(&self) -> Result<(Vec<Record>, Stamp), Error> {
        let path = &self.inner.path;
        let file = File::open(path)
            .map_err(|e| store_error(format!("cannot read {}: {e}", path.display())))?;
        let stamp = Stamp::of(
            &file
                .metadata()
                .map_err(|e| store_error(format!("cannot read {}: {e}", path.display())))?,
        );
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| store_error(format!("cannot read {}: {e}", path.display())))?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(store_error(format!(
                "{} is larger than {} MiB: it is not a token store",
                path.display(),
                MAX_FILE_BYTES >> 20
            )));
        }
        let file: StoreFile = serde_json::from_str(&text).map_err(|e| {
            store_error(format!(
                "{} is not a rustform token store: {e}; restore it from a backup or move it \
                 away to start a new one",
                path.display()
            ))
        })?;
        if file.version != VERSION {
            return Err(store_error(format!(
                "{} has format version {}, this rustform reads version {VERSION}",
                path.display(),
                file.version
            )));
        }
        Ok((file.tokens, stamp))
    }

    /// Applies `edit` to the tokens read fresh under the lock, then writes them.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut Vec<Record>, u64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode_0600()
            .open(&self.inner.lock_path)
            .map_err(|e| {
                store_error(format!(
                    "cannot open {}: {e}",
                    self.inner.lock_path.display()
                ))
            })?;
        lock.lock().map_err(|e| {
            store_error(format!(
                "cannot lock {}: {e}",
                self.inner.lock_path.display()
            ))
        })?;
        let mut records = if self.inner.path.exists() {
            self.read_file()?.0
        } else {
            Vec::new()
        };
        let now = (self.inner.clock)();
        let out = edit(&mut records, now)?;
        // Grace periods that are over need not be kept.
        for record in &mut records {
            if record
                .previous
                .as_ref()
                .is_some_and(|p| p.valid_until <= now)
            {
                record.previous = None;
            }
        }
        let text = serde_json::to_string_pretty(&StoreFile {
            version: VERSION,
            tokens: records.clone(),
        })
        .map_err(|e| store_error(format!("cannot encode the tokens: {e}")))?;
        self.write_atomically(format!("{text}\n").as_bytes())
            .map_err(|e| store_error(format!("cannot write {}: {e}", self.inner.path.display())))?;
        let stamp = fs::metadata(&self.inner.path).ok().map(|m| Stamp::of(&m));
        let mut state = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        state.records = records;
        state.stamp = stamp;
        drop(lock);
        Ok(out)
    }

    /// Writes `bytes` to a temporary file in the store's directory (mode 0600), syncs
    /// it, and renames it over the store.
    fn write_atomically(&self, bytes: &[u8]) -> io::Result<()> {
        let path = &self.inner.path;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let suffix = secret::random_id(8).map_err(io::Error::other)?;
        let temporary = dir.join(format!(".{name}.{suffix}.tmp"));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode_0600()
                .open(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            #[cfg(test)]
            if self
                .inner
                .fail_before_rename
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return Err(io::Error::other("simulated failure before the rename"));
            }
            fs::rename(&temporary, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temporary);
            return result;
        }
        // The rename is durable once the directory is synced; not every file system
        // allows that, and the data is already safe in the file.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Creates a token granting `scopes`, expiring after `ttl` (or never).
    ///
    /// Fails when a scope is empty or has spaces, or the file cannot be written.
    pub fn create(&self, scopes: &[&str], ttl: Option<Duration>) -> Result<IssuedToken, Error> {
        for scope in scopes {
            check_scope(scope)?;
        }
        let secret = secret::hex(&secret::random_bytes::<SECRET_BYTES>().map_err(store_error)?);
        self.change(|records, now| {
            let id = loop {
                let id = secret::random_id(ID_LEN).map_err(store_error)?;
                if !records.iter().any(|r| r.id == id) {
                    break id;
                }
            };
            let record = Record {
                id: id.clone(),
                hash: secret::sha256(secret.as_bytes()),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                created_at: now,
                expires_at: ttl.map(|ttl| now.saturating_add(ttl.as_secs())),
                revoked_at: None,
                previous: None,
            };
            let info = record.info();
            records.push(record);
            Ok(IssuedToken {
                token: format!("{PREFIX}{id}_{secret}"),
                info,
            })
        })
    }

    /// Gives token `id` a new secret. The old secret keeps working for `grace` (none if
    /// zero), so the scraper's credentials can be replaced without a failed scrape.
    ///
    /// Fails when no token has that id, or it is revoked or expired.
    pub fn rotate(&self, id: &str, grace: Duration) -> Result<IssuedToken, Error> {
        let secret = secret::hex(&secret::random_bytes::<SECRET_BYTES>().map_err(store_error)?);
        let path = self.inner.path.display().to_string();
        self.change(|records, now| {
            let record = find(records, id, &path)?;
            if record.revoked_at.is_some() {
                return Err(store_error(format!(
                    "token {id} is revoked and cannot be rotated: create a new one"
                )));
            }
            if record.expires_at.is_some_and(|e| e <= now) {
                return Err(store_error(format!(
                    "token {id} has expired and cannot be rotated: create a new one"
                )));
            }
            let grace = grace.as_secs();
            record.previous = (grace > 0).then(|| Previous {
                hash: record.hash,
                valid_until: now.saturating_add(grace),
            });
            record.hash = secret::sha256(secret.as_bytes());
            Ok(IssuedToken {
                token: format!("{PREFIX}{id}_{secret}"),
                info: record.info(),
            })
        })
    }

    /// Revokes token `id` (and any secret in its grace period) for good.
    ///
    /// Fails when no token has that id; revoking twice keeps the first time.
    pub fn revoke(&self, id: &str) -> Result<TokenInfo, Error> {
        let path = self.inner.path.display().to_string();
        self.change(|records, now| {
            let record = find(records, id, &path)?;
            record.revoked_at.get_or_insert(now);
            record.previous = None;
            Ok(record.info())
        })
    }

    /// Every token, oldest first, as the file says now.
    pub fn list(&self) -> Vec<TokenInfo> {
        self.refresh_now();
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        let mut infos: Vec<TokenInfo> = state.records.iter().map(Record::info).collect();
        infos.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        infos
    }

    /// The token `id`, if the store has it.
    pub fn get(&self, id: &str) -> Option<TokenInfo> {
        self.refresh_now();
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        state.records.iter().find(|r| r.id == id).map(Record::info)
    }

    fn refresh_now(&self) {
        if let Err(error) = self.reload() {
            tracing::warn!(target: "rustform::auth", error = %error, "the token store could not be re-read");
        }
    }

    /// What the store knows about `token` if it is a valid token now (by the file as
    /// last read: see "Changes on disk" above), else why not:
    /// `Malformed` (not `rf_<id>_<secret>`), `Invalid` (unknown, wrong secret, or a
    /// secret replaced by rotation whose grace period is over), `Revoked`, `Expired`.
    ///
    /// The secret's hash is compared in constant time with the current one and the
    /// previous one alike; an unknown id costs the same comparisons.
    pub fn verify(&self, token: &str) -> Result<TokenInfo, FailureReason> {
        let (id, secret) = parse_token(token).ok_or(FailureReason::Malformed)?;
        let digest = secret::sha256(secret.as_bytes());
        let now = (self.inner.clock)();
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        let record = state.records.iter().find(|r| r.id == id);
        let unknown: Digest = [0; 32];
        let current = secret::same(&digest, record.map_or(&unknown, |r| &r.hash));
        let previous = secret::same(
            &digest,
            record
                .and_then(|r| r.previous.as_ref())
                .map_or(&unknown, |p| &p.hash),
        );
        let Some(record) = record else {
            return Err(FailureReason::Invalid);
        };
        let matched: Choice = current | previous;
        if !bool::from(matched) {
            return Err(FailureReason::Invalid);
        }
        if !bool::from(current)
            && record
                .previous
                .as_ref()
                .is_none_or(|p| now >= p.valid_until)
        {
            return Err(FailureReason::Invalid);
        }
        if record.revoked_at.is_some() {
            return Err(FailureReason::Revoked);
        }
        if record.expires_at.is_some_and(|e| now >= e) {
            return Err(FailureReason::Expired);
        }
        Ok(record.info())
    }
}

/// The stores the watcher looks at, held weakly: a dropped store goes with its last
/// handle.
static WATCHED: Mutex<Vec<std::sync::Weak<Inner>>> = Mutex::new(Vec::new());

/// Has the watcher look at `store`'s file once a second; starts the watcher with the
/// first store.
fn watch(store: &Arc<Inner>) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    {
        let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
        watched.retain(|w| w.strong_count() > 0);
        watched.push(Arc::downgrade(store));
    }
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("rustform-token-store".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(CHECK_EVERY);
                    let stores: Vec<TokenStore> = {
                        let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
                        watched.retain(|w| w.strong_count() > 0);
                        watched
                            .iter()
                            .filter_map(std::sync::Weak::upgrade)
                            .map(|inner| TokenStore { inner })
                            .collect()
                    };
                    for store in stores {
                        store.refresh();
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(
                target: "rustform::auth",
                %error,
                "no thread to watch token stores: changes to their files are seen only \
                 through TokenStore::reload"
            );
        }
    });
}

fn find<'r>(records: &'r mut [Record], id: &str, path: &str) -> Result<&'r mut Record, Error> {
    records.iter_mut().find(|r| r.id == id).ok_or_else(|| {
        store_error(format!(
            "{path} has no token with id {id:?}; `rustform metrics list-tokens` shows the ids"
        ))
    })
}

/// Creates `dir` and its parents, mode 0700 for the new ones.
fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// `mode(0o600)` where there are modes.
trait Private {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Private for OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static NOW: AtomicU64 = AtomicU64::new(1_800_000_000);

    fn test_clock() -> u64 {
        NOW.load(Ordering::SeqCst)
    }

    fn store_with_clock(dir: &Path) -> TokenStore {
        TokenStore::open_with_clock(&dir.join("tokens.json"), test_clock).unwrap()
    }

    #[test]
    fn tokens_have_the_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path().join("tokens.json")).unwrap();
        let issued = store.create(&["metrics:read"], None).unwrap();
        let (id, secret) = parse_token(issued.token()).unwrap();
        assert_eq!(id, issued.id());
        assert_eq!(id.len(), ID_LEN);
        assert_eq!(secret.len(), 64);
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(secret), "the secret is in the file: {text}");
        assert!(text.contains(&secret::hex(&secret::sha256(secret.as_bytes()))));
        assert!(!format!("{issued:?}").contains(secret));
        assert!(!format!("{store:?}").contains(secret));
    }

    #[test]
    fn parse_token_accepts_only_the_exact_shape() {
        let secret = "a".repeat(64);
        assert!(parse_token(&format!("rf_abcd1234_{secret}")).is_some());
        assert!(parse_token(&format!("rf_abcd1234ab12_{secret}")).is_some());
        for bad in [
            format!("rf_abc1234_{secret}"),
            format!("rf_abcd1234abc12_{secret}"),
            format!("rf_ABCD1234_{secret}"),
            format!("rf_abcd1234_{}", "a".repeat(63)),
            format!("rf_abcd1234_{}", "A".repeat(64)),
            format!("rf_abcd1234_{secret}_"),
            format!("xx_abcd1234_{secret}"),
            "rf_".to_owned(),
            String::new(),
        ] {
            assert_eq!(parse_token(&bad), None, "{bad}");
        }
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_clock(dir.path());
        let start = test_clock();
        let old = store.create(&["metrics:read"], None).unwrap();
        let new = store.rotate(old.id(), Duration::from_secs(60)).unwrap();
        assert_eq!(new.id(), old.id());
        assert_ne!(new.token(), old.token());
        assert!(store.verify(old.token()).is_ok());
        assert!(store.verify(new.token()).is_ok());
        assert_eq!(store.list()[0].status(), TokenStatus::Rotating);

        NOW.store(start + 59, Ordering::SeqCst);
        assert!(store.verify(old.token()).is_ok());
        NOW.store(start + 60, Ordering::SeqCst);
        assert_eq!(store.verify(old.token()), Err(FailureReason::Invalid));
        assert!(store.verify(new.token()).is_ok());
        NOW.store(start, Ordering::SeqCst);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path().join("tokens.json")).unwrap();
        let kept = store.create(&["metrics:read"], None).unwrap();
        let before = fs::read(store.path()).unwrap();
        store
            .inner
            .fail_before_rename
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let err = store.create(&["metrics:read"], None).unwrap_err();
        assert!(err.to_string().contains("simulated failure"), "{err}");
        assert!(store.revoke(kept.id()).is_err());
        assert_eq!(fs::read(store.path()).unwrap(), before);
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.ends_with(".tmp")),
            "a temporary file was left: {names:?}"
        );
        // The failed revocation changed nothing, in the file or in memory.
        assert!(store.verify(kept.token()).is_ok());
        assert_eq!(store.list().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_a_writable_store_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/tokens.json");
        let store = TokenStore::open(&path).unwrap();
        store.create(&["metrics:read"], None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let lock_mode = fs::metadata(dir.path().join("nested/tokens.json.lock"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(lock_mode, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let err = TokenStore::open(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(TokenStore::open(&path).is_ok());
    }

    #[test]
    fn a_change_by_another_process_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let service = TokenStore::open(&path).unwrap();
        let cli = TokenStore::open(&path).unwrap();
        let issued = cli.create(&["metrics:read"], None).unwrap();
        service.reload().unwrap();
        assert!(service.verify(issued.token()).is_ok());
        cli.revoke(issued.id()).unwrap();
        // Within the check interval the service may still use what it read; after it,
        // the watcher rereads the file and the revocation holds. A loaded machine may run
        // the watcher late: wait for it, boundedly, but never see the token accepted
        // again once it was refused.
        std::thread::sleep(CHECK_EVERY);
        let mut verdict = service.verify(issued.token());
        for _ in 0..200 {
            if verdict.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            verdict = service.verify(issued.token());
        }
        assert_eq!(verdict, Err(FailureReason::Revoked));
        assert_eq!(service.verify(issued.token()), Err(FailureReason::Revoked));
    }

    #[test]
    fn verify_never_reads_the_file_on_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let store = TokenStore::open(&path).unwrap();
        let issued = store.create(&["metrics:read"], None).unwrap();
        // The file becomes a pipe: whoever opens it to read waits for a writer.
        fs::remove_file(&path).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // Past the interval in which the file is looked at.
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(200));
        let (sender, received) = std::sync::mpsc::channel();
        let verifier = store.clone();
        let token = issued.token().to_owned();
        std::thread::spawn(move || {
            let _ = sender.send(verifier.verify(&token).map(|info| info.id));
        });
        let verified = received
            .recv_timeout(Duration::from_secs(10))
            .expect("verify waited on the file");
        assert_eq!(verified, Ok(issued.id().to_owned()));
        // The watcher refuses the pipe instead of blocking on it.
        let err = store.reload().unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
    }

    #[test]
    fn a_corrupt_file_is_refused_with_the_fix_and_kept_tokens_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let store = TokenStore::open(&path).unwrap();
        let issued = store.create(&["metrics:read"], None).unwrap();
        fs::write(&path, "{\"version\": 1, \"tokens\": [{\"id\": 5}]}").unwrap();
        let err = store.reload().unwrap_err().to_string();
        assert!(err.contains("not a rustform token store"), "{err}");
        assert!(store.verify(issued.token()).is_ok());
        assert!(TokenStore::open(&path).is_err());
    }
}
