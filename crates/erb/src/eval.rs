//! The evaluator: runs a parsed template program and produces its output and source map.
//!
//! It walks the syntax tree (whose height the parser bounded), counts evaluation steps
//! against a budget and caps the output, so endless loops and huge outputs end in an
//! error. Method calls go to `methods`; this file handles variables, control flow,
//! blocks, assignment (including writing mutated values back) and output.

use std::collections::BTreeMap;
use std::ops::Range;

use super::ast::{Arg, BlockArg, Call, Expr, ExprKind, LocalRef, Param, Part, Target};
use super::flow::{BlockVal, Flow, R};
use super::stack::StackGuard;
use super::template::{Item, Scanned};
use super::value::{Exc, Value, case_equal};
use super::{ErbError, Segment, codes, names};

/// How many evaluation steps a template may take.
pub(crate) const MAX_STEPS: u64 = 10_000_000;
/// The largest output (and the largest String or Array) a template may build, in bytes.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;

impl Flow {
    /// Gives an unplaced exception the span `span`.
    fn at(self, span: &Range<usize>) -> Flow {
        match self {
            Flow::Raise(e) => Flow::Error(Box::new(error_at(*e, span))),
            other => other,
        }
    }
}

/// An exception placed at `span`.
fn fail_at(e: Exc, span: &Range<usize>) -> Flow {
    Flow::Error(Box::new(error_at(e, span)))
}

fn error_at(e: Exc, span: &Range<usize>) -> ErbError {
    let help = match e.code {
        codes::LIMIT => {
            Some("berth stops templates that run too long or produce too much output".to_string())
        }
        codes::UNSUPPORTED => Some(super::stream::unsupported_help()),
        _ => None,
    };
    ErbError::new(span.clone(), e.code, e.message, help)
}

/// The running program's state.
pub(crate) struct Interp<'a> {
    template: &'a str,
    scanned: &'a Scanned,
    env: &'a BTreeMap<String, String>,
    frames: Vec<Vec<Value>>,
    globals: BTreeMap<String, Value>,
    ivars: BTreeMap<String, Value>,
    out: String,
    segments: Vec<Segment>,
    steps: u64,
    stack: StackGuard,
}

