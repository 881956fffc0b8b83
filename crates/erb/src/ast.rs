//! The syntax tree of a whole template: one Ruby program, as ERB compiles it, in which
//! text chunks and `<%= %>` tags are statements of their own.
//!
//! Local variables are resolved while parsing (as Ruby does), so a `Local` already knows
//! its frame and slot; a bare name that is not a local is a `VCall`. Every node knows its
//! height, so the parser can refuse trees too deep to evaluate (or drop) recursively.

use std::ops::Range;

/// An expression with the template span it came from.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Range<usize>,
    /// 1 for a leaf; 1 + the tallest child otherwise.
    pub height: u32,
}

#[derive(Debug, Clone)]
pub(crate) enum ExprKind {
    Nil,
    True,
    False,
    Int(i64),
    Float(f64),
    Str(String),
    /// An interpolating string.
    DStr(Vec<Part>),
    Sym(String),
    DSym(Vec<Part>),
    Array(Vec<Arg>),
    Hash(Vec<(Expr, Expr)>),
    Range {
        start: Option<Box<Expr>>,
        end: Option<Box<Expr>>,
        exclusive: bool,
    },
    Local(LocalRef),
    GVar(String),
    IVar(String),
    /// The `ENV` constant.
    Env,
    /// A name that is not a local variable: Ruby would call a method of that name, and
    /// none exists in a template, so evaluating it raises NameError.
    VCall(String),
    Call(Box<Call>),
    Index {
        recv: Box<Expr>,
        args: Vec<Arg>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `defined?(expr)`.
    Defined(Box<Expr>),
    /// `if`/`elsif`/`else` (also `unless`, modifiers and `?:`): the first arm whose
    /// condition is truthy runs; kept flat so long `elsif` chains stay shallow.
    If {
        arms: Vec<(Expr, Vec<Expr>)>,
        els: Vec<Expr>,
    },
    Case {
        subject: Option<Box<Expr>>,
        whens: Vec<(Vec<Arg>, Vec<Expr>)>,
        els: Vec<Expr>,
    },
    Assign(Box<Target>, Box<Expr>),
    /// `target op= value`; `op` is the operator method, or `||` / `&&`.
    OpAssign(Box<Target>, &'static str, Box<Expr>),
    MultiAssign(Vec<Target>, Vec<Arg>),
    /// Parenthesised statements: the value of the last one.
    Seq(Vec<Expr>),
    /// Appends text chunk `n` (a scanned item) to the output.
    Text(u32),
    /// Appends `expr.to_s`; `n` is the `<%= %>` item.
    Output(Box<Expr>, u32),
    Next(Option<Box<Expr>>),
    Break(Option<Box<Expr>>),
    /// Something already reported as an error; a program containing it never runs.
    Error,
}

/// One piece of an interpolating string.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    Lit(String),
    Code(Vec<Expr>),
}

/// A method call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub recv: Option<Expr>,
    pub name: String,
    pub name_span: Range<usize>,
    pub args: Vec<Arg>,
    pub block: Option<BlockArg>,
    /// `&.`: nil receivers give nil instead of NoMethodError.
    pub safe_nav: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Pos(Expr),
    Splat(Expr),
}

#[derive(Debug, Clone)]
pub(crate) enum BlockArg {
    Literal(Block),
    /// `&:name` or `&expr`.
    Pass(Expr),
}

/// `{ |params| body }` or `do |params| body end`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub params: Vec<Param>,
    /// More than one parameter (or a trailing comma): a single Array argument is spread
    /// over the parameters, as Ruby does for `hash.each { |k, v| }`.
    pub spread: bool,
    pub body: Vec<Expr>,
}

#[derive(Debug, Clone)]
pub(crate) enum Param {
    /// A slot in the block's frame.
    Slot(usize),
    /// `(a, b)`: destructures an Array argument.
    Nested(Vec<Param>),
}

/// A resolved local variable: `up` frames out from the current one, then `slot`.
#[derive(Debug, Clone)]
pub(crate) struct LocalRef {
    pub up: usize,
    pub slot: usize,
}

/// Something that can be assigned to.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Local(LocalRef),
    GVar(String),
    IVar(String),
    Index { recv: Expr, args: Vec<Arg> },
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, span: Range<usize>) -> Expr {
        let mut tallest = 0;
        kind.for_each_child(&mut |e| tallest = tallest.max(e.height));
        Expr {
            kind,
            span,
            height: tallest.saturating_add(1),
        }
    }
}

impl ExprKind {
    /// Calls `f` on every direct child expression.
    fn for_each_child(&self, f: &mut impl FnMut(&Expr)) {
        fn all<'a>(list: impl IntoIterator<Item = &'a Expr>, f: &mut impl FnMut(&Expr)) {
            list.into_iter().for_each(f);
        }
        fn args<'a>(list: impl IntoIterator<Item = &'a Arg>, f: &mut impl FnMut(&Expr)) {
            list.into_iter().for_each(|a| match a {
                Arg::Pos(e) | Arg::Splat(e) => f(e),
            });
        }
        fn parts(list: &[Part], f: &mut impl FnMut(&Expr)) {
            for p in list {
                if let Part::Code(code) = p {
                    all(code, f);
                }
            }
        }
        match self {
            ExprKind::DStr(p) | ExprKind::DSym(p) => parts(p, f),
            ExprKind::Array(a) => args(a, f),
            ExprKind::Hash(pairs) => pairs.iter().for_each(|(k, v)| {
                f(k);
                f(v);
            }),
            ExprKind::Range { start, end, .. } => all(start.iter().chain(end).map(|b| &**b), f),
            ExprKind::Call(c) => {
                all(&c.recv, f);
                args(&c.args, f);
                match &c.block {
                    Some(BlockArg::Literal(b)) => all(&b.body, f),
                    Some(BlockArg::Pass(e)) => f(e),
                    None => {}
                }
            }
            ExprKind::Index { recv, args: a } => {
                f(recv);
                args(a, f);
            }
            ExprKind::Not(e) | ExprKind::Defined(e) | ExprKind::Output(e, _) => f(e),
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                f(a);
                f(b);
            }
            ExprKind::If { arms, els } => {
                for (cond, body) in arms {
                    f(cond);
                    all(body, f);
                }
                all(els, f);
            }
            ExprKind::Case { subject, whens, els } => {
                all(subject.iter().map(|b| &**b), f);
                for (values, body) in whens {
                    args(values, f);
                    all(body, f);
                }
                all(els, f);
            }
            ExprKind::Assign(t, e) | ExprKind::OpAssign(t, _, e) => {
                t.for_each_child(f);
                f(e);
            }
            ExprKind::MultiAssign(targets, values) => {
                targets.iter().for_each(|t| t.for_each_child(f));
                args(values, f);
            }
            ExprKind::Seq(body) => all(body, f),
            ExprKind::Next(e) | ExprKind::Break(e) => all(e.iter().map(|b| &**b), f),
            ExprKind::Nil
            | ExprKind::True
            | ExprKind::False
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Sym(_)
            | ExprKind::Local(_)
            | ExprKind::GVar(_)
            | ExprKind::IVar(_)
            | ExprKind::Env
            | ExprKind::VCall(_)
            | ExprKind::Text(_)
            | ExprKind::Error => {}
        }
    }
}

impl Target {
    fn for_each_child(&self, f: &mut impl FnMut(&Expr)) {
        if let Target::Index { recv, args } = self {
            f(recv);
            args.iter().for_each(|a| match a {
                Arg::Pos(e) | Arg::Splat(e) => f(e),
            });
        }
    }
}
