//! The parser: one recursive-descent pass over the spliced token stream of a whole
//! template, producing the program's syntax tree.
//!
//! It resolves local variables the way Ruby does (a name is a local from its first
//! assignment onwards, blocks open a scope), reports every syntax error and every
//! construct outside the subset (recovering at the next tag), and bounds its recursion
//! (by depth and by the stack it actually uses, see `stack`) and the height of the tree
//! it builds, so no input can exhaust the stack.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::ast::{Arg, Block, BlockArg, Call, Expr, ExprKind, LocalRef, Param, Part, Target};
use super::lexer::{Kw, StrPart, Tok, Token};
use super::stack::StackGuard;
use super::stream::unsupported_help;
use super::{ErbError, codes, names};

/// How deeply the parser may recurse (each parenthesis, block or `if` costs a few).
const MAX_RECURSION: usize = 300;
/// How tall a syntax tree may grow; the evaluator recurses once per level.
pub(crate) const MAX_HEIGHT: u32 = 100;

/// A parsed template.
pub(crate) struct Parsed {
    pub program: Vec<Expr>,
    pub errors: Vec<ErbError>,
    /// Names read as local variables where none is assigned (for `free_identifiers`).
    pub free: Vec<(String, Range<usize>)>,
}

/// Parses `tokens` (ending in `Eof`). `locals` are the variables bound before the
/// template runs, in slot order; `tag_spans` are the template spans of the scanned items.
pub(crate) fn parse(tokens: Vec<Token>, locals: &[&str], tag_spans: &[Range<usize>]) -> Parsed {
    let mut top = Scope::new(ScopeKind::Top);
    for name in locals {
        top.declare(name);
    }
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        tag_spans,
        scopes: vec![top],
        errors: Vec::new(),
        error_tags: BTreeSet::new(),
        reported: BTreeSet::new(),
        depth: 0,
        stack: StackGuard::new(),
        fatal: false,
        no_do: false,
        blocks: 0,
        free: Vec::new(),
    };
    let program = p.program();
    Parsed {
        program,
        errors: p.errors,
        free: p.free,
    }
}

/// An error was recorded; the caller recovers.
struct Stop;

type PResult<T> = Result<T, Stop>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Top,
    Block,
    /// A `def` body, which cannot see outer locals (never evaluated: `def` is unsupported).
    Def,
}

struct Scope {
    kind: ScopeKind,
    slots: BTreeMap<String, usize>,
    /// The block has `|params|`, so `it` is not its implicit parameter.
    explicit_params: bool,
    /// The slot of the implicit parameter `it` (or `_1`), once used.
    implicit: Option<usize>,
}

impl Scope {
    fn new(kind: ScopeKind) -> Scope {
        Scope {
            kind,
            slots: BTreeMap::new(),
            explicit_params: false,
            implicit: None,
        }
    }

    fn declare(&mut self, name: &str) -> usize {
        let next = self.slots.len();
        *self.slots.entry(name.to_string()).or_insert(next)
    }
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    tag_spans: &'a [Range<usize>],
    scopes: Vec<Scope>,
    errors: Vec<ErbError>,
    /// Tags that already have a syntax error; one per tag avoids cascades.
    error_tags: BTreeSet<u32>,
    /// Unsupported constructs already reported, by tag and message.
    reported: BTreeSet<(u32, String)>,
    depth: usize,
    stack: StackGuard,
    /// A limit was hit: stop parsing altogether.
    fatal: bool,
    /// Inside a `while` condition or command arguments, `do` belongs to the outer call.
    no_do: bool,
    /// Enclosing blocks, for `next` and `break`.
    blocks: usize,
    free: Vec<(String, Range<usize>)>,
}

/// Binding powers of binary operators: (left, right). Higher binds tighter; `**` is right
/// associative.
fn infix_power(op: &str) -> Option<(u8, u8)> {
    Some(match op {
        "||" => (1, 2),
        "&&" => (3, 4),
        "<=>" | "==" | "===" | "!=" | "=~" | "!~" => (5, 6),
        "<" | "<=" | ">" | ">=" => (7, 8),
        "|" | "^" => (9, 10),
        "&" => (11, 12),
        "<<" | ">>" => (13, 14),
        "+" | "-" => (15, 16),
        "*" | "/" | "%" => (17, 18),
        "**" => (22, 21),
        _ => return None,
    })
}

/// The binding power of unary minus: tighter than `*`, looser than `**`.
const UNARY_MINUS: u8 = 19;

fn compound_operator(op: &str) -> Option<&'static str> {
    Some(match op {
        "+=" => "+",
        "-=" => "-",
        "*=" => "*",
        "/=" => "/",
        "%=" => "%",
        "**=" => "**",
        "<<=" => "<<",
        ">>=" => ">>",
        "&=" => "&",
        "|=" => "|",
        "^=" => "^",
        "||=" => "||",
        "&&=" => "&&",
        _ => return None,
    })
}

fn join(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    a.start.min(b.start)..a.end.max(b.end)
}

