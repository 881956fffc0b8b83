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
use crate::live::{Entries, Written};
use crate::model::entry::{HASH, digest};
use crate::secret::Secret;

/// berth's record of the entries it wrote.
pub const RECORD: &str = "berth__openc3_microservices";

/// How long berth waits for Redis to answer: a Redis that does not answer is a clear
/// failure, never a hang.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One connection to COSMOS's Redis.
pub struct Store {
    connection: MultiplexedConnection,
    /// The URL, for messages.
    url: String,
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
    /// In one round trip: berth's record, and the entries under `names` (each as the
    /// digest of what is there).
    pub async fn observe(&mut self, names: &[String]) -> Result<Entries, Failure> {
        let mut pipe = redis::pipe();
        pipe.hgetall(RECORD);
        if !names.is_empty() {
            pipe.cmd("HMGET").arg(HASH).arg(names);
        }
        let (record, present): (BTreeMap<String, String>, Vec<Option<String>>) = if names.is_empty() {
            let (record,): (BTreeMap<String, String>,) = pipe
                .query_async(&mut self.connection)
                .await
                .map_err(|e| self.failure("cannot read COSMOS's Redis", e))?;
            (record, Vec::new())
        } else {
            pipe.query_async(&mut self.connection)
                .await
                .map_err(|e| self.failure("cannot read COSMOS's Redis", e))?
        };
        let written = record
            .into_iter()
            .map(|(name, text)| {
                // A record berth cannot read belongs to no one it knows: never ours.
                let w = serde_json::from_str(&text).unwrap_or(Written {
                    installation: String::new(),
                    project: String::new(),
                    digest: String::new(),
                });
                (name, w)
            })
            .collect();
        let present = names
            .iter()
            .cloned()
            .zip(present.into_iter().map(|text| text.map(|t| digest_of(&t))))
            .collect();
        Ok(Entries { present, written })
    }

    /// Writes `entries` (name → entry, `updated_at` set) with berth's record of each,
    /// all or none: refused, for all, when any name holds an entry berth did not write
    /// for this installation and project (one may have appeared since the plan).
    pub async fn write(
        &mut self,
        entries: &[(String, Map<String, Value>)],
        installation: &str,
        project: &str,
    ) -> Result<(), Failure> {
        let script = redis::Script::new(WRITE);
        let mut call = script.key(HASH);
        call.key(RECORD).arg(installation).arg(project);
        for (name, entry) in entries {
            let record = Written {
                installation: installation.to_string(),
                project: project.to_string(),
                digest: digest(entry),
            };
            call.arg(name)
                .arg(Value::Object(entry.clone()).to_string())
                .arg(serde_json::to_string(&record).unwrap_or_default());
        }
        let refused: Option<String> = call
            .invoke_async(&mut self.connection)
            .await
            .map_err(|e| self.failure("cannot write to COSMOS's Redis", e))?;
        match refused {
            None => Ok(()),
            Some(name) => Err(Failure::new(format!(
                "COSMOS's Redis has an entry for `{name}` in {HASH} that berth did not write; nothing was written"
            ))
            .with_help("remove it from COSMOS first (uninstall the plugin that made it), or rename the MICROSERVICE")),
        }
    }

    /// Removes the entries under `names` that berth wrote for this installation and
    /// project, with its record of them; any other is left as it is.
    pub async fn remove(
        &mut self,
        names: &[String],
        installation: &str,
        project: &str,
    ) -> Result<(), Failure> {
        let script = redis::Script::new(REMOVE);
        let mut call = script.key(HASH);
        call.key(RECORD).arg(installation).arg(project).arg(names);
        let _: i64 = call
            .invoke_async(&mut self.connection)
            .await
            .map_err(|e| self.failure("cannot remove entries from COSMOS's Redis", e))?;
        Ok(())
    }

    fn failure(&self, what: &str, e: redis::RedisError) -> Failure {
        failure(&self.url, what, e)
    }
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
        "check that cosmos.redis.url names COSMOS's Redis (its user needs HGET, HMGET, HGETALL, HSET, HDEL and EVAL on the two hashes)"
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

/// KEYS: the entries, berth's record. ARGV: installation, project, then (name, entry,
/// record) for each entry. Returns the first name held by an entry berth did not write
/// for them (writing nothing), or nil once all are written.
const WRITE: &str = r"
local function ours(name)
  local record = redis.call('HGET', KEYS[2], name)
  if not record then return false end
  local ok, r = pcall(cjson.decode, record)
  return ok and r.installation == ARGV[1] and r.project == ARGV[2]
end
for i = 3, #ARGV, 3 do
  local name = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], name) == 1 and not ours(name) then
    return name
  end
end
for i = 3, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
end
return false
";

/// KEYS: the entries, berth's record. ARGV: installation, project, then the names.
/// Removes those berth wrote for them; returns how many.
const REMOVE: &str = r"
local removed = 0
for i = 3, #ARGV do
  local name = ARGV[i]
  local record = redis.call('HGET', KEYS[2], name)
  if record then
    local ok, r = pcall(cjson.decode, record)
    if ok and r.installation == ARGV[1] and r.project == ARGV[2] then
      redis.call('HDEL', KEYS[1], name)
      redis.call('HDEL', KEYS[2], name)
      removed = removed + 1
    end
  end
end
return removed
";
