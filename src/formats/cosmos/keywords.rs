//! What COSMOS knows about each `plugin.txt` keyword: which block it opens or belongs to,
//! how many parameters it takes, and whether the docs or the code consider it current
//! (FORMATS.md §1.4–§1.8). Data only; lint rules and lowering read it.

use std::fmt;

/// The kind of model a top-level keyword opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockKind {
    Target,
    Interface,
    Router,
    Microservice,
    Tool,
    Widget,
    ScriptEngine,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Target => "TARGET",
            BlockKind::Interface => "INTERFACE",
            BlockKind::Router => "ROUTER",
            BlockKind::Microservice => "MICROSERVICE",
            BlockKind::Tool => "TOOL",
            BlockKind::Widget => "WIDGET",
            BlockKind::ScriptEngine => "SCRIPT_ENGINE",
        }
    }

    /// Which header parameter names the block's model (`TARGET <folder> <name>`,
    /// `INTERFACE <name> <filename>`).
    pub fn name_param(self) -> usize {
        match self {
            BlockKind::Target | BlockKind::Microservice | BlockKind::Tool => 1,
            BlockKind::Interface | BlockKind::Router | BlockKind::Widget | BlockKind::ScriptEngine => 0,
        }
    }

    /// Whether the block runs as a container (a microservice of its own).
    pub fn is_deployed(self) -> bool {
        matches!(
            self,
            BlockKind::Microservice | BlockKind::Interface | BlockKind::Router
        )
    }
}

impl fmt::Display for BlockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// How COSMOS and its docs regard a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Current,
    /// Accepted and ignored (P32).
    Deprecated,
    /// Documented as Enterprise only or "coming soon" (P31).
    Enterprise,
    /// Removed from COSMOS: older releases accept it, the pinned one rejects the plugin
    /// (`removed-keyword`). Kept so that plugins written for COSMOS 5 get a precise
    /// warning rather than "unknown keyword".
    Removed,
}

/// A keyword with its parameter count range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    pub name: &'static str,
    pub min: usize,
    /// `None`: no upper bound.
    pub max: Option<usize>,
    pub status: Status,
    /// Parameter names for messages, e.g. `<folder> <name>`.
    pub usage: &'static str,
}

const fn kw(name: &'static str, min: usize, max: Option<usize>, usage: &'static str) -> Keyword {
    Keyword {
        name,
        min,
        max,
        status: Status::Current,
        usage,
    }
}

const fn status(k: Keyword, status: Status) -> Keyword {
    Keyword { status, ..k }
}

const ANY: Option<usize> = None;

/// Keywords that open a block.
pub static TOP_LEVEL: &[(BlockKind, Keyword)] = &[
    (BlockKind::Target, kw("TARGET", 2, Some(2), "<folder> <name>")),
    (
        BlockKind::Interface,
        kw("INTERFACE", 2, ANY, "<name> <filename> [params...]"),
    ),
    (
        BlockKind::Router,
        kw("ROUTER", 2, ANY, "<name> <filename> [params...]"),
    ),
    (
        BlockKind::Microservice,
        kw("MICROSERVICE", 2, Some(2), "<folder> <name>"),
    ),
    (BlockKind::Tool, kw("TOOL", 2, Some(2), "<folder> <name>")),
    (BlockKind::Widget, kw("WIDGET", 1, Some(3), "<name> [label]")),
    (
        BlockKind::ScriptEngine,
        kw("SCRIPT_ENGINE", 1, Some(3), "<extension> <filename>"),
    ),
];

/// The VARIABLE family: valid anywhere, they neither open nor close a block.
pub static ANYWHERE: &[Keyword] = &[
    kw("VARIABLE", 2, ANY, "<name> <default...>"),
    kw("VARIABLE_DESCRIPTION", 1, Some(1), "<text>"),
    kw("VARIABLE_STATE", 1, Some(2), "[<text>] <value>"),
    kw("NEEDS_DEPENDENCIES", 0, ANY, ""),
];

static MICROSERVICE: &[Keyword] = &[
    kw("ENV", 2, Some(2), "<key> <value>"),
    kw("WORK_DIR", 1, Some(1), "<dir>"),
    kw("PORT", 1, Some(2), "<number> [protocol]"),
    kw("TOPIC", 1, Some(1), "<topic>"),
    kw("TARGET_NAME", 1, Some(1), "<target>"),
    kw("CMD", 1, ANY, "<arg> [arg...]"),
    kw("OPTION", 2, ANY, "<name> <value> [value...]"),
    status(kw("CONTAINER", 1, Some(1), "<image>"), Status::Enterprise),
    kw(
        "SECRET",
        3,
        Some(4),
        "<ENV|FILE> <secret_name> <env_var_or_path> [store]",
    ),
    kw("ROUTE_PREFIX", 1, Some(1), "<prefix>"),
    kw("DISABLE_ERB", 0, ANY, "[regex...]"),
    kw("SHARD", 1, Some(1), "<n>"),
    kw("DB_SHARD", 1, Some(1), "<n>"),
    kw("STOPPED", 0, Some(0), ""),
];