impl Parser<'_> {
    // ---- token access ------------------------------------------------------------

    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn kind(&self) -> &Tok {
        &self.peek().kind
    }

    fn advance(&mut self) -> Token {
        let tok = self.peek().clone();
        if !matches!(tok.kind, Tok::Eof) {
            self.pos += 1;
        }
        tok
    }

    fn at_punct(&self, p: &str) -> bool {
        matches!(self.kind(), Tok::Punct(q) if *q == p)
    }

    fn at_kw(&self, k: Kw) -> bool {
        matches!(self.kind(), Tok::Kw(q) if *q == k)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let at = self.at_punct(p);
        if at {
            self.pos += 1;
        }
        at
    }

    fn skip_newlines(&mut self) {
        while matches!(self.kind(), Tok::Newline) {
            self.pos += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.kind(), Tok::Newline | Tok::Semi) {
            self.pos += 1;
        }
    }

    fn at_separator(&self) -> bool {
        matches!(self.kind(), Tok::Newline | Tok::Semi)
    }

    /// Tokens that end a list of statements.
    fn at_terminator(&self) -> bool {
        match self.kind() {
            Tok::Eof | Tok::OutputEnd | Tok::Punct("}" | ")" | "]") => true,
            Tok::Kw(k) => matches!(
                k,
                Kw::End | Kw::Else | Kw::Elsif | Kw::When | Kw::In | Kw::Rescue | Kw::Ensure
            ),
            _ => false,
        }
    }

    /// The token can begin an expression.
    fn starts_operand(&self) -> bool {
        match self.kind() {
            Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Sym(_)
            | Tok::DSym(_)
            | Tok::Words(_)
            | Tok::Symbols(_)
            | Tok::Ident(_)
            | Tok::Const(_)
            | Tok::GVar(_)
            | Tok::IVar(_)
            | Tok::Unsupported(_)
            | Tok::Broken => true,
            Tok::Kw(k) => !matches!(
                k,
                Kw::End
                    | Kw::Else
                    | Kw::Elsif
                    | Kw::When
                    | Kw::In
                    | Kw::Rescue
                    | Kw::Ensure
                    | Kw::Then
                    | Kw::Do
                    | Kw::And
                    | Kw::Or
                    | Kw::If
                    | Kw::Unless
                    | Kw::While
                    | Kw::Until
            ),
            Tok::Punct(p) => matches!(*p, "(" | "[" | "{" | "-" | "!" | "~" | "::" | "->" | ".." | "..."),
            _ => false,
        }
    }

    /// After a method name: the next token starts an argument of a call without
    /// parentheses (`puts x`, `s.start_with? 'a'`), judged as Ruby does by spacing.
    fn command_arg_ahead(&self) -> bool {
        let t = self.peek();
        if !t.space_before {
            return false;
        }
        let tight = || !self.peek_at(1).space_before;
        match &t.kind {
            Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Sym(_)
            | Tok::DSym(_)
            | Tok::Words(_)
            | Tok::Symbols(_)
            | Tok::Ident(_)
            | Tok::Const(_)
            | Tok::GVar(_)
            | Tok::IVar(_)
            | Tok::Label(_)
            | Tok::Unsupported(_) => true,
            Tok::Kw(k) => matches!(
                k,
                Kw::Nil | Kw::True | Kw::False | Kw::This | Kw::Not | Kw::Defined
            ),
            Tok::Punct("[" | "(" | "->") => true,
            Tok::Punct("-" | "*" | "&" | "::" | "!" | "**" | ":" | "..") => tight(),
            _ => false,
        }
    }

    fn tag_span(&self, tag: u32) -> Range<usize> {
        self.tag_spans.get(tag as usize).cloned().unwrap_or(0..0)
    }

    // ---- errors ------------------------------------------------------------------

    /// Records a syntax error at `tok` (one per tag).
    fn syntax(&mut self, tok: &Token, message: impl Into<String>) -> Stop {
        if self.error_tags.insert(tok.tag) {
            let span = if tok.span.is_empty() {
                self.tag_span(tok.tag)
            } else {
                tok.span.clone()
            };
            self.errors
                .push(ErbError::new(span, codes::SYNTAX, message.into(), None));
        }
        Stop
    }

    fn unexpected(&mut self, tok: &Token) -> Stop {
        let message = match &tok.kind {
            Tok::Eof => "unexpected end of the template".to_string(),
            Tok::Semi | Tok::OutputEnd => {
                "unexpected end of the tag: the Ruby code is incomplete".to_string()
            }
            Tok::Newline => "unexpected line break: the Ruby code is incomplete".to_string(),
            Tok::Text(_) => "unexpected template text inside an unfinished Ruby expression".to_string(),
            Tok::OutputStart(_) => "unexpected `<%=` tag inside an unfinished Ruby expression".to_string(),
            Tok::Kw(Kw::End) => "unexpected `end`: nothing is open here for it to close".to_string(),
            Tok::Kw(k) => format!("unexpected `{}`", k.as_str()),
            Tok::Punct(p) => format!("unexpected `{p}`"),
            Tok::Label(l) => format!("unexpected `{l}:`"),
            other => format!("unexpected {}", describe(other)),
        };
        self.syntax(tok, message)
    }

    /// A block construct opened by `open` is never closed.
    fn unclosed(&mut self, open: &Token, closer: &str) -> Stop {
        let what = match &open.kind {
            Tok::Kw(k) => format!("`{}`", k.as_str()),
            Tok::Punct(p) => format!("`{p}`"),
            _ => "block".to_string(),
        };
        self.errors.push(ErbError::new(
            self.tag_span(open.tag),
            codes::SYNTAX,
            format!("this {what} is never closed with `{closer}`"),
            Some(format!("add `<% {closer} %>` where the block should end")),
        ));
        self.error_tags.insert(open.tag);
        Stop
    }

    /// Records that `tok`'s tag uses something outside the subset.
    fn unsupported(&mut self, tok: &Token, what: impl Into<String>, help: Option<String>) {
        let span = self.tag_span(tok.tag);
        let message = format!("{} is outside the Ruby subset berth evaluates", what.into());
        if self.reported.insert((tok.tag, message.clone())) {
            self.errors.push(ErbError::new(
                span,
                codes::UNSUPPORTED,
                message,
                help.or_else(|| Some(unsupported_help())),
            ));
        }
    }

    /// Runs `f` one level deeper, failing cleanly past `MAX_RECURSION`.
    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.fatal {
            return Err(Stop);
        }
        if self.depth >= MAX_RECURSION || self.stack.exhausted() {
            return Err(self.too_deep());
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn too_deep(&mut self) -> Stop {
        let tag = self.peek().tag;
        self.errors.push(ErbError::new(
            self.tag_span(tag),
            codes::LIMIT,
            "the Ruby code nests too deeply for berth (parentheses, blocks, `if` tags or method chains)"
                .to_string(),
            Some("split the expression into several assignments".to_string()),
        ));
        self.fatal = true;
        Stop
    }

    /// Fails when `e` is taller than the evaluator may recurse.
    fn bounded(&mut self, e: Expr) -> PResult<Expr> {
        if e.height > MAX_HEIGHT {
            return Err(self.too_deep());
        }
        Ok(e)
    }

    /// Skips to the next tag after an error at the current position. Stops early at a
    /// token that closes something, so the enclosing construct can still end properly.
    fn recover(&mut self) {
        let tag = self.peek().tag;
        let start = self.pos;
        while !matches!(self.kind(), Tok::Eof) && self.peek().tag <= tag {
            if self.pos > start && self.at_terminator() {
                return;
            }
            self.pos += 1;
        }
    }

    // ---- statements --------------------------------------------------------------

    fn program(&mut self) -> Vec<Expr> {
        let mut out = Vec::new();
        loop {
            out.extend(self.stmts());
            if self.fatal || matches!(self.kind(), Tok::Eof) {
                return out;
            }
            let tok = self.advance();
            self.unexpected(&tok);
        }
    }

    fn stmts(&mut self) -> Vec<Expr> {
        let mut out = Vec::new();
        loop {
            self.skip_separators();
            if self.fatal || self.at_terminator() {
                return out;
            }
            match self.stmt() {
                Ok(e) => {
                    out.push(e);
                    if !self.at_separator() && !self.at_terminator() {
                        let tok = self.peek().clone();
                        self.unexpected(&tok);
                        self.recover();
                    }
                }
                Err(Stop) if self.fatal => return out,
                Err(Stop) => self.recover(),
            }
        }
    }

    // The functions on the recursive path (statement → expression → operand → primary →
    // parenthesis → statement) only look at the next token and hand anything more to a
    // `*_rest` function, keeping their stack frames small: deep nesting must fit in a
    // 2 MiB thread stack even in debug builds.

    fn stmt(&mut self) -> PResult<Expr> {
        self.nest(|p| match p.kind() {
            Tok::Text(_) => p.text_stmt(),
            Tok::OutputStart(_) => p.output_stmt(),
            _ => p.expr_stmt(),
        })
    }

    fn text_stmt(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let Tok::Text(i) = tok.kind else {
            return Err(self.unexpected(&tok));
        };
        Ok(Expr::new(ExprKind::Text(i), tok.span))
    }

    /// `<%= ... %>`: the statements of the tag, then their value is output.
    fn output_stmt(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let Tok::OutputStart(i) = tok.kind else {
            return Err(self.unexpected(&tok));
        };
        let span = self.tag_span(i);
        let body = self.stmts();
        let end = self.peek().clone();
        if !matches!(end.kind, Tok::OutputEnd) {
            return Err(self.unexpected(&end));
        }
        self.advance();
        let value = Expr::new(ExprKind::Seq(body), span.clone());
        self.bounded(Expr::new(ExprKind::Output(Box::new(value), i), span))
    }

    fn expr_stmt(&mut self) -> PResult<Expr> {
        let e = self.and_or()?;
        match self.kind() {
            Tok::Punct(",") | Tok::Kw(Kw::If | Kw::Unless | Kw::While | Kw::Until | Kw::Rescue) => {
                self.stmt_rest(e)
            }
            _ => Ok(e),
        }
    }

    /// Multiple assignment and statement modifiers (`x if y`).
    fn stmt_rest(&mut self, mut e: Expr) -> PResult<Expr> {
        if self.at_punct(",") && is_assignable(&e) {
            e = self.multi_assign(e)?;
        }
        loop {
            let tok = self.peek().clone();
            let negate = match tok.kind {
                Tok::Kw(Kw::If) => false,
                Tok::Kw(Kw::Unless) => true,
                Tok::Kw(Kw::While | Kw::Until | Kw::Rescue) => {
                    self.advance();
                    let what = if matches!(tok.kind, Tok::Kw(Kw::Rescue)) {
                        "a `rescue` modifier"
                    } else {
                        "a loop modifier"
                    };
                    self.unsupported(&tok, what, None);
                    self.and_or()?;
                    e = Expr::new(ExprKind::Error, tok.span);
                    continue;
                }
                _ => return Ok(e),
            };
            self.advance();
            let cond = self.and_or()?;
            let span = join(&e.span, &cond.span);
            e = self.bounded(conditional(cond, e, negate, span))?;
        }
    }

    fn and_or(&mut self) -> PResult<Expr> {
        let lhs = self.not_expr()?;
        if matches!(self.kind(), Tok::Kw(Kw::And | Kw::Or)) {
            self.and_or_rest(lhs)
        } else {
            Ok(lhs)
        }
    }

    fn and_or_rest(&mut self, mut lhs: Expr) -> PResult<Expr> {
        loop {
            let and = match self.kind() {
                Tok::Kw(Kw::And) => true,
                Tok::Kw(Kw::Or) => false,
                _ => return Ok(lhs),
            };
            self.advance();
            self.skip_newlines();
            let rhs = self.not_expr()?;
            let span = join(&lhs.span, &rhs.span);
            let kind = if and {
                ExprKind::And(Box::new(lhs), Box::new(rhs))
            } else {
                ExprKind::Or(Box::new(lhs), Box::new(rhs))
            };
            lhs = self.bounded(Expr::new(kind, span))?;
        }
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        self.nest(|p| if p.at_kw(Kw::Not) { p.not_rest() } else { p.arg() })
    }

    fn not_rest(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let e = self.not_expr()?;
        let span = join(&tok.span, &e.span);
        self.bounded(Expr::new(ExprKind::Not(Box::new(e)), span))
    }

    /// `a, b = x, y`
    fn multi_assign(&mut self, first: Expr) -> PResult<Expr> {
        let mut lhs = vec![first];
        while self.eat_punct(",") {
            let e = self.unary()?;
            lhs.push(e);
        }
        let eq = self.peek().clone();
        if !self.eat_punct("=") {
            return Err(self.unexpected(&eq));
        }
        let mut targets = Vec::new();
        for e in lhs {
            targets.push(self.target(e, &eq)?);
        }
        self.skip_newlines();
        let mut values = Vec::new();
        loop {
            values.push(self.arg_item_simple()?);
            if !self.eat_punct(",") {
                break;
            }
            self.skip_newlines();
        }
        let span = join(&eq.span, &self.toks[self.pos.saturating_sub(1)].span);
        self.bounded(Expr::new(ExprKind::MultiAssign(targets, values), span))
    }

    /// Assignment (`=`, `op=`) or a ternary.
    fn arg(&mut self) -> PResult<Expr> {
        self.nest(|p| {
            let lhs = p.ternary()?;
            match p.kind() {
                Tok::Punct(op) if *op == "=" || compound_operator(op).is_some() => p.assignment(lhs),
                _ => Ok(lhs),
            }
        })
    }

    fn assignment(&mut self, lhs: Expr) -> PResult<Expr> {
        let tok = self.advance();
        let Tok::Punct(op) = tok.kind else {
            return Err(self.unexpected(&tok));
        };
        if !is_assignable(&lhs) {
            return Err(self.syntax(&tok, "the left side of this assignment cannot be assigned to"));
        }
        let target = self.target(lhs, &tok);
        self.skip_newlines();
        let value = self.arg()?;
        let target = target?;
        let span = join(&tok.span, &value.span);
        let kind = match compound_operator(op) {
            None => ExprKind::Assign(Box::new(target), Box::new(value)),
            Some(op) => ExprKind::OpAssign(Box::new(target), op, Box::new(value)),
        };
        self.bounded(Expr::new(kind, span))
    }

    /// Turns the left side of an assignment into a target, declaring a new local.
    fn target(&mut self, e: Expr, op: &Token) -> PResult<Target> {
        match e.kind {
            ExprKind::VCall(name) => {
                // Not always the last read: `a, b = ...` reads both before assigning.
                if let Some(i) = self.free.iter().rposition(|(n, s)| *n == name && *s == e.span) {
                    self.free.remove(i);
                }
                let slot = self.scopes.last_mut().map_or(0, |s| s.declare(&name));
                Ok(Target::Local(LocalRef { up: 0, slot }))
            }
            ExprKind::Local(r) => Ok(Target::Local(r)),
            ExprKind::GVar(g) => Ok(Target::GVar(g)),
            ExprKind::IVar(i) => Ok(Target::IVar(i)),
            ExprKind::Index { recv, args } => Ok(Target::Index { recv: *recv, args }),
            ExprKind::Env => {
                self.unsupported(
                    op,
                    "assigning to `ENV`",
                    Some("pass environment values to berth instead".to_string()),
                );
                Err(Stop)
            }
            ExprKind::Call(c) => {
                self.unsupported(op, format!("assigning to an attribute (`.{}=`)", c.name), None);
                Err(Stop)
            }
            _ => Err(self.syntax(op, "the left side of this assignment cannot be assigned to")),
        }
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.range()?;
        if self.at_punct("?") {
            self.ternary_rest(cond)
        } else {
            Ok(cond)
        }
    }

    fn ternary_rest(&mut self, cond: Expr) -> PResult<Expr> {
        self.advance();
        self.skip_newlines();
        let then = self.arg()?;
        self.skip_newlines();
        let colon = self.peek().clone();
        if !self.eat_punct(":") {
            return Err(self.syntax(&colon, "expected `:` to complete the `? :` expression"));
        }
        self.skip_newlines();
        let els = self.arg()?;
        let span = join(&cond.span, &els.span);
        self.bounded(Expr::new(
            ExprKind::If {
                arms: vec![(cond, vec![then])],
                els: vec![els],
            },
            span,
        ))
    }

    fn range(&mut self) -> PResult<Expr> {
        let start = self.binary(0)?;
        if matches!(self.kind(), Tok::Punct(".." | "...")) {
            self.range_rest(start)
        } else {
            Ok(start)
        }
    }

    fn range_rest(&mut self, start: Expr) -> PResult<Expr> {
        let tok = self.advance();
        let exclusive = matches!(tok.kind, Tok::Punct("..."));
        let end = if self.starts_operand() {
            Some(self.binary(0)?)
        } else {
            None
        };
        let span = join(&start.span, &end.as_ref().map_or(tok.span, |e| e.span.clone()));
        let kind = ExprKind::Range {
            start: Some(Box::new(start)),
            end: end.map(Box::new),
            exclusive,
        };
        self.bounded(Expr::new(kind, span))
    }

    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let lhs = self.unary()?;
        self.binary_rest(lhs, min)
    }

    /// Binary operators binding at least as tightly as `min` (precedence climbing).
    fn binary_rest(&mut self, mut lhs: Expr, min: u8) -> PResult<Expr> {
        loop {
            let Tok::Punct(op) = *self.kind() else {
                return Ok(lhs);
            };
            let Some((_, r)) = infix_power(op).filter(|(l, _)| *l >= min) else {
                return Ok(lhs);
            };
            let op_span = self.advance().span;
            if op == "=~" || op == "!~" {
                let tok = self.toks[self.pos - 1].clone();
                self.unsupported(&tok, "the `=~` pattern match", None);
            }
            self.skip_newlines();
            let rhs = self.binary(r)?;
            lhs = self.bounded(infix(op, op_span, lhs, rhs))?;
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.nest(|p| match p.kind() {
            Tok::Punct("!" | "-" | "+" | "~") | Tok::Kw(Kw::Not | Kw::Defined) => p.prefix(),
            _ => {
                let e = p.primary()?;
                p.postfix(e)
            }
        })
    }

    /// A prefix operator and its operand.
    fn prefix(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let op = match &tok.kind {
            Tok::Punct("!") | Tok::Kw(Kw::Not) => {
                let e = self.unary()?;
                let span = join(&tok.span, &e.span);
                return self.bounded(Expr::new(ExprKind::Not(Box::new(e)), span));
            }
            Tok::Punct("-") => return self.negation(tok),
            Tok::Kw(Kw::Defined) => return self.defined(tok),
            Tok::Punct("+") => "+@",
            _ => "~",
        };
        let e = self.unary()?;
        self.bounded(method_call(e, op, tok.span, vec![]))
    }

    /// `defined?(expr)` (a primary, so `.inspect` may follow) or `defined? expr`.
    fn defined(&mut self, tok: Token) -> PResult<Expr> {
        let mark = self.free.len();
        if !self.at_punct("(") {
            let inner = self.unary()?;
            self.free.truncate(mark);
            let span = join(&tok.span, &inner.span);
            return self.bounded(Expr::new(ExprKind::Defined(Box::new(inner)), span));
        }
        let open = self.advance();
        self.skip_newlines();
        let inner = self.and_or()?;
        // `defined?` asks whether a name exists; reading it there raises nothing.
        self.free.truncate(mark);
        self.skip_newlines();
        let close = self.peek().span.clone();
        if !self.eat_punct(")") {
            return Err(self.unclosed(&open, ")"));
        }
        let e = self.bounded(Expr::new(
            ExprKind::Defined(Box::new(inner)),
            join(&tok.span, &close),
        ))?;
        self.postfix(e)
    }

    /// After a unary `-`: a negative literal (`-2.abs` is 2), or `-@` of what follows
    /// (`-x ** 2` is `-(x ** 2)`, and so is `-2 ** 2`).
    fn negation(&mut self, minus: Token) -> PResult<Expr> {
        let next = self.peek().clone();
        let literal = match next.kind {
            Tok::Int(i) if !next.space_before => Some((ExprKind::Int(i), i.checked_neg().map(ExprKind::Int))),
            Tok::Float(f) if !next.space_before => Some((ExprKind::Float(f), Some(ExprKind::Float(-f)))),
            _ => None,
        };
        if let Some((positive, Some(negative))) = literal {
            let span = join(&minus.span, &next.span);
            if !matches!(self.peek_at(1).kind, Tok::Punct("**")) {
                self.advance();
                return self.postfix(Expr::new(negative, span));
            }
            self.advance();
            let pow = self.advance();
            self.skip_newlines();
            let rhs = self.binary(21)?;
            let base = Expr::new(positive, next.span);
            let span = join(&span, &rhs.span);
            let power = method_call(base, "**", pow.span, vec![Arg::Pos(rhs)]);
            return self.bounded(method_call(power, "-@", minus.span.start..span.end, vec![]));
        }
        let e = self.binary(UNARY_MINUS)?;
        let span = join(&minus.span, &e.span);
        self.bounded(method_call(e, "-@", span, vec![]))
    }

    // ---- primaries ---------------------------------------------------------------

    fn primary(&mut self) -> PResult<Expr> {
        match self.kind() {
            Tok::Punct("(") => self.paren(),
            Tok::Punct("[") => self.array(),
            Tok::Punct("{") => self.hash(),
            Tok::Ident(_) => self.identifier(),
            Tok::Str(_) => self.string(),
            Tok::Kw(Kw::If | Kw::Unless) => self.if_expr(),
            _ => self.primary_other(),
        }
    }

    /// Every other primary: literals, constants, keywords, and what is unsupported.
    fn primary_other(&mut self) -> PResult<Expr> {
        let tok = self.peek().clone();
        let span = tok.span.clone();
        let kind = match tok.kind.clone() {
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Float(f) => ExprKind::Float(f),
            Tok::Sym(s) => ExprKind::Sym(s),
            Tok::DSym(parts) => {
                self.advance();
                let parts = self.parts(parts, &tok)?;
                return Ok(Expr::new(ExprKind::DSym(parts), span));
            }
            Tok::Words(words) => ExprKind::Array(
                words
                    .into_iter()
                    .map(|w| Arg::Pos(Expr::new(ExprKind::Str(w), span.clone())))
                    .collect(),
            ),
            Tok::Symbols(words) => ExprKind::Array(
                words
                    .into_iter()
                    .map(|w| Arg::Pos(Expr::new(ExprKind::Sym(w), span.clone())))
                    .collect(),
            ),
            Tok::Const(name) => {
                self.advance();
                return self.constant(name, tok);
            }
            Tok::GVar(g) => {
                #[rustfmt::skip]
                const PROCESS_GLOBALS: &[&str] = &[
                    "$LOAD_PATH", "$LOADED_FEATURES", "$stdout", "$stderr", "$stdin", "$PROGRAM_NAME",
                ];
                if PROCESS_GLOBALS.contains(&g.as_str()) {
                    self.unsupported(&tok, format!("the global `{g}`"), None);
                }
                ExprKind::GVar(g)
            }
            Tok::IVar(i) => ExprKind::IVar(i),
            Tok::Kw(Kw::Nil) => ExprKind::Nil,
            Tok::Kw(Kw::True) => ExprKind::True,
            Tok::Kw(Kw::False) => ExprKind::False,
            Tok::Kw(Kw::Case) => return self.case_expr(),
            Tok::Kw(Kw::Next | Kw::Break) => return self.jump(),
            Tok::Kw(Kw::While | Kw::Until) => return self.while_expr(),
            Tok::Kw(Kw::For) => return self.for_expr(),
            Tok::Kw(Kw::Begin) => return self.begin_expr(),
            Tok::Kw(Kw::Def) => return self.def_expr(),
            Tok::Kw(Kw::Class | Kw::Module) => return self.class_expr(),
            Tok::Kw(k @ (Kw::Return | Kw::Yield | Kw::Super | Kw::Redo | Kw::Retry)) => {
                self.advance();
                self.unsupported(&tok, format!("`{}`", k.as_str()), None);
                self.call_args()?;
                return Ok(Expr::new(ExprKind::Error, span));
            }
            Tok::Kw(k @ (Kw::Alias | Kw::Undef)) => {
                self.advance();
                self.unsupported(&tok, format!("`{}`", k.as_str()), None);
                while !self.at_separator() && !self.at_terminator() {
                    self.advance();
                }
                return Ok(Expr::new(ExprKind::Error, span));
            }
            Tok::Kw(k @ (Kw::BeginBlock | Kw::EndBlock)) => {
                self.advance();
                self.unsupported(&tok, format!("`{}`", k.as_str()), None);
                if self.at_punct("{") {
                    self.block()?;
                }
                return Ok(Expr::new(ExprKind::Error, span));
            }
            Tok::Kw(k @ (Kw::This | Kw::File | Kw::Line | Kw::Encoding)) => {
                self.unsupported(&tok, format!("`{}`", k.as_str()), None);
                ExprKind::Error
            }
            Tok::Punct(dots @ (".." | "...")) => {
                self.advance();
                let end = self.binary(0)?;
                let span = join(&span, &end.span);
                let kind = ExprKind::Range {
                    start: None,
                    end: Some(Box::new(end)),
                    exclusive: dots == "...",
                };
                return self.bounded(Expr::new(kind, span));
            }
            Tok::Punct("->") => return self.lambda(),
            Tok::Punct("::") => {
                self.advance();
                let next = self.advance();
                let Tok::Const(name) = next.kind.clone() else {
                    return Err(self.unexpected(&next));
                };
                return self.constant(name, next);
            }
            Tok::Unsupported(what) => {
                self.unsupported(&tok, what, None);
                ExprKind::Error
            }
            Tok::Broken => ExprKind::Error,
            _ => return Err(self.unexpected(&tok)),
        };
        self.advance();
        Ok(Expr::new(kind, span))
    }

    /// A string literal, with adjacent literals joined (`"a" "b"`).
    fn string(&mut self) -> PResult<Expr> {
        let first = self.peek().clone();
        let mut span = first.span.clone();
        let mut parts = Vec::new();
        while let Tok::Str(p) = self.kind().clone() {
            let tok = self.advance();
            span = join(&span, &tok.span);
            parts.extend(self.parts(p, &tok)?);
        }
        let kind = match parts.as_slice() {
            [] => ExprKind::Str(String::new()),
            [Part::Lit(s)] => ExprKind::Str(s.clone()),
            _ => ExprKind::DStr(parts),
        };
        self.bounded(Expr::new(kind, span))
    }

    /// Parses the code of `#{}` parts.
    fn parts(&mut self, parts: Vec<StrPart>, tok: &Token) -> PResult<Vec<Part>> {
        let mut out = Vec::new();
        for part in parts {
            out.push(match part {
                StrPart::Lit(s) => Part::Lit(s),
                StrPart::Code(tokens) => Part::Code(self.sub_program(tokens, tok)?),
            });
        }
        Ok(out)
    }

    /// Parses the tokens of one interpolation as statements of their own.
    fn sub_program(&mut self, mut tokens: Vec<Token>, tok: &Token) -> PResult<Vec<Expr>> {
        let end = tok.span.end;
        tokens.push(Token {
            kind: Tok::Eof,
            span: end..end,
            space_before: true,
            tag: tok.tag,
        });
        let saved_toks = std::mem::replace(&mut self.toks, tokens);
        let saved_pos = std::mem::replace(&mut self.pos, 0);
        let body = self.nest(|p| {
            let body = p.stmts();
            if !matches!(p.kind(), Tok::Eof) {
                let t = p.peek().clone();
                return Err(p.unexpected(&t));
            }
            Ok(body)
        });
        self.toks = saved_toks;
        self.pos = saved_pos;
        body
    }

    fn identifier(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let Tok::Ident(name) = tok.kind.clone() else {
            return Err(self.unexpected(&tok));
        };
        let call_parens = self.at_punct("(") && !self.peek().space_before;
        if !call_parens && let Some(local) = self.lookup(&name).or_else(|| self.implicit_param(&name)) {
            return Ok(Expr::new(ExprKind::Local(local), tok.span));
        }
        let (args, block, explicit) = self.call_args()?;
        if !explicit && block.is_none() {
            self.free.push((name.clone(), tok.span.clone()));
            return Ok(Expr::new(ExprKind::VCall(name), tok.span));
        }
        self.function(&name, &tok);
        let span = join(&tok.span, &self.toks[self.pos.saturating_sub(1)].span);
        let call = Call {
            recv: None,
            name,
            name_span: tok.span,
            args,
            block,
            safe_nav: false,
        };
        self.bounded(Expr::new(ExprKind::Call(Box::new(call)), span))
    }

    /// Checks a call without receiver: only a few Kernel functions exist in templates.
    fn function(&mut self, name: &str, tok: &Token) {
        if names::is_function(name) {
            return;
        }
        let (what, help) = match name {
            "require" | "require_relative" | "load" | "autoload" => (
                format!("`{name}`"),
                "berth cannot load Ruby files, such as the plugin's own `lib/` code; set the values they compute as VARIABLEs instead",
            ),
            "render" => (
                "`render` of a partial file".to_string(),
                "paste the partial's text into plugin.txt",
            ),
            _ => (
                format!("calling `{name}`"),
                "only the built-in methods of berth's Ruby subset exist while it renders; this method would come from plugin code or COSMOS",
            ),
        };
        self.unsupported(tok, what, Some(help.to_string()));
    }

    fn constant(&mut self, mut name: String, tok: Token) -> PResult<Expr> {
        if name == "ENV" {
            return Ok(Expr::new(ExprKind::Env, tok.span));
        }
        if self.at_punct("(") && !self.peek().space_before {
            let (args, block, _) = self.call_args()?;
            self.function(&name, &tok);
            let span = join(&tok.span, &self.toks[self.pos.saturating_sub(1)].span);
            let call = Call {
                recv: None,
                name,
                name_span: tok.span,
                args,
                block,
                safe_nav: false,
            };
            return self.bounded(Expr::new(ExprKind::Call(Box::new(call)), span));
        }
        let mut span = tok.span.clone();
        while self.at_punct("::") && matches!(self.peek_at(1).kind, Tok::Const(_)) {
            self.advance();
            let next = self.advance();
            if let Tok::Const(c) = next.kind {
                name = format!("{name}::{c}");
                span = join(&span, &next.span);
            }
        }
        self.unsupported(&tok, format!("the constant `{name}`"), None);
        Ok(Expr::new(ExprKind::Error, span))
    }

    fn lookup(&self, name: &str) -> Option<LocalRef> {
        for (up, scope) in self.scopes.iter().rev().enumerate() {
            if let Some(&slot) = scope.slots.get(name) {
                return Some(LocalRef { up, slot });
            }
            if scope.kind == ScopeKind::Def {
                break;
            }
        }
        None
    }

    /// `it` (Ruby 3.4) or `_1` inside a block without `|params|`.
    fn implicit_param(&mut self, name: &str) -> Option<LocalRef> {
        let scope = self.scopes.last_mut()?;
        if scope.kind != ScopeKind::Block || scope.explicit_params || (name != "it" && name != "_1") {
            return None;
        }
        let slot = scope.declare(name);
        scope.implicit = Some(slot);
        Some(LocalRef { up: 0, slot })
    }

    /// Arguments of a call: `(...)` right after the name, or a list without parentheses.
    /// Returns them, a `&block` argument, and whether an argument list was written.
    fn call_args(&mut self) -> PResult<(Vec<Arg>, Option<BlockArg>, bool)> {
        if self.at_punct("(") && !self.peek().space_before {
            let open = self.advance();
            let saved = std::mem::replace(&mut self.no_do, false);
            let out = self.arg_list(Some(&open));
            self.no_do = saved;
            let (args, block) = out?;
            return Ok((args, block, true));
        }
        if self.command_arg_ahead() {
            let saved = std::mem::replace(&mut self.no_do, true);
            let out = self.arg_list(None);
            self.no_do = saved;
            let (args, block) = out?;
            return Ok((args, block, true));
        }
        Ok((Vec::new(), None, false))
    }

    /// A comma-separated argument list, closed by `)` when `open` is given.
    fn arg_list(&mut self, open: Option<&Token>) -> PResult<(Vec<Arg>, Option<BlockArg>)> {
        let mut args = Vec::new();
        let mut pairs = Vec::new();
        let mut block = None;
        loop {
            if open.is_some() {
                self.skip_newlines();
                if self.eat_punct(")") {
                    break;
                }
            }
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Punct("&") => {
                    self.advance();
                    block = Some(BlockArg::Pass(self.arg()?));
                }
                Tok::Punct("**") => {
                    self.advance();
                    self.unsupported(&tok, "a `**` argument", None);
                    self.arg()?;
                }
                Tok::Label(name) => {
                    self.advance();
                    self.skip_newlines();
                    let value = self.arg()?;
                    pairs.push((Expr::new(ExprKind::Sym(name), tok.span), value));
                }
                _ => {
                    let item = self.arg_item_simple()?;
                    match item {
                        Arg::Pos(key) if self.at_punct("=>") => {
                            self.advance();
                            self.skip_newlines();
                            pairs.push((key, self.arg()?));
                        }
                        item => args.push(item),
                    }
                }
            }
            if open.is_some() {
                self.skip_newlines();
            }
            if self.eat_punct(",") {
                self.skip_newlines();
                continue;
            }
            match open {
                Some(open) if !self.eat_punct(")") => {
                    let t = self.peek().clone();
                    return Err(if matches!(t.kind, Tok::Eof) {
                        self.unclosed(open, ")")
                    } else {
                        self.unexpected(&t)
                    });
                }
                _ => break,
            }
        }
        if !pairs.is_empty() {
            let span = join(&pairs[0].0.span, &pairs[pairs.len() - 1].1.span);
            args.push(Arg::Pos(self.bounded(Expr::new(ExprKind::Hash(pairs), span))?));
        }
        Ok((args, block))
    }

    /// A positional or `*splat` argument.
    fn arg_item_simple(&mut self) -> PResult<Arg> {
        if self.eat_punct("*") {
            return Ok(Arg::Splat(self.arg()?));
        }
        Ok(Arg::Pos(self.arg()?))
    }

    fn paren(&mut self) -> PResult<Expr> {
        let open = self.advance();
        let saved = std::mem::replace(&mut self.no_do, false);
        let body = self.stmts();
        self.no_do = saved;
        let close = self.peek().clone();
        if !self.eat_punct(")") {
            return Err(if matches!(close.kind, Tok::Eof) {
                self.unclosed(&open, ")")
            } else {
                self.unexpected(&close)
            });
        }
        let span = join(&open.span, &close.span);
        self.bounded(Expr::new(ExprKind::Seq(body), span))
    }

    fn array(&mut self) -> PResult<Expr> {
        let open = self.advance();
        let saved = std::mem::replace(&mut self.no_do, false);
        let items = self.list_items("]", &open);
        self.no_do = saved;
        let close = &self.toks[self.pos.saturating_sub(1)];
        let span = join(&open.span, &close.span);
        self.bounded(Expr::new(ExprKind::Array(items?), span))
    }

    /// Items up to `close`: positional, `*splat`, or `key => value` / `key: value` pairs,
    /// which are gathered into one trailing Hash.
    fn list_items(&mut self, close: &str, open: &Token) -> PResult<Vec<Arg>> {
        let mut items = Vec::new();
        let mut pairs = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat_punct(close) {
                break;
            }
            if let Tok::Label(name) = self.kind().clone() {
                let tok = self.advance();
                self.skip_newlines();
                let value = self.arg()?;
                pairs.push((Expr::new(ExprKind::Sym(name), tok.span), value));
            } else {
                match self.arg_item_simple()? {
                    Arg::Pos(key) if self.at_punct("=>") => {
                        self.advance();
                        self.skip_newlines();
                        pairs.push((key, self.arg()?));
                    }
                    item => items.push(item),
                }
            }
            self.skip_newlines();
            if self.eat_punct(",") {
                continue;
            }
            if self.eat_punct(close) {
                break;
            }
            let t = self.peek().clone();
            return Err(if matches!(t.kind, Tok::Eof) {
                self.unclosed(open, close)
            } else {
                self.unexpected(&t)
            });
        }
        if !pairs.is_empty() {
            let span = join(&pairs[0].0.span, &pairs[pairs.len() - 1].1.span);
            items.push(Arg::Pos(self.bounded(Expr::new(ExprKind::Hash(pairs), span))?));
        }
        Ok(items)
    }

    fn hash(&mut self) -> PResult<Expr> {
        let open = self.advance();
        let saved = std::mem::replace(&mut self.no_do, false);
        let mut pairs = Vec::new();
        let out = loop {
            self.skip_newlines();
            if self.eat_punct("}") {
                break Ok(());
            }
            let tok = self.peek().clone();
            let pair = if let Tok::Label(name) = tok.kind.clone() {
                self.advance();
                self.skip_newlines();
                self.arg().map(|v| (Expr::new(ExprKind::Sym(name), tok.span), v))
            } else {
                self.arg().and_then(|k| {
                    self.skip_newlines();
                    let arrow = self.peek().clone();
                    if !self.eat_punct("=>") {
                        return Err(self.syntax(&arrow, "expected `=>` or `key:` in this Hash literal"));
                    }
                    self.skip_newlines();
                    Ok((k, self.arg()?))
                })
            };
            match pair {
                Ok(pair) => pairs.push(pair),
                Err(e) => break Err(e),
            }
            self.skip_newlines();
            if self.eat_punct(",") {
                continue;
            }
            if self.eat_punct("}") {
                break Ok(());
            }
            let t = self.peek().clone();
            break Err(if matches!(t.kind, Tok::Eof) {
                self.unclosed(&open, "}")
            } else {
                self.unexpected(&t)
            });
        };
        self.no_do = saved;
        out?;
        let span = join(&open.span, &self.toks[self.pos.saturating_sub(1)].span);
        self.bounded(Expr::new(ExprKind::Hash(pairs), span))
    }

    // ---- postfix: calls, indexing, blocks --------------------------------------------

    fn postfix(&mut self, e: Expr) -> PResult<Expr> {
        match self.kind() {
            Tok::Punct("." | "&." | "::" | "[" | "{") | Tok::Kw(Kw::Do) | Tok::Newline => {
                self.postfix_rest(e)
            }
            _ => Ok(e),
        }
    }

    fn postfix_rest(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            // A method chain may continue on the next line: `foo\n  .bar`.
            if matches!(self.kind(), Tok::Newline) {
                let mut n = 0;
                while matches!(self.peek_at(n).kind, Tok::Newline) {
                    n += 1;
                }
                if matches!(self.peek_at(n).kind, Tok::Punct("." | "&.")) {
                    self.skip_newlines();
                }
            }
            e = match self.kind() {
                Tok::Punct("." | "&.") => self.dot_call(e)?,
                Tok::Punct("::") => self.scope_call(e)?,
                Tok::Punct("[") => self.index(e)?,
                Tok::Punct("{") if takes_block(&e) => self.attach_block(e)?,
                Tok::Kw(Kw::Do) if !self.no_do && takes_block(&e) => self.attach_block(e)?,
                _ => return Ok(e),
            };
            e = self.bounded(e)?;
        }
    }

    /// `.name` or `&.name` after `recv`.
    fn dot_call(&mut self, recv: Expr) -> PResult<Expr> {
        let safe_nav = matches!(self.advance().kind, Tok::Punct("&."));
        self.skip_newlines();
        self.method(recv, safe_nav)
    }

    /// `recv::name` (a method call) or `recv::Const` (unsupported).
    fn scope_call(&mut self, recv: Expr) -> PResult<Expr> {
        self.advance();
        if matches!(self.kind(), Tok::Ident(_)) {
            return self.method(recv, false);
        }
        let name = self.advance();
        self.unsupported(&name, "a scoped constant (`::`)", None);
        Ok(Expr::new(ExprKind::Error, join(&recv.span, &name.span)))
    }

    /// `recv[args]`.
    fn index(&mut self, recv: Expr) -> PResult<Expr> {
        let open = self.advance();
        let saved = std::mem::replace(&mut self.no_do, false);
        let args = self.list_items("]", &open);
        self.no_do = saved;
        let span = join(&recv.span, &self.toks[self.pos.saturating_sub(1)].span);
        Ok(Expr::new(
            ExprKind::Index {
                recv: Box::new(recv),
                args: args?,
            },
            span,
        ))
    }

    /// `recv.name args` (after the dot).
    fn method(&mut self, recv: Expr, safe_nav: bool) -> PResult<Expr> {
        let tok = self.advance();
        let name = match &tok.kind {
            Tok::Ident(n) | Tok::Const(n) => n.clone(),
            Tok::Kw(k) => k.as_str().to_string(),
            Tok::Punct(p) if infix_power(p).is_some() || matches!(*p, "!" | "[" | "~") => {
                if *p == "[" {
                    self.eat_punct("]");
                    "[]".to_string()
                } else {
                    p.to_string()
                }
            }
            _ => return Err(self.syntax(&tok, "expected a method name after `.`")),
        };
        if !names::is_method(&name) {
            self.unsupported(&tok, format!("the method `{name}`"), None);
        }
        let (args, block, _) = self.call_args()?;
        let span = join(&recv.span, &self.toks[self.pos.saturating_sub(1)].span);
        let call = Call {
            recv: Some(recv),
            name,
            name_span: tok.span,
            args,
            block,
            safe_nav,
        };
        Ok(Expr::new(ExprKind::Call(Box::new(call)), span))
    }

    fn attach_block(&mut self, e: Expr) -> PResult<Expr> {
        let block = self.block()?;
        let span = join(&e.span, &self.toks[self.pos.saturating_sub(1)].span);
        let call = match e.kind {
            ExprKind::Call(mut call) => {
                call.block = Some(BlockArg::Literal(block));
                call
            }
            ExprKind::VCall(name) => self.function_with_block(name, e.span, block),
            _ => unreachable!("takes_block admits only calls"),
        };
        Ok(Expr::new(ExprKind::Call(call), span))
    }

    /// `name { ... }`: a receiverless call with a block.
    fn function_with_block(&mut self, name: String, span: Range<usize>, block: Block) -> Box<Call> {
        if self.free.last().is_some_and(|(n, s)| *n == name && *s == span) {
            self.free.pop();
        }
        let tok = Token {
            kind: Tok::Ident(name.clone()),
            span: span.clone(),
            space_before: true,
            tag: self.peek().tag,
        };
        self.function(&name, &tok);
        Box::new(Call {
            recv: None,
            name,
            name_span: span,
            args: Vec::new(),
            block: Some(BlockArg::Literal(block)),
            safe_nav: false,
        })
    }

    /// `{ |params| body }` or `do |params| body end`, at the opening token.
    fn block(&mut self) -> PResult<Block> {
        let open = self.advance();
        let closer = if matches!(open.kind, Tok::Punct("{")) {
            "}"
        } else {
            "end"
        };
        let saved = std::mem::replace(&mut self.no_do, false);
        self.scopes.push(Scope::new(ScopeKind::Block));
        self.blocks += 1;
        let out = self.block_rest(&open, closer);
        self.blocks -= 1;
        let scope = self.scopes.pop();
        self.no_do = saved;
        let (mut params, spread, body) = out?;
        if let Some(slot) = scope.and_then(|s| s.implicit) {
            params = vec![Param::Slot(slot)];
        }
        Ok(Block { params, spread, body })
    }

    fn block_rest(&mut self, open: &Token, closer: &str) -> PResult<(Vec<Param>, bool, Vec<Expr>)> {
        self.skip_newlines();
        let (params, spread) = if self.eat_punct("||") {
            (Vec::new(), false)
        } else if self.eat_punct("|") {
            if let Some(scope) = self.scopes.last_mut() {
                scope.explicit_params = true;
            }
            self.block_params()?
        } else {
            (Vec::new(), false)
        };
        let body = self.stmts();
        let close = self.peek().clone();
        let closed = match closer {
            "}" => self.eat_punct("}"),
            _ => {
                let at = self.at_kw(Kw::End);
                if at {
                    self.advance();
                }
                at
            }
        };
        if !closed {
            return Err(if self.fatal {
                Stop
            } else if matches!(close.kind, Tok::Eof) {
                self.unclosed(open, closer)
            } else {
                self.unexpected(&close)
            });
        }
        Ok((params, spread, body))
    }

    /// Parameters after the opening `|`, through the closing `|`.
    fn block_params(&mut self) -> PResult<(Vec<Param>, bool)> {
        let mut params = Vec::new();
        let mut trailing_comma = false;
        loop {
            let tok = self.advance();
            match tok.kind {
                Tok::Punct("|") => break,
                Tok::Ident(name) => {
                    params.push(self.param(&name));
                    trailing_comma = false;
                }
                Tok::Punct("(") => {
                    params.push(Param::Nested(self.nested_params()?));
                    trailing_comma = false;
                }
                Tok::Punct("*" | "&" | "**") => {
                    self.unsupported(&tok, "a `*`, `**` or `&` block parameter", None);
                    if let Tok::Ident(name) = self.kind().clone() {
                        self.advance();
                        params.push(self.param(&name));
                    }
                }
                Tok::Semi => {
                    // Block-local variables: `|x; tmp|`.
                    while let Tok::Ident(name) = self.kind().clone() {
                        self.advance();
                        self.param(&name);
                        self.eat_punct(",");
                    }
                }
                _ => return Err(self.unexpected(&tok)),
            }
            if self.eat_punct(",") {
                trailing_comma = true;
            }
        }
        let spread = params.len() > 1 || trailing_comma;
        Ok((params, spread))
    }

    fn nested_params(&mut self) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            let tok = self.advance();
            match tok.kind {
                Tok::Punct(")") => return Ok(params),
                Tok::Ident(name) => params.push(self.param(&name)),
                Tok::Punct("(") => params.push(Param::Nested(self.nest(|p| p.nested_params())?)),
                Tok::Punct(",") => {}
                _ => return Err(self.unexpected(&tok)),
            }
        }
    }

    fn param(&mut self, name: &str) -> Param {
        Param::Slot(self.scopes.last_mut().map_or(0, |s| s.declare(name)))
    }

    fn lambda(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        self.unsupported(&tok, "a lambda (`->`)", None);
        let from = self.pos;
        if self.at_punct("(") {
            self.skip_balanced("(", ")");
        }
        while matches!(self.kind(), Tok::Ident(_) | Tok::Punct(",")) {
            self.advance();
        }
        let params: Vec<String> = self.toks[from..self.pos]
            .iter()
            .filter_map(|t| match &t.kind {
                Tok::Ident(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let mark = self.free.len();
        if self.at_punct("{") || self.at_kw(Kw::Do) {
            self.block()?;
        }
        // The parameters were skipped, not declared: the body's reads of them are not free.
        let body = self.free.split_off(mark);
        self.free
            .extend(body.into_iter().filter(|(n, _)| !params.contains(n)));
        Ok(Expr::new(ExprKind::Error, tok.span))
    }

    /// Skips from an opening token to its matching closer (no recursion).
    fn skip_balanced(&mut self, open: &str, close: &str) {
        let mut depth = 0usize;
        loop {
            let tok = self.advance();
            match tok.kind {
                Tok::Eof => return,
                Tok::Punct(p) if p == open => depth += 1,
                Tok::Punct(p) if p == close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    // ---- compound statements -------------------------------------------------------

    /// `then`, or a line break / `;`, after a condition.
    fn then_separator(&mut self) -> PResult<()> {
        let sep = self.at_separator();
        self.skip_separators();
        if self.at_kw(Kw::Then) {
            self.advance();
            return Ok(());
        }
        if sep {
            return Ok(());
        }
        let tok = self.peek().clone();
        Err(self.syntax(&tok, "expected `then` or the end of the tag after this condition"))
    }

    /// `if`/`unless` ... `elsif` ... `else` ... `end`.
    fn if_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        let negate = matches!(open.kind, Tok::Kw(Kw::Unless));
        let mut arms = Vec::new();
        let mut els = Vec::new();
        let mut cond = self.and_or()?;
        loop {
            self.then_separator()?;
            let body = self.stmts();
            arms.push((cond, body));
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Kw(Kw::Elsif) if !negate => {
                    self.advance();
                    cond = self.and_or()?;
                }
                Tok::Kw(Kw::Else) => {
                    self.advance();
                    els = self.stmts();
                    if !self.at_kw(Kw::End) {
                        return Err(self.unclosed_or_unexpected(&open, "end"));
                    }
                    self.advance();
                    break;
                }
                Tok::Kw(Kw::End) => {
                    self.advance();
                    break;
                }
                _ => return Err(self.unclosed_or_unexpected(&open, "end")),
            }
        }
        let span = join(&open.span, &self.toks[self.pos.saturating_sub(1)].span);
        let kind = if negate {
            let (cond, body) = arms
                .pop()
                .unwrap_or_else(|| (Expr::new(ExprKind::Nil, span.clone()), Vec::new()));
            let cond = Expr::new(ExprKind::Not(Box::new(cond)), span.clone());
            ExprKind::If {
                arms: vec![(cond, body)],
                els,
            }
        } else {
            ExprKind::If { arms, els }
        };
        self.bounded(Expr::new(kind, span))
    }

    /// At a token that cannot continue the construct `open`: unclosed at the end of the
    /// template, unexpected elsewhere.
    fn unclosed_or_unexpected(&mut self, open: &Token, closer: &str) -> Stop {
        if self.fatal {
            return Stop;
        }
        let tok = self.peek().clone();
        match tok.kind {
            Tok::Eof | Tok::OutputEnd | Tok::Punct("}" | ")" | "]") => self.unclosed(open, closer),
            _ => self.unexpected(&tok),
        }
    }

    fn case_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        let subject = if self.at_separator() || self.at_kw(Kw::When) {
            None
        } else {
            Some(Box::new(self.and_or()?))
        };
        self.skip_separators();
        let mut whens = Vec::new();
        while self.at_kw(Kw::When) {
            self.advance();
            let mut values = Vec::new();
            loop {
                values.push(self.arg_item_simple()?);
                if !self.eat_punct(",") {
                    break;
                }
                self.skip_newlines();
            }
            self.then_separator()?;
            whens.push((values, self.stmts()));
        }
        if self.at_kw(Kw::In) {
            let tok = self.peek().clone();
            self.unsupported(&tok, "pattern matching (`case`/`in`)", None);
            return Err(Stop);
        }
        if whens.is_empty() {
            let tok = self.peek().clone();
            return Err(self.syntax(&tok, "expected `when` after `case`"));
        }
        let els = if self.at_kw(Kw::Else) {
            self.advance();
            self.stmts()
        } else {
            Vec::new()
        };
        if !self.at_kw(Kw::End) {
            return Err(self.unclosed_or_unexpected(&open, "end"));
        }
        self.advance();
        let span = join(&open.span, &self.toks[self.pos.saturating_sub(1)].span);
        self.bounded(Expr::new(ExprKind::Case { subject, whens, els }, span))
    }

    /// `next` or `break`, with an optional value.
    fn jump(&mut self) -> PResult<Expr> {
        let tok = self.advance();
        let value = if self.starts_operand() && !self.at_kw(Kw::If) {
            Some(Box::new(self.arg()?))
        } else {
            None
        };
        if self.blocks == 0 {
            let Tok::Kw(k) = tok.kind else { return Err(Stop) };
            return Err(self.syntax(&tok, format!("`{}` can only be used inside a block", k.as_str())));
        }
        let span = join(
            &tok.span,
            &value.as_ref().map_or(tok.span.clone(), |v| v.span.clone()),
        );
        let kind = if matches!(tok.kind, Tok::Kw(Kw::Next)) {
            ExprKind::Next(value)
        } else {
            ExprKind::Break(value)
        };
        self.bounded(Expr::new(kind, span))
    }

    /// Parses `stmts` up to `end` for an unsupported construct, keeping `end`s balanced.
    fn body_to_end(&mut self, open: &Token) -> PResult<()> {
        self.stmts();
        if !self.at_kw(Kw::End) {
            return Err(self.unclosed_or_unexpected(open, "end"));
        }
        self.advance();
        Ok(())
    }

    fn while_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        self.unsupported(
            &open,
            "a `while`/`until` loop",
            Some("use `(1..n).each do |i|` or `n.times do |i|`".to_string()),
        );
        let saved = std::mem::replace(&mut self.no_do, true);
        let cond = self.and_or();
        self.no_do = saved;
        cond?;
        if self.at_kw(Kw::Do) {
            self.advance();
        }
        self.blocks += 1;
        let out = self.body_to_end(&open);
        self.blocks -= 1;
        out?;
        Ok(Expr::new(ExprKind::Error, open.span))
    }

    fn for_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        self.unsupported(
            &open,
            "a `for` loop",
            Some("use `collection.each do |x|` instead".to_string()),
        );
        while let Tok::Ident(name) = self.kind().clone() {
            self.advance();
            self.scopes.last_mut().map(|s| s.declare(&name));
            self.eat_punct(",");
        }
        if !self.at_kw(Kw::In) {
            let tok = self.peek().clone();
            return Err(self.unexpected(&tok));
        }
        self.advance();
        let saved = std::mem::replace(&mut self.no_do, true);
        let iterable = self.and_or();
        self.no_do = saved;
        iterable?;
        if self.at_kw(Kw::Do) {
            self.advance();
        }
        self.blocks += 1;
        let out = self.body_to_end(&open);
        self.blocks -= 1;
        out?;
        Ok(Expr::new(ExprKind::Error, open.span))
    }

    fn begin_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        self.unsupported(&open, "a `begin` block", None);
        loop {
            self.stmts();
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Kw(Kw::Rescue) => {
                    self.advance();
                    while !self.at_separator() && !self.at_kw(Kw::Then) && !matches!(self.kind(), Tok::Eof) {
                        if self.eat_punct("=>")
                            && let Tok::Ident(name) = self.kind().clone()
                        {
                            self.scopes.last_mut().map(|s| s.declare(&name));
                        }
                        self.advance();
                    }
                    if self.at_kw(Kw::Then) {
                        self.advance();
                    }
                }
                Tok::Kw(Kw::Else | Kw::Ensure) => {
                    self.advance();
                }
                Tok::Kw(Kw::End) => {
                    self.advance();
                    return Ok(Expr::new(ExprKind::Error, open.span));
                }
                _ => return Err(self.unclosed_or_unexpected(&open, "end")),
            }
        }
    }

    fn def_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        self.unsupported(&open, "defining a method (`def`)", None);
        let mut scope = Scope::new(ScopeKind::Def);
        // The name: `name`, `self.name`, an operator or a setter.
        self.advance();
        if self.eat_punct(".") {
            self.advance();
        }
        self.eat_punct("=");
        if self.at_punct("(") {
            let start = self.pos;
            self.skip_balanced("(", ")");
            for t in &self.toks[start..self.pos] {
                if let Tok::Ident(n) | Tok::Label(n) = &t.kind {
                    scope.declare(n);
                }
            }
        } else {
            while !self.at_separator() && !matches!(self.kind(), Tok::Eof | Tok::Punct("=")) {
                if let Tok::Ident(n) = self.kind() {
                    scope.declare(&n.clone());
                }
                self.advance();
            }
        }
        self.scopes.push(scope);
        let out = if self.eat_punct("=") {
            self.arg().map(|_| ())
        } else {
            self.body_to_end(&open)
        };
        self.scopes.pop();
        out?;
        Ok(Expr::new(ExprKind::Error, open.span))
    }

    fn class_expr(&mut self) -> PResult<Expr> {
        let open = self.advance();
        self.unsupported(&open, format!("a `{}` definition", describe(&open.kind)), None);
        while !self.at_separator() && !matches!(self.kind(), Tok::Eof) {
            self.advance();
        }
        self.scopes.push(Scope::new(ScopeKind::Def));
        let out = self.body_to_end(&open);
        self.scopes.pop();
        out?;
        Ok(Expr::new(ExprKind::Error, open.span))
    }
}

