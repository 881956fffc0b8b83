//! What a COSMOS `plugin.txt` said, after COSMOS's two install phases: the file's own
//! tokens (phase 1), its VARIABLEs, and the logical lines after ERB (phase 2) grouped
//! into blocks. Spans always point into the original file. This is syntax, not meaning:
//! `model::Service` is what will run.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::erb::TagKind;
use crate::formats::cosmos::keywords;
use crate::formats::cosmos::keywords::BlockKind;
use crate::parse::plugin_txt::{LogicalLine, Token, Tokenized};
use crate::source::{SourceFile, Span};

/// One analysed `plugin.txt`.
#[derive(Debug)]
pub struct Plugin {
    pub file: Arc<SourceFile>,
    /// Phase 1: the file tokenized as written, without ERB.
    pub raw: Tokenized,
    /// VARIABLE declarations in file order (a repeated name appears twice; the last wins).
    pub variables: Vec<Variable>,
    /// Phase 2: what ERB produced, or why it could not run.
    pub erb: Erb,
    /// The local variables ERB was given (the VARIABLEs with their overrides, and
    /// `scope`): the microservice files are rendered with them too.
    pub erb_locals: BTreeMap<String, String>,
    /// Phase 2's ERB tags as ERB scans them (after `comment_erb`), whether or not the
    /// template then rendered.
    pub erb_tags: Vec<ErbTag>,
    /// Names the template's Ruby code reads as local variables without assigning them
    /// (`erb::free_identifiers`), each with the span of the read, in template order.
    pub erb_free_identifiers: Vec<(String, Span)>,
    /// Phase 2's logical lines, spans and line numbers in the original file.
    pub lines: Vec<LogicalLine>,
    /// Phase 2's lines grouped: each top-level keyword with its modifiers.
    pub blocks: Vec<Block>,
    /// Indexes into `lines` of lines outside any block that are not top-level keywords.
    pub stray: Vec<usize>,
}

/// How phase 2's ERB went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erb {
    /// Rendered (with or without tags).
    Rendered,
    /// ERB failed; phase 2 did not run, so `lines` and `blocks` are empty.
    Failed,
}

/// One ERB tag of the template (`erb::Tag`), with its spans in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErbTag {
    pub kind: TagKind,
    /// From `<%` through `%>` (through the end of the file when it is never closed).
    pub span: Span,
    /// The Ruby code between the delimiters.
    pub code_span: Span,
    /// A comment only because `comment_erb` turned its `<%` into `<%#`.
    pub commented_out: bool,
}

/// `VARIABLE <name> <default...>` with its VARIABLE_DESCRIPTION and VARIABLE_STATEs.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: Token,
    /// `params[1..].join(" ")`, as COSMOS computes it.
    pub default: String,
    /// Index into `Plugin::raw.lines`.
    pub line: usize,
    pub description: Option<String>,
    pub states: Vec<(String, String)>,
}

/// A top-level keyword and the modifiers that follow it.
#[derive(Debug, Clone)]
pub struct Block {
    pub kind: BlockKind,
    /// Index into `Plugin::lines` of the top-level line.
    pub header: usize,
    /// Indexes into `Plugin::lines` of its modifiers, in order.
    pub modifiers: Vec<usize>,
}

impl Plugin {
    /// The top-level line of a block.
    pub fn header(&self, block: &Block) -> &LogicalLine {
        &self.lines[block.header]
    }

    /// A block's modifier lines.
    pub fn modifiers<'a>(&'a self, block: &'a Block) -> impl Iterator<Item = &'a LogicalLine> + 'a {
        block.modifiers.iter().map(|&i| &self.lines[i])
    }

    /// A block's modifier lines with the given keyword.
    pub fn modifiers_named<'a>(
        &'a self,
        block: &'a Block,
        keyword: &'a str,
    ) -> impl Iterator<Item = &'a LogicalLine> + 'a {
        self.modifiers(block).filter(move |l| l.keyword == keyword)
    }

    /// Every line with `keyword` in a block that accepts it as a modifier, with its block,
    /// in file order. Lines in blocks that do not accept it are the misplaced-modifier
    /// rule's business, so rules about the modifier's meaning never see them.
    pub fn modifier_lines<'a>(
        &'a self,
        keyword: &'a str,
    ) -> impl Iterator<Item = (&'a Block, &'a LogicalLine)> + 'a {
        self.blocks
            .iter()
            .filter(move |b| keywords::modifier(b.kind, keyword).is_some())
            .flat_map(move |b| self.modifiers_named(b, keyword).map(move |l| (b, l)))
    }

    /// The blocks of one kind, in file order.
    pub fn blocks_of(&self, kind: BlockKind) -> impl Iterator<Item = &Block> + '_ {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }

    /// The header parameter that names a block's model, when the header has it.
    pub fn block_name(&self, block: &Block) -> Option<&Token> {
        self.header(block).params.get(block.kind.name_param())
    }
}

/// What is known about the folder a `plugin.txt` sits in, when it is a plugin tree.
#[derive(Debug, Clone, Default)]
pub struct PluginTree {
    /// The folders under `microservices/`, by name, each with the files under it (at
    /// any depth), by path: what COSMOS's install uploads for a MICROSERVICE.
    pub microservices: BTreeMap<String, Vec<TreeFile>>,
    /// Whether the folder makes COSMOS install dependencies for the plugin: a `lib/`
    /// folder, a `pyproject.toml` or a `requirements.txt` (a gemspec's runtime
    /// dependencies do too; berth does not read gemspecs).
    pub needs_dependencies: bool,
}

impl PluginTree {
    /// The names of the folders under `microservices/`.
    pub fn microservice_folders(&self) -> impl Iterator<Item = &str> {
        self.microservices.keys().map(String::as_str)
    }

    /// The files of `microservices/<folder>/`, `None` when there is no such folder.
    pub fn files_of(&self, folder: &str) -> Option<&[TreeFile]> {
        self.microservices.get(folder).map(Vec::as_slice)
    }
}

/// One file of a plugin tree, as read.
#[derive(Clone)]
pub struct TreeFile {
    /// Its path inside its `microservices/<FOLDER>/`, with `/` separators.
    pub path: String,
    /// Its name as problems and plans show it (the repository path).
    pub name: String,
    pub bytes: Arc<[u8]>,
}

impl std::fmt::Debug for TreeFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} bytes)", self.name, self.bytes.len())
    }
}