static INTERFACE: &[Keyword] = &[
    kw("ENV", 2, Some(2), "<key> <value>"),
    kw("WORK_DIR", 1, Some(1), "<dir>"),
    kw("PORT", 1, Some(2), "<number> [protocol]"),
    kw("CMD", 1, ANY, "<arg> [arg...]"),
    status(kw("CONTAINER", 1, Some(1), "<image>"), Status::Enterprise),
    kw(
        "SECRET",
        3,
        Some(5),
        "<ENV|FILE> <name> <env_or_path> [option_name] [store]",
    ),
    kw("ROUTE_PREFIX", 1, Some(1), "<prefix>"),
    kw("SHARD", 1, Some(1), "<n>"),
    kw("DB_SHARD", 1, Some(1), "<n>"),
    kw("MAP_TARGET", 1, Some(2), "<target> [ENABLED|DISABLED]"),
    kw("MAP_CMD_TARGET", 1, Some(2), "<target> [ENABLED|DISABLED]"),
    kw("MAP_TLM_TARGET", 1, Some(2), "<target> [ENABLED|DISABLED]"),
    kw("DONT_CONNECT", 0, Some(0), ""),
    kw("DONT_RECONNECT", 0, Some(0), ""),
    kw("DISABLE_DISCONNECT", 0, Some(0), ""),
    kw("RECONNECT_DELAY", 1, Some(1), "<seconds>"),
    kw("OPTION", 2, ANY, "<name> <value...>"),
    kw(
        "PROTOCOL",
        2,
        ANY,
        "<READ|WRITE|READ_WRITE> <file_or_class> [params...]",
    ),
    kw("LOG_STREAM", 0, ANY, "[class] [params...]"),
    status(kw("DONT_LOG", 0, ANY, ""), Status::Deprecated),
    status(kw("LOG_RAW", 0, ANY, ""), Status::Removed),
    status(kw("BRIDGE", 1, ANY, "<name>"), Status::Enterprise),
    status(
        kw("BRIDGE_OPTION", 2, ANY, "<name> <value...>"),
        Status::Enterprise,
    ),
    status(
        kw(
            "BRIDGE_PROTOCOL",
            2,
            ANY,
            "<READ|WRITE|READ_WRITE> <file_or_class> [params...]",
        ),
        Status::Enterprise,
    ),
    status(
        kw(
            "BRIDGE_SECRET",
            3,
            Some(5),
            "<ENV|FILE> <name> <env_or_path> [option_name] [store]",
        ),
        Status::Enterprise,
    ),
];