impl<'a> Interp<'a> {
    /// A fresh interpreter whose top frame holds `locals` in slot order.
    pub(crate) fn new(
        template: &'a str,
        scanned: &'a Scanned,
        env: &'a BTreeMap<String, String>,
        locals: Vec<Value>,
    ) -> Interp<'a> {
        Interp {
            template,
            scanned,
            env,
            frames: vec![locals],
            globals: BTreeMap::new(),
            ivars: BTreeMap::new(),
            out: String::new(),
            segments: Vec::new(),
            steps: 0,
            stack: StackGuard::new(),
        }
    }

    /// Runs the program; the output is left in `out` and `segments`.
    pub(crate) fn run(&mut self, program: &[Expr]) -> Result<(), ErbError> {
        for e in program {
            match self.eval(e) {
                Ok(_) => {}
                Err(Flow::Error(err)) => return Err(*err),
                Err(Flow::Raise(exc)) => return Err(error_at(*exc, &e.span)),
                // The parser only accepts `next`/`break` inside blocks.
                Err(Flow::Next(_) | Flow::Break(_)) => {}
            }
        }
        Ok(())
    }

    /// The output and where each part of it came from.
    pub(crate) fn into_output(self) -> (String, Vec<Segment>) {
        (self.out, self.segments)
    }

    pub(crate) fn env(&self) -> &BTreeMap<String, String> {
        self.env
    }

    /// Counts `n` steps of work against the budget.
    pub(crate) fn charge(&mut self, n: u64) -> Result<(), Exc> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return Err(Exc::limit(format!(
                "the template ran for more than {MAX_STEPS} evaluation steps (is a loop endless?)"
            )));
        }
        Ok(())
    }

    fn eval_all(&mut self, body: &[Expr]) -> R {
        let mut last = Value::Nil;
        for e in body {
            last = self.eval(e)?;
        }
        Ok(last)
    }

    /// Evaluates `e`. A thin dispatcher: the evaluator recurses through it, so the work
    /// of each kind of node is in a function of its own and this frame stays small.
    pub(crate) fn eval(&mut self, e: &Expr) -> R {
        if let Err(x) = self.charge(1) {
            return Err(fail_at(x, &e.span));
        }
        if self.stack.exhausted() {
            return Err(fail_at(
                Exc::limit("the template's code nests too deeply to evaluate"),
                &e.span,
            ));
        }
        match &e.kind {
            ExprKind::Nil | ExprKind::Error => Ok(Value::Nil),
            ExprKind::True => Ok(Value::Bool(true)),
            ExprKind::False => Ok(Value::Bool(false)),
            ExprKind::Int(i) => Ok(Value::Int(*i)),
            ExprKind::Float(f) => Ok(Value::Float(*f)),
            ExprKind::Str(s) => Ok(Value::str(s.as_str())),
            ExprKind::Sym(s) => Ok(Value::sym(s)),
            ExprKind::Local(r) => Ok(self.local(r)),
            ExprKind::GVar(g) => Ok(self.globals.get(g).cloned().unwrap_or(Value::Nil)),
            ExprKind::IVar(i) => Ok(self.ivars.get(i).cloned().unwrap_or(Value::Nil)),
            ExprKind::Env => Ok(Value::Env),
            ExprKind::Call(c) => self.call(c),
            ExprKind::Not(x) => self.eval(x).map(|v| Value::Bool(!v.truthy())),
            ExprKind::And(a, b) => self.and_or(a, b, true),
            ExprKind::Or(a, b) => self.and_or(a, b, false),
            ExprKind::If { arms, els } => self.eval_if(arms, els),
            ExprKind::Seq(body) => self.eval_all(body),
            ExprKind::Text(i) => self
                .text(*i)
                .map(|()| Value::Nil)
                .map_err(|x| fail_at(x, &e.span)),
            ExprKind::Output(x, i) => self.eval_output(x, *i, &e.span),
            _ => self.eval_other(e),
        }
    }

    fn and_or(&mut self, a: &Expr, b: &Expr, and: bool) -> R {
        let v = self.eval(a)?;
        if v.truthy() == and { self.eval(b) } else { Ok(v) }
    }

    fn eval_if(&mut self, arms: &[(Expr, Vec<Expr>)], els: &[Expr]) -> R {
        for (cond, body) in arms {
            if self.eval(cond)?.truthy() {
                return self.eval_all(body);
            }
        }
        self.eval_all(els)
    }

    fn eval_output(&mut self, x: &Expr, item: u32, span: &Range<usize>) -> R {
        let text = self.eval(x)?.to_s();
        self.output(&text, item).map_err(|x| fail_at(x, span))?;
        Ok(Value::Nil)
    }

    /// The less frequent kinds of node.
    fn eval_other(&mut self, e: &Expr) -> R {
        let at = |x: Exc| fail_at(x, &e.span);
        Ok(match &e.kind {
            ExprKind::DStr(parts) => Value::str(self.interpolate(parts, &e.span)?),
            ExprKind::DSym(parts) => Value::sym(&self.interpolate(parts, &e.span)?),
            ExprKind::Array(args) => {
                let items = self.args(args)?;
                Value::array(items).map_err(at)?
            }
            ExprKind::Hash(pairs) => self.hash_literal(pairs, &e.span)?,
            ExprKind::Range {
                start,
                end,
                exclusive,
            } => {
                let start = self.eval_opt(start.as_deref())?;
                let end = self.eval_opt(end.as_deref())?;
                Value::range(start, end, *exclusive).map_err(at)?
            }
            ExprKind::VCall(name) => {
                return Err(at(Exc::ruby(
                    "NameError",
                    format!("undefined local variable or method '{name}' for main"),
                )));
            }
            ExprKind::Index { recv, args } => {
                let mut v = self.eval(recv)?;
                let args = self.args(args)?;
                self.send(&mut v, "[]", args, None).map_err(|f| f.at(&e.span))?
            }
            ExprKind::Defined(x) => self.defined(x)?,
            ExprKind::Case { subject, whens, els } => self.case(subject.as_deref(), whens, els)?,
            ExprKind::Assign(target, value) => {
                let v = self.eval(value)?;
                self.assign(target, v.clone(), &e.span)?;
                v
            }
            ExprKind::OpAssign(target, op, value) => self.op_assign(target, op, value, &e.span)?,
            ExprKind::MultiAssign(targets, values) => {
                let mut values = self.args(values)?;
                if let [Value::Array(a)] = values.as_slice() {
                    values = a.items().to_vec();
                }
                for (i, t) in targets.iter().enumerate() {
                    self.assign(t, values.get(i).cloned().unwrap_or(Value::Nil), &e.span)?;
                }
                Value::array(values).map_err(at)?
            }
            ExprKind::Next(v) => return Err(Flow::Next(self.eval_opt(v.as_deref())?)),
            ExprKind::Break(v) => return Err(Flow::Break(self.eval_opt(v.as_deref())?)),
            // The common kinds are handled by `eval`.
            _ => Value::Nil,
        })
    }

    fn eval_opt(&mut self, e: Option<&Expr>) -> R {
        e.map_or(Ok(Value::Nil), |e| self.eval(e))
    }

    /// Evaluates arguments, spreading `*splat`s.
    fn args(&mut self, args: &[Arg]) -> Result<Vec<Value>, Flow> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Arg::Pos(e) => out.push(self.eval(e)?),
                Arg::Splat(e) => match self.eval(e)? {
                    Value::Array(items) => out.extend(items.items().iter().cloned()),
                    Value::Nil => {}
                    v => out.push(v),
                },
            }
        }
        Ok(out)
    }

    fn hash_literal(&mut self, pairs: &[(Expr, Expr)], span: &Range<usize>) -> R {
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            out.push((self.eval(k)?, self.eval(v)?));
        }
        Value::hash(out).map_err(|x| fail_at(x, span))
    }

    fn interpolate(&mut self, parts: &[Part], span: &Range<usize>) -> Result<String, Flow> {
        let mut s = String::new();
        for p in parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Code(code) => s.push_str(&self.eval_all(code)?.to_s()),
            }
            self.check_size(s.len()).map_err(|x| fail_at(x, span))?;
        }
        Ok(s)
    }

    /// Fails when a String or Array of `len` would exceed the size cap.
    pub(crate) fn check_size(&mut self, len: usize) -> Result<(), Exc> {
        if len > MAX_OUTPUT {
            return Err(Exc::limit(format!(
                "a value grew beyond {} MiB",
                MAX_OUTPUT >> 20
            )));
        }
        self.charge(len as u64 / 64)
    }

    // ---- variables -----------------------------------------------------------------

    fn frame_index(&self, up: usize) -> usize {
        self.frames.len().saturating_sub(1 + up)
    }

    fn local(&self, r: &LocalRef) -> Value {
        let frame = &self.frames[self.frame_index(r.up)];
        frame.get(r.slot).cloned().unwrap_or(Value::Nil)
    }

    fn set_local(&mut self, r: &LocalRef, v: Value) {
        let i = self.frame_index(r.up);
        let frame = &mut self.frames[i];
        if frame.len() <= r.slot {
            frame.resize(r.slot + 1, Value::Nil);
        }
        frame[r.slot] = v;
    }

    fn assign(&mut self, target: &Target, v: Value, span: &Range<usize>) -> Result<(), Flow> {
        match target {
            Target::Local(r) => self.set_local(r, v),
            Target::GVar(g) => {
                self.globals.insert(g.clone(), v);
            }
            Target::IVar(i) => {
                self.ivars.insert(i.clone(), v);
            }
            Target::Index { recv, args } => self.assign_index(recv, args, v, span)?,
        }
        Ok(())
    }

    /// `recv[args] = v`, then `recv` written back to where it came from.
    fn assign_index(&mut self, recv: &Expr, args: &[Arg], v: Value, span: &Range<usize>) -> Result<(), Flow> {
        let mut container = self.eval(recv)?;
        let mut args = self.args(args)?;
        args.push(v);
        self.send(&mut container, "[]=", args, None)
            .map_err(|f| f.at(span))?;
        self.write_back(recv, container, span)
    }

    /// Stores a changed receiver back where it came from (a variable or an element), so
    /// `list << x` and `h[:a] << x` keep their effect.
    fn write_back(&mut self, place: &Expr, v: Value, span: &Range<usize>) -> Result<(), Flow> {
        match &place.kind {
            ExprKind::Local(r) => self.set_local(r, v),
            ExprKind::GVar(g) => {
                self.globals.insert(g.clone(), v);
            }
            ExprKind::IVar(i) => {
                self.ivars.insert(i.clone(), v);
            }
            ExprKind::Index { recv, args } => self.assign_index(recv, args, v, span)?,
            // A temporary: the change is visible only in the call's result.
            _ => {}
        }
        Ok(())
    }

    fn op_assign(&mut self, target: &Target, op: &str, value: &Expr, span: &Range<usize>) -> R {
        let current = match target {
            Target::Local(r) => self.local(r),
            Target::GVar(g) => self.globals.get(g).cloned().unwrap_or(Value::Nil),
            Target::IVar(i) => self.ivars.get(i).cloned().unwrap_or(Value::Nil),
            Target::Index { recv, args } => {
                let mut container = self.eval(recv)?;
                let args = self.args(args)?;
                self.send(&mut container, "[]", args, None)
                    .map_err(|f| f.at(span))?
            }
        };
        let new = match op {
            "||" if current.truthy() => return Ok(current),
            "&&" if !current.truthy() => return Ok(current),
            "||" | "&&" => self.eval(value)?,
            op => {
                let rhs = self.eval(value)?;
                let mut lhs = current;
                self.send(&mut lhs, op, vec![rhs], None).map_err(|f| f.at(span))?
            }
        };
        self.assign(target, new.clone(), span)?;
        Ok(new)
    }

    fn defined(&mut self, e: &Expr) -> R {
        let what = match &e.kind {
            ExprKind::Local(_) => Some("local-variable"),
            ExprKind::VCall(_) => None,
            ExprKind::GVar(g) => self.globals.contains_key(g).then_some("global-variable"),
            ExprKind::IVar(i) => self.ivars.contains_key(i).then_some("instance-variable"),
            ExprKind::Env => Some("constant"),
            ExprKind::Assign(..) | ExprKind::OpAssign(..) | ExprKind::MultiAssign(..) => Some("assignment"),
            ExprKind::Call(c) => match &c.recv {
                Some(recv) => self.defined(recv)?.truthy().then_some("method"),
                None => names::is_function(&c.name).then_some("method"),
            },
            _ => Some("expression"),
        };
        Ok(what.map_or(Value::Nil, Value::str))
    }

    fn case(&mut self, subject: Option<&Expr>, whens: &[(Vec<Arg>, Vec<Expr>)], els: &[Expr]) -> R {
        let subject = match subject {
            Some(s) => Some(self.eval(s)?),
            None => None,
        };
        for (patterns, body) in whens {
            for pattern in self.args(patterns)? {
                let hit = match &subject {
                    Some(v) => case_equal(&pattern, v),
                    None => pattern.truthy(),
                };
                if hit {
                    return self.eval_all(body);
                }
            }
        }
        self.eval_all(els)
    }

    // ---- calls and blocks ------------------------------------------------------------

    fn call(&mut self, c: &Call) -> R {
        let span = &c.name_span;
        let block = match &c.block {
            Some(BlockArg::Literal(b)) => Some(BlockVal::Literal(b)),
            Some(BlockArg::Pass(e)) => match self.eval(e)? {
                Value::Nil => None,
                Value::Sym(_) => match &e.kind {
                    ExprKind::Sym(name) => Some(BlockVal::Symbol(name)),
                    _ => {
                        return Err(fail_at(
                            Exc::unsupported("passing a computed Symbol as a block"),
                            &e.span,
                        ));
                    }
                },
                v => {
                    let exc =
                        Exc::type_error(format!("wrong argument type {} (expected Proc)", v.class_name()));
                    return Err(fail_at(exc, &e.span));
                }
            },
            None => None,
        };
        let Some(recv_expr) = &c.recv else {
            let args = self.args(&c.args)?;
            return self.function(&c.name, args, block).map_err(|f| f.at(span));
        };
        // Mutating calls on a variable take its value out while they run, so an Array
        // grows in place instead of being copied; blocks may read the variable, so calls
        // with a block copy instead.
        let mutating = names::is_mutating(&c.name);
        let take = mutating && block.is_none() && is_variable(recv_expr);
        let (mut recv, args) = if take {
            let args = self.args(&c.args)?;
            (self.take(recv_expr), args)
        } else {
            let recv = self.eval(recv_expr)?;
            (recv, self.args(&c.args)?)
        };
        if c.safe_nav && matches!(recv, Value::Nil) {
            return Ok(Value::Nil);
        }
        let result = self.send(&mut recv, &c.name, args, block);
        if mutating {
            self.write_back(recv_expr, recv, span)?;
        }
        match result {
            Err(Flow::Break(v)) if matches!(c.block, Some(BlockArg::Literal(_))) => Ok(v),
            r => r.map_err(|f| f.at(span)),
        }
    }

    /// Moves a variable's value out (leaving nil until it is written back).
    fn take(&mut self, place: &Expr) -> Value {
        match &place.kind {
            ExprKind::Local(r) => {
                let i = self.frame_index(r.up);
                self.frames[i]
                    .get_mut(r.slot)
                    .map(std::mem::take)
                    .unwrap_or(Value::Nil)
            }
            ExprKind::GVar(g) => self.globals.remove(g).unwrap_or(Value::Nil),
            ExprKind::IVar(i) => self.ivars.remove(i).unwrap_or(Value::Nil),
            _ => Value::Nil,
        }
    }

    /// Calls `blk` with `args`, as Ruby's `yield` does for a block.
    pub(crate) fn yield_block(&mut self, blk: BlockVal<'_>, args: Vec<Value>) -> R {
        self.invoke(blk, args, None).map(|(v, _)| v)
    }

    /// Like `yield_block`, but returns the value parameter `keep` holds when the block
    /// ends: `each_with_object` passes its memo that way, since a block that changes
    /// the memo changes only its own parameter (values are not shared).
    pub(crate) fn yield_block_keep(&mut self, blk: BlockVal<'_>, args: Vec<Value>, keep: usize) -> R {
        let fallback = args.get(keep).cloned().unwrap_or(Value::Nil);
        self.invoke(blk, args, Some(keep))
            .map(|(_, kept)| kept.unwrap_or(fallback))
    }

    fn invoke(
        &mut self,
        blk: BlockVal<'_>,
        args: Vec<Value>,
        keep: Option<usize>,
    ) -> Result<(Value, Option<Value>), Flow> {
        let block = match blk {
            BlockVal::Symbol(name) => {
                let mut args = args.into_iter();
                let mut recv = args.next().unwrap_or(Value::Nil);
                let v = self.send(&mut recv, name, args.collect(), None)?;
                return Ok((v, None));
            }
            BlockVal::Literal(block) => block,
        };
        let args = match (block.spread, args.as_slice()) {
            (true, [Value::Array(a)]) => a.items().to_vec(),
            _ => args,
        };
        self.frames.push(Vec::new());
        for (i, p) in block.params.iter().enumerate() {
            self.bind(p, args.get(i).cloned().unwrap_or(Value::Nil));
        }
        let out = match self.eval_all(&block.body) {
            Err(Flow::Next(v)) => Ok(v),
            r => r,
        };
        let kept = match keep.and_then(|k| block.params.get(k)) {
            Some(Param::Slot(slot)) => self.frames.last().and_then(|f| f.get(*slot).cloned()),
            _ => None,
        };
        self.frames.pop();
        Ok((out?, kept))
    }

    fn bind(&mut self, p: &Param, v: Value) {
        match p {
            Param::Slot(slot) => {
                let r = LocalRef { up: 0, slot: *slot };
                self.set_local(&r, v);
            }
            Param::Nested(params) => {
                let items = match &v {
                    Value::Array(a) => a.items().to_vec(),
                    v => vec![v.clone()],
                };
                for (i, p) in params.iter().enumerate() {
                    self.bind(p, items.get(i).cloned().unwrap_or(Value::Nil));
                }
            }
        }
    }

    // ---- output ------------------------------------------------------------------

    fn text(&mut self, item: u32) -> Result<(), Exc> {
        let Some(Item::Text { pieces }) = self.scanned.items.get(item as usize) else {
            return Ok(());
        };
        for p in pieces {
            let start = self.out.len();
            self.push_out(&self.template[p.clone()])?;
            self.segments.push(Segment {
                out: start..self.out.len(),
                origin: p.start..p.end,
                literal: true,
            });
        }
        Ok(())
    }

    fn output(&mut self, s: &str, item: u32) -> Result<(), Exc> {
        let span = self
            .scanned
            .items
            .get(item as usize)
            .map_or(0..0, |i| i.span(&self.scanned.tags));
        let start = self.out.len();
        self.push_out(s)?;
        self.segments.push(Segment {
            out: start..self.out.len(),
            origin: span,
            literal: false,
        });
        Ok(())
    }

    fn push_out(&mut self, s: &str) -> Result<(), Exc> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(Exc::limit(format!(
                "the template's output grew beyond {} MiB",
                MAX_OUTPUT >> 20
            )));
        }
        self.charge(s.len() as u64 / 64)?;
        self.out.push_str(s);
        Ok(())
    }
}

/// A plain variable, whose value a mutating call can take out and put back.
fn is_variable(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Local(_) | ExprKind::GVar(_) | ExprKind::IVar(_))
}
