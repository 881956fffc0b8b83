//! Attached mode's edge: COSMOS's Redis (berth.yaml `cosmos.redis`), where each
//! MICROSERVICE's entry lives in the hash `openc3_microservices` (RUNTIME.md R5). berth
//! keeps a record of the entries it wrote beside it, in the hash
//! `berth__openc3_microservices` (name → installation, project and digest), so that it
//! never takes, changes or removes an entry it did not write: the writes and removals
//! check that record inside Redis, atomically, in one script each.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde_json::{Map, Value};

use crate::config::Redis;
use crate::failure::Failure;
use crate::live::{Entries, Found, Written};
use crate::model::entry::{HASH, digest};
use crate::secret::Secret;

/// berth's record of the entries it wrote.
pub const RECORD: &str = "berth__openc3_microservices";

/// How long berth waits for Redis to answer: a Redis that does not answer is a clear
/// failure, never a hang.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One connection to COSMOS's Redis, shared by whoever clones it (a multiplexed
/// connection: one per process).
#[derive(Clone)]
pub struct Store {
    connection: MultiplexedConnection,
    /// The URL, for messages.
    url: String,
}

/// An entry to write: its name, the text the plan found under it (`None`: none), the
/// entry with `updated_at` set, and the digest of the configuration it is written from.
pub struct Write<'a> {
    pub name: &'a str,
    pub expected: Option<&'a str>,
    pub entry: Map<String, Value>,
    pub config: String,
}

/// Connects, authenticating as `cosmos.redis` says (the password's value is given).
pub async fn connect(redis: &Redis, password: Option<&Secret<String>>) -> Result<Store, Failure> {
    let url = redis.url.clone();
    let bad_url = |e: redis::RedisError| {
        Failure::caused(
            format!("berth.yaml cosmos.redis.url `{url}` is not a Redis URL"),
            e,
        )
        .with_help("write it as redis://host:port")
    };
    let mut info: redis::ConnectionInfo =
        redis::IntoConnectionInfo::into_connection_info(url.as_str()).map_err(bad_url)?;
    let mut settings = info.redis_settings().clone();
    if let Some(user) = &redis.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = password {
        settings = settings.set_password(password.expose());
    }
    info = info.set_redis_settings(settings);
    let client = redis::Client::open(info).map_err(bad_url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| failure(&url, "cannot connect to COSMOS's Redis", e))?;
    Ok(Store { connection, url })
}

impl Store {
    /// In one round trip: berth's record of the entries under `names` and of this
    /// installation's `project`, and what those names hold.
    pub async fn observe(
        &self,
        names: &[String],
        installation: &str,
        project: &str,
    ) -> Result<Entries, Failure> {
        let script = redis::Script::new(&format!("{HELPERS}{OBSERVE}"));
        let mut call = script.key(HASH);
        call.key(RECORD).arg(installation).arg(project).arg(names);
        let mut connection = self.connection.clone();
        let (records, found): (Vec<String>, Vec<String>) = call
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failure("cannot read COSMOS's Redis", e))?;
        let written = records
            .chunks(2)
            // A record berth cannot read belongs to no one it knows: never its own.
            .filter_map(|pair| Some((pair.first()?.clone(), serde_json::from_str(pair.get(1)?).ok()?)))
            .collect();
        let mut present: BTreeMap<String, Option<Found>> = names.iter().map(|n| (n.clone(), None)).collect();
        for pair in found.chunks(2) {
            if let [name, text] = pair {
                let found = text.strip_prefix('=').map(|t| Found {
                    digest: digest_of(t),
                    text: Secret::new(t.to_string()),
                });
                present.insert(name.clone(), found);
            }
        }
        Ok(Entries { present, written })
    }

    /// Writes the entries with berth's record of each, all or none: refused, for all,
    /// when a name no longer holds what the plan found there, or holds an entry berth
    /// did not write for this installation and project.
    pub async fn write(
        &self,
        entries: &[Write<'_>],
        installation: &str,
        project: &str,
    ) -> Result<(), Failure> {
        let script = redis::Script::new(&format!("{HELPERS}{WRITE}"));
        let mut call = script.key(HASH);
        call.key(RECORD).arg(installation).arg(project);
        for w in entries {
            let record = Written {
                installation: installation.to_string(),
                project: project.to_string(),
                digest: digest(&w.entry),
                config: w.config.clone(),
            };
            call.arg(w.name)
                .arg(seen(w.expected))
                .arg(Value::Object(w.entry.clone()).to_string())
                .arg(serde_json::to_string(&record).unwrap_or_default());
        }
        let mut connection = self.connection.clone();
        let refused: Option<String> = call
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failure("cannot write to COSMOS's Redis", e))?;
        match refused.as_deref().and_then(|r| r.split_once(':')) {
            None => Ok(()),
            Some(("taken", name)) => Err(Failure::new(format!(
                "COSMOS's Redis has an entry for `{name}` in {HASH} that berth did not write; nothing was written"
            ))
            .with_help("remove it from COSMOS first (uninstall the plugin that made it), or rename the MICROSERVICE")),
            Some((_, name)) => Err(Failure::new(format!(
                "the entry for `{name}` in {HASH} changed since the plan; nothing was written"
            ))
            .with_help("plan again")),
        }
    }

    /// Removes the entries under `names` (each with the text the plan found under it)
    /// that berth wrote for this installation and project and that are still what the
    /// plan found, with berth's record of them; any other is left as it is. The names
    /// left.
    pub async fn remove(
        &self,
        names: &[(&str, Option<&str>)],
        installation: &str,
        project: &str,
    ) -> Result<Vec<String>, Failure> {
        let script = redis::Script::new(&format!("{HELPERS}{REMOVE}"));
        let mut call = script.key(HASH);
        call.key(RECORD).arg(installation).arg(project);
        for (name, expected) in names {
            call.arg(*name).arg(seen(*expected));
        }
        let mut connection = self.connection.clone();
        call.invoke_async(&mut connection)
            .await
            .map_err(|e| self.failure("cannot remove entries from COSMOS's Redis", e))
    }

    fn failure(&self, what: &str, e: redis::RedisError) -> Failure {
        failure(&self.url, what, e)
    }
}