static TARGET: &[Keyword] = &[
    kw("CMD_BUFFER_DEPTH", 1, Some(1), "<depth>"),
    kw("CMD_LOG_CYCLE_TIME", 1, Some(1), "<seconds>"),
    kw("CMD_LOG_CYCLE_SIZE", 1, Some(1), "<bytes>"),
    kw("CMD_LOG_RETAIN_TIME", 1, Some(1), "<seconds>"),
    kw("TLM_BUFFER_DEPTH", 1, Some(1), "<depth>"),
    kw("TLM_LOG_CYCLE_TIME", 1, Some(1), "<seconds>"),
    kw("TLM_LOG_CYCLE_SIZE", 1, Some(1), "<bytes>"),
    kw("TLM_LOG_RETAIN_TIME", 1, Some(1), "<seconds>"),
    kw("CMD_DECOM_RETAIN_TIME", 1, Some(1), "<duration>"),
    kw("TLM_DECOM_RETAIN_TIME", 1, Some(1), "<duration>"),
    kw("DECOM_FLUSH_PERIOD", 1, Some(1), "<seconds>"),
    kw("LOG_RETAIN_TIME", 1, Some(1), "<seconds>"),
    kw("CLEANUP_POLL_TIME", 1, Some(1), "<seconds>"),
    kw(
        "TARGET_MICROSERVICE",
        1,
        Some(1),
        "<DECOM|COMMANDLOG|PACKETLOG|CLEANUP>",
    ),
    kw("PACKET", 1, Some(1), "<name>"),
    kw("DISABLE_ERB", 0, ANY, "[regex...]"),
    kw("SHARD", 1, Some(1), "<n>"),
    kw("DB_SHARD", 1, Some(1), "<n>"),
    kw("STORED_LIMITS_MODE", 1, Some(1), "<PROCESS|LOG|DISABLE>"),
    status(kw("CMD_DECOM_LOG_CYCLE_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("CMD_DECOM_LOG_CYCLE_SIZE", 0, ANY, ""), Status::Deprecated),
    status(kw("CMD_DECOM_LOG_RETAIN_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("TLM_DECOM_LOG_CYCLE_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("TLM_DECOM_LOG_CYCLE_SIZE", 0, ANY, ""), Status::Deprecated),
    status(kw("TLM_DECOM_LOG_RETAIN_TIME", 0, ANY, ""), Status::Deprecated),
    status(
        kw("REDUCED_MINUTE_LOG_RETAIN_TIME", 0, ANY, ""),
        Status::Deprecated,
    ),
    status(kw("REDUCED_HOUR_LOG_RETAIN_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCED_DAY_LOG_RETAIN_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCED_LOG_RETAIN_TIME", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCER_DISABLE", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCER_DISABLED", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCER_MAX_CPU_UTILIZATION", 0, ANY, ""), Status::Deprecated),
    status(kw("REDUCED_MAX_CPU_UTILIZATION", 0, ANY, ""), Status::Deprecated),
];

static TOOL: &[Keyword] = &[
    kw("URL", 1, Some(1), "<url>"),
    kw("INLINE_URL", 1, Some(1), "<url>"),
    kw("ICON", 1, Some(1), "<icon>"),
    kw("WINDOW", 1, Some(1), "<INLINE|IFRAME|NEW>"),
    kw("CATEGORY", 1, Some(1), "<category>"),
    kw("SHOWN", 1, Some(1), "<true|false>"),
    kw("POSITION", 1, Some(1), "<position>"),
    kw("DISABLE_ERB", 0, ANY, "[regex...]"),
    kw("IMPORT_MAP_ITEM", 2, Some(2), "<key> <value>"),
];

static WIDGET: &[Keyword] = &[kw("DISABLE_ERB", 0, ANY, "[regex...]")];

/// The block a top-level keyword opens.
pub fn top_level(keyword: &str) -> Option<(BlockKind, &'static Keyword)> {
    TOP_LEVEL
        .iter()
        .find(|(_, k)| k.name == keyword)
        .map(|(b, k)| (*b, k))
}

pub fn anywhere(keyword: &str) -> Option<&'static Keyword> {
    ANYWHERE.iter().find(|k| k.name == keyword)
}

/// The modifiers valid inside a block of `kind`.
pub fn modifiers(kind: BlockKind) -> &'static [Keyword] {
    match kind {
        BlockKind::Microservice => MICROSERVICE,
        // ROUTER shares INTERFACE's modifiers; BRIDGE* are rejected for it by `modifier`.
        BlockKind::Interface | BlockKind::Router => INTERFACE,
        BlockKind::Target => TARGET,
        BlockKind::Tool => TOOL,
        BlockKind::Widget => WIDGET,
        BlockKind::ScriptEngine => &[],
    }
}

/// The modifier `keyword` inside a block of `kind`, if COSMOS accepts it there.
pub fn modifier(kind: BlockKind, keyword: &str) -> Option<&'static Keyword> {
    if kind == BlockKind::Router && keyword.starts_with("BRIDGE") {
        return None;
    }
    modifiers(kind).iter().find(|k| k.name == keyword)
}

/// Every keyword name berth knows, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    TOP_LEVEL
        .iter()
        .map(|(_, k)| k.name)
        .chain(ANYWHERE.iter().map(|k| k.name))
        .chain(
            [MICROSERVICE, INTERFACE, TARGET, TOOL, WIDGET]
                .into_iter()
                .flatten()
                .map(|k| k.name),
        )
}

/// The block kinds in which `keyword` is a valid modifier.
pub fn blocks_accepting(keyword: &str) -> Vec<BlockKind> {
    TOP_LEVEL
        .iter()
        .map(|(b, _)| *b)
        .filter(|b| modifier(*b, keyword).is_some())
        .collect()
}

impl Keyword {
    /// Whether `n` parameters are within this keyword's range.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    /// "exactly 2", "2 to 4", "at least 1", for messages.
    pub fn arity(&self) -> String {
        match self.max {
            Some(max) if max == self.min => format!("exactly {max}"),
            Some(max) => format!("{} to {max}", self.min),
            None => format!("at least {}", self.min),
        }
    }
}