/// `lhs op rhs`.
fn infix(op: &str, op_span: Range<usize>, lhs: Expr, rhs: Expr) -> Expr {
    let span = join(&lhs.span, &rhs.span);
    let kind = match op {
        "&&" => ExprKind::And(Box::new(lhs), Box::new(rhs)),
        "||" => ExprKind::Or(Box::new(lhs), Box::new(rhs)),
        _ => {
            let call = Call {
                recv: Some(lhs),
                name: op.to_string(),
                name_span: op_span,
                args: vec![Arg::Pos(rhs)],
                block: None,
                safe_nav: false,
            };
            ExprKind::Call(Box::new(call))
        }
    };
    Expr::new(kind, span)
}

/// A call of operator method `name` on `recv`.
fn method_call(recv: Expr, name: &str, name_span: Range<usize>, args: Vec<Arg>) -> Expr {
    let span = join(&recv.span, &name_span);
    let call = Call {
        recv: Some(recv),
        name: name.to_string(),
        name_span,
        args,
        block: None,
        safe_nav: false,
    };
    Expr::new(ExprKind::Call(Box::new(call)), span)
}

/// `body if cond` / `body unless cond`.
fn conditional(cond: Expr, body: Expr, negate: bool, span: Range<usize>) -> Expr {
    let kind = if negate {
        ExprKind::If {
            arms: vec![(cond, Vec::new())],
            els: vec![body],
        }
    } else {
        ExprKind::If {
            arms: vec![(cond, vec![body])],
            els: Vec::new(),
        }
    };
    Expr::new(kind, span)
}