/// What the scripts compare with what a name holds: `=TEXT`, or `-` for nothing.
fn seen(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_string(), |t| format!("={t}"))
}

/// What went wrong talking to Redis, and what to do about it.
fn failure(url: &str, what: &str, e: redis::RedisError) -> Failure {
    let help = if e.kind() == redis::ErrorKind::AuthenticationFailed
        || e.to_string().contains("WRONGPASS")
        || e.to_string().contains("NOAUTH")
    {
        "Redis refused berth's credentials: check cosmos.redis.username and the secret cosmos.redis.password names"
    } else if e.is_connection_refusal() || e.is_timeout() || e.is_io_error() {
        "is Redis running, and is cosmos.redis.url in berth.yaml where berth reaches it?"
    } else {
        "check that cosmos.redis.url names COSMOS's Redis (its user needs EVALSHA and SCRIPT LOAD, and HGET, HGETALL, HSET and HDEL on the two hashes)"
    };
    Failure::caused(format!("{what} at {url}"), e).with_help(help)
}

/// The digest of an entry's text as Redis holds it; text that is not a JSON object
/// gets a digest of its own, which matches no entry berth wrote.
fn digest_of(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(entry)) => digest(&entry),
        _ => format!("unreadable:{}", crate::model::entry::digest(&Map::new())),
    }
}

/// Whether berth wrote the entry under a name for this installation and project
/// (ARGV[1], ARGV[2]), by its record (KEYS[2]); and what the name holds now, as `seen`
/// writes it.
const HELPERS: &str = r"
local function ours(name)
  local record = redis.call('HGET', KEYS[2], name)
  if not record then return false end
  local ok, r = pcall(cjson.decode, record)
  return ok and type(r) == 'table' and r.installation == ARGV[1] and r.project == ARGV[2]
end
local function seen(name)
  local current = redis.call('HGET', KEYS[1], name)
  if current then return '=' .. current end
  return '-'
end
";

/// KEYS: the entries, berth's record. ARGV: installation, project, then (name, what the
/// plan found, entry, record) for each. Returns `changed:NAME` or `taken:NAME` for the
/// first name that is not as the plan found it or not berth's (writing nothing), or nil
/// once all are written.
const WRITE: &str = r"
for i = 3, #ARGV, 4 do
  local name = ARGV[i]
  local now = seen(name)
  if now ~= ARGV[i + 1] then return 'changed:' .. name end
  if now ~= '-' and not ours(name) then return 'taken:' .. name end
end
for i = 3, #ARGV, 4 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 3])
end
return false
";

/// KEYS: the entries, berth's record. ARGV: installation, project, then (name, what the
/// plan found) for each. Removes those berth wrote for them that are as the plan found
/// them; returns the names left.
const REMOVE: &str = r"
local left = {}
for i = 3, #ARGV, 2 do
  local name = ARGV[i]
  if ours(name) and seen(name) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], name)
    redis.call('HDEL', KEYS[2], name)
  else
    table.insert(left, name)
  end
end
return left
";

/// KEYS: the entries, berth's record. ARGV: installation, project, then the model's
/// names. Returns berth's records of those names and of this installation's project
/// (name, record, …), and what each of those names holds, as `seen` writes it.
const OBSERVE: &str = r"
local wanted, records, found = {}, {}, {}
for i = 3, #ARGV do wanted[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local name = all[i]
  if wanted[name] or ours(name) then
    table.insert(records, name)
    table.insert(records, all[i + 1])
    wanted[name] = true
  end
end
for name in pairs(wanted) do
  table.insert(found, name)
  table.insert(found, seen(name))
end
return {records, found}
";