fn is_assignable(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::VCall(_)
        | ExprKind::Local(_)
        | ExprKind::GVar(_)
        | ExprKind::IVar(_)
        | ExprKind::Index { .. }
        | ExprKind::Env => true,
        ExprKind::Call(c) => c.recv.is_some() && c.args.is_empty() && c.block.is_none(),
        _ => false,
    }
}

/// A `{}` or `do` block can follow a call that has none yet.
fn takes_block(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call(c) => c.block.is_none(),
        ExprKind::VCall(_) => true,
        _ => false,
    }
}

fn describe(kind: &Tok) -> String {
    match kind {
        Tok::Int(_) | Tok::Float(_) => "number".to_string(),
        Tok::Str(_) => "string".to_string(),
        Tok::Sym(_) | Tok::DSym(_) => "symbol".to_string(),
        Tok::Words(_) | Tok::Symbols(_) => "`%w` list".to_string(),
        Tok::Ident(n) | Tok::Const(n) | Tok::GVar(n) | Tok::IVar(n) => format!("`{n}`"),
        Tok::Label(n) => format!("`{n}:`"),
        Tok::Kw(k) => k.as_str().to_string(),
        Tok::Punct(p) => format!("`{p}`"),
        _ => "token".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{stream, template};

    fn parse_template(t: &str, locals: &[&str]) -> Parsed {
        let scanned = template::scan(t);
        let stream = stream::splice(t, &scanned);
        let spans: Vec<_> = scanned.items.iter().map(|i| i.span(&scanned.tags)).collect();
        let mut parsed = parse(stream.tokens, locals, &spans);
        parsed.errors.splice(0..0, stream.errors);
        parsed
    }

    fn errors(t: &str) -> Vec<(String, Range<usize>)> {
        parse_template(t, &[])
            .errors
            .into_iter()
            .map(|e| (e.message, e.span))
            .collect()
    }

    #[test]
    fn parses_the_corpus_forms() {
        let t = "<% (1..$n).each do |i| %>A<%= f(i) if i %><% end %><% x = (a.to_s.strip.length > 0) %>\
                 <% h = ENV['K'] ? \"#{s}-#{x.downcase.gsub('__', '-')}\" : 'op' %>";
        let p = parse_template(t, &["a", "s"]);
        let msgs: Vec<_> = p.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(msgs, ["calling `f` is outside the Ruby subset berth evaluates"]);
    }

    #[test]
    fn locals_resolve_in_parse_order() {
        let p = parse_template(
            "<%= x %><% x = 1 %><%= x %><% [1].each { |y| z = y } %><%= y %><%= z %>",
            &[],
        );
        let free: Vec<_> = p.free.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(free, ["x", "y", "z"]);
    }

    #[test]
    fn names_that_cannot_raise_name_error_are_not_free() {
        let free =
            |t: &str| -> Vec<String> { parse_template(t, &[]).free.into_iter().map(|(n, _)| n).collect() };
        assert!(free("<% a, b = 1, 2 %><%= a %><%= b %>").is_empty());
        assert!(free("<%= defined?(foo) %><%= defined? bar %>").is_empty());
        assert_eq!(free("<%= ->(q, r) { q + r + s } %>"), ["s"]);
    }

    #[test]
    fn unbalanced_blocks_point_at_the_opening_tag() {
        assert_eq!(
            errors("a<% if x %>b"),
            [("this `if` is never closed with `end`".to_string(), 1..11)]
        );
        assert_eq!(
            errors("<% end %>")[0].0,
            "unexpected `end`: nothing is open here for it to close"
        );
        assert_eq!(errors("<% [1].each do |i| %>")[0].1, 0..21);
    }

    #[test]
    fn every_tag_reports_its_own_error() {
        let e = errors("<% require 'a' %><% x = ( %><% def f; end %><% y = %>");
        let codes: Vec<_> = e
            .iter()
            .map(|(m, s)| (m.split(' ').next().unwrap_or("").to_string(), s.start))
            .collect();
        assert_eq!(codes.len(), 4, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("<%= {}1{} %>", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse_template(&deep, &[]).errors[0].code, codes::LIMIT);
        let chain = format!("<%= 1{} %>", " + 1".repeat(10_000));
        assert_eq!(parse_template(&chain, &[]).errors[0].code, codes::LIMIT);
        let ifs = "<% if a %>".repeat(10_000);
        assert_eq!(parse_template(&ifs, &[]).errors[0].code, codes::LIMIT);
        let elsifs = format!("<% if a %>{}<% end %>", "<% elsif a %>x".repeat(10_000));
        assert!(parse_template(&elsifs, &["a"]).errors.is_empty());
    }
}
