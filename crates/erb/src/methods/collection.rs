//! Array, Hash and Range methods, and the Enumerable methods they share.
//!
//! Enumerable methods walk an `Elements` iterator, which yields Integer ranges lazily, so
//! `(1..).each { break if ... }` works and every element is charged to the step budget.
//! Without a block, `each`, `map` and friends return the elements as an Array, which
//! stands in for Ruby's Enumerator in chains like `each_with_index.map`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::rc::Rc;

use super::numeric::arith;
use super::string::select_range;
use super::{Found, arity, int_arg, merge_sort, need_block, str_arg};
use crate::eval::Interp;
use crate::flow::{BlockVal, Flow, R};
use crate::value::case_equal;
use crate::value::range_covers;
use crate::value::{Array, Exc, Hash, Key, RangeVal, Value};

/// What `each` yields, one at a time.
enum Elements {
    Shared(Rc<Array>, usize),
    Owned(std::vec::IntoIter<Value>),
    /// An Integer range: the next value and the last one (`None`: endless).
    Ints {
        next: i64,
        last: Option<i64>,
        done: bool,
    },
}

impl Elements {
    fn next(&mut self) -> Option<Value> {
        match self {
            Elements::Shared(a, i) => {
                let v = a.items().get(*i).cloned();
                *i += 1;
                v
            }
            Elements::Owned(it) => it.next(),
            Elements::Ints { next, last, done } => {
                if *done || last.is_some_and(|l| *next > l) {
                    return None;
                }
                let v = *next;
                match next.checked_add(1) {
                    Some(n) => *next = n,
                    None => *done = true,
                }
                Some(Value::Int(v))
            }
        }
    }

    /// How many elements remain, when finite.
    fn len(&self) -> Option<u64> {
        match self {
            Elements::Shared(a, i) => Some(a.items().len().saturating_sub(*i) as u64),
            Elements::Owned(it) => Some(it.len() as u64),
            Elements::Ints { done: true, .. } => Some(0),
            Elements::Ints { next, last, .. } => last.map(|l| {
                if l < *next {
                    0
                } else {
                    (i128::from(l) - i128::from(*next) + 1) as u64
                }
            }),
        }
    }
}

/// A Hash's entries as `[key, value]` Arrays.
pub(crate) fn pairs(h: &Hash) -> Result<Vec<Value>, Exc> {
    h.entries()
        .iter()
        .map(|(k, v)| Value::array(vec![k.clone(), v.clone()]))
        .collect()
}

/// The elements of an Array, Hash or Range, for `each`.
fn elements(recv: &Value) -> Result<Elements, Exc> {
    Ok(match recv {
        Value::Array(a) => Elements::Shared(a.clone(), 0),
        Value::Hash(h) => Elements::Owned(pairs(h)?.into_iter()),
        Value::Range(r) => range_elements(r)?,
        v => return Err(Exc::no_method("each", v)),
    })
}

fn range_elements(r: &RangeVal) -> Result<Elements, Exc> {
    let start = match &r.start {
        Value::Int(i) => *i,
        Value::Str(_) => return Err(Exc::unsupported("iterating over a range of Strings")),
        v => return Err(Exc::type_error(format!("can't iterate from {}", v.class_name()))),
    };
    let last = match &r.end {
        Value::Nil => None,
        Value::Int(e) if r.exclusive => match e.checked_sub(1) {
            Some(l) => Some(l),
            None => return Ok(Elements::Owned(Vec::new().into_iter())),
        },
        Value::Int(e) => Some(*e),
        Value::Float(f) => {
            let l = if r.exclusive && f.fract() == 0.0 {
                f - 1.0
            } else {
                f.floor()
            };
            // Saturating: a Float beyond the Integer range means "never".
            Some(l.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }
        v => return Err(Exc::type_error(format!("can't iterate to {}", v.class_name()))),
    };
    Ok(Elements::Ints {
        next: start,
        last,
        done: false,
    })
}

fn array(items: Vec<Value>) -> R {
    Ok(Value::array(items)?)
}

fn items_of(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a.items(),
        _ => &[],
    }
}

/// A non-negative count argument.
fn count_arg(v: &Value, what: &str) -> Result<usize, Exc> {
    usize::try_from(int_arg(v)?).map_err(|_| Exc::argument(format!("attempt to {what} negative size")))
}

/// Ruby's `Array#flatten` to `depth` levels (`None`: all).
fn flatten_into(items: &[Value], depth: Option<i64>, out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::Array(a) if depth.is_none_or(|d| d > 0) => {
                flatten_into(a.items(), depth.map(|d| d - 1), out)
            }
            v => out.push(v.clone()),
        }
    }
}

/// `Array#join`: nested Arrays are joined too.
fn join_into(items: &[Value], sep: &str, out: &mut String, first: &mut bool) {
    for v in items {
        match v {
            Value::Array(a) => join_into(a.items(), sep, out, first),
            v => {
                if !*first {
                    out.push_str(sep);
                }
                *first = false;
                out.push_str(&v.to_s());
            }
        }
    }
}

impl Interp<'_> {
    pub(crate) fn collection_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> Found {
        let specific = match recv {
            Value::Array(_) => self.array_method(recv, name, args, blk)?,
            Value::Hash(_) => self.hash_method(recv, name, args, blk)?,
            Value::Range(r) => {
                let r = r.clone();
                self.range_method(&r, name, args, blk)?
            }
            _ => None,
        };
        match specific {
            Some(v) => Ok(Some(v)),
            None => self.enumerable(recv, name, args, blk),
        }
    }

    /// All elements as a Vec, charging for them first (endless ranges fail).
    fn all_elements(&mut self, recv: &Value) -> Result<Vec<Value>, Flow> {
        if let Value::Array(a) = recv {
            return Ok(a.items().to_vec());
        }
        let mut it = elements(recv)?;
        let Some(n) = it.len() else {
            return Err(Exc::ruby("RangeError", "cannot convert endless range to an array").into());
        };
        self.charge(n)?;
        self.check_size(usize::try_from(n).unwrap_or(usize::MAX).saturating_mul(16))?;
        let mut out = Vec::with_capacity(n as usize);
        while let Some(v) = it.next() {
            out.push(v);
        }
        Ok(out)
    }

    /// Walks the elements of `recv`, calling `f` until it returns `Some` (early exit).
    fn walk(
        &mut self,
        recv: &Value,
        mut f: impl FnMut(&mut Self, Value) -> Result<Option<Value>, Flow>,
    ) -> Result<Option<Value>, Flow> {
        let mut it = elements(recv)?;
        while let Some(v) = it.next() {
            self.charge(1)?;
            if let Some(out) = f(self, v)? {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// The block's verdict on `v` (or `v`'s truthiness without a block).
    fn test(&mut self, blk: Option<BlockVal<'_>>, v: &Value) -> Result<bool, Flow> {
        Ok(match blk {
            Some(b) => self.yield_block(b, vec![v.clone()])?.truthy(),
            None => v.truthy(),
        })
    }

    fn map_value(&mut self, blk: Option<BlockVal<'_>>, v: Value) -> R {
        match blk {
            Some(b) => self.yield_block(b, vec![v]),
            None => Ok(v),
        }
    }

    /// `a <=> b`, or the comparison block's answer.
    fn compare_with(&mut self, blk: Option<BlockVal<'_>>, a: &Value, b: &Value) -> Result<Ordering, Flow> {
        self.charge(1)?;
        let Some(blk) = blk else {
            return Ok(a.compare_or_fail(b)?);
        };
        match self.yield_block(blk, vec![a.clone(), b.clone()])? {
            Value::Int(i) => Ok(i.cmp(&0)),
            Value::Float(f) => Ok(f.partial_cmp(&0.0).unwrap_or(Ordering::Equal)),
            _ => Err(Exc::argument(format!(
                "comparison of {} with {} failed",
                a.class_name(),
                b.class_name()
            ))
            .into()),
        }
    }

    /// Sorts by `<=>` or a comparison block; `descending` keeps equal elements in order.
    fn sort_values(
        &mut self,
        items: Vec<Value>,
        blk: Option<BlockVal<'_>>,
        descending: bool,
    ) -> Result<Vec<Value>, Flow> {
        merge_sort(items, &mut |a, b| {
            let o = self.compare_with(blk, a, b)?;
            Ok(if descending { o.reverse() } else { o })
        })
    }

    /// Sorts by the keys a block gives.
    fn sort_by_values(&mut self, items: Vec<Value>, blk: BlockVal<'_>) -> Result<Vec<Value>, Flow> {
        let mut keyed = Vec::with_capacity(items.len());
        for v in items {
            keyed.push((self.yield_block(blk, vec![v.clone()])?, v));
        }
        let sorted = merge_sort(keyed, &mut |(a, _), (b, _)| {
            self.charge(1)?;
            Ok(a.compare_or_fail(b)?)
        })?;
        Ok(sorted.into_iter().map(|(_, v)| v).collect())
    }

    /// Enumerable methods, over the elements `each` yields.
    fn enumerable(&mut self, recv: &Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> Found {
        let v = match name {
            "each" => self.each(recv, blk)?,
            "each_with_index" | "with_index" => self.with_index(recv, name, args, blk)?,
            "each_with_object" => self.each_with_object(recv, args, blk)?,
            "map" | "collect" | "flat_map" | "collect_concat" | "filter_map" => self.map(recv, name, blk)?,
            "select" | "filter" | "find_all" | "reject" | "partition" => self.select(recv, name, blk)?,
            "find" | "detect" | "find_index" | "index" | "include?" | "member?" => {
                self.search(recv, name, args, blk)?
            }
            "any?" | "all?" | "none?" | "one?" | "count" => self.predicate(recv, name, args, blk)?,
            "first" | "take" | "take_while" | "drop_while" => self.prefix(recv, name, args, blk)?,
            "min" | "max" | "min_by" | "max_by" | "minmax" | "sort" | "sort_by" | "sum" | "uniq"
            | "group_by" | "tally" | "inject" | "reduce" | "each_slice" | "each_cons" | "zip" | "to_a"
            | "entries" | "to_h" | "reverse_each" | "drop" => {
                let items = self.all_elements(recv)?;
                self.whole(recv, items, name, args, blk)?
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    fn each(&mut self, recv: &Value, blk: Option<BlockVal<'_>>) -> R {
        let Some(b) = blk else {
            return array(self.all_elements(recv)?);
        };
        self.walk(recv, |this, v| this.yield_block(b, vec![v]).map(|_| None))?;
        Ok(recv.clone())
    }

    /// `each_with_index` yields `(element, index)`; `with_index(offset)` also collects
    /// the block's results, as `map.with_index` does.
    fn with_index(&mut self, recv: &Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        let mut i = if name == "with_index" {
            args.first().map_or(Ok(0), int_arg)?
        } else {
            0
        };
        let mut out = Vec::new();
        self.walk(recv, |this, v| {
            let index = Value::Int(i);
            i = i.saturating_add(1);
            out.push(match blk {
                Some(b) => this.yield_block(b, vec![v, index])?,
                None => Value::array(vec![v, index])?,
            });
            Ok(None)
        })?;
        if blk.is_some() && name == "each_with_index" {
            Ok(recv.clone())
        } else {
            array(out)
        }
    }

    fn each_with_object(&mut self, recv: &Value, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        arity(args, 1, 1)?;
        let b = need_block(blk)?;
        let mut memo = args[0].clone();
        self.walk(recv, |this, v| {
            memo = this.yield_block_keep(b, vec![v, memo.clone()], 1)?;
            Ok(None)
        })?;
        Ok(memo)
    }

    fn map(&mut self, recv: &Value, name: &str, blk: Option<BlockVal<'_>>) -> R {
        let mut out = Vec::new();
        self.walk(recv, |this, v| {
            let m = this.map_value(blk, v.clone())?;
            match name {
                "filter_map" if blk.is_none() => out.push(v),
                "filter_map" if !m.truthy() => {}
                "flat_map" | "collect_concat" => match m {
                    Value::Array(a) => out.extend(a.items().iter().cloned()),
                    m => out.push(m),
                },
                _ => out.push(m),
            }
            Ok(None)
        })?;
        array(out)
    }

    /// `select`/`filter`/`find_all`, `reject`, and `partition` (both at once).
    fn select(&mut self, recv: &Value, name: &str, blk: Option<BlockVal<'_>>) -> R {
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        self.walk(recv, |this, v| {
            if blk.is_none() || this.test(blk, &v)? {
                yes.push(v)
            } else {
                no.push(v)
            }
            Ok(None)
        })?;
        match name {
            "partition" => array(vec![Value::array(yes)?, Value::array(no)?]),
            "reject" if blk.is_some() => array(no),
            _ => array(yes),
        }
    }

    /// `find`, `find_index`/`index` and `include?`: the first hit.
    fn search(&mut self, recv: &Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        let target = args.first().cloned();
        if matches!(name, "include?" | "member?") && target.is_none() {
            return Err(Exc::arity(0, "1").into());
        }
        let mut index = 0i64;
        let found = self.walk(recv, |this, v| {
            let hit = match &target {
                Some(t) => v.equals(t),
                None => this.test(blk, &v)?,
            };
            index += 1;
            Ok(hit.then(|| match name {
                "find" | "detect" => v,
                "include?" | "member?" => Value::Bool(true),
                _ => Value::Int(index - 1),
            }))
        })?;
        let missing = if matches!(name, "include?" | "member?") {
            Value::Bool(false)
        } else {
            Value::Nil
        };
        Ok(found.unwrap_or(missing))
    }

    /// `any?`, `all?`, `none?`, `one?` (with a block, a pattern or truthiness) and `count`.
    fn predicate(&mut self, recv: &Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        let pattern = args.first().cloned();
        let mut hits = 0i64;
        let early = self.walk(recv, |this, v| {
            let hit = match (&pattern, name) {
                (Some(t), "count") => v.equals(t),
                (Some(p), _) => case_equal(p, &v),
                (None, "count") => blk.is_none() || this.test(blk, &v)?,
                (None, _) => this.test(blk, &v)?,
            };
            hits += i64::from(hit);
            Ok(match name {
                "any?" if hit => Some(Value::Bool(true)),
                "all?" if !hit => Some(Value::Bool(false)),
                "none?" if hit => Some(Value::Bool(false)),
                "one?" if hits > 1 => Some(Value::Bool(false)),
                _ => None,
            })
        })?;
        Ok(early.unwrap_or(match name {
            "count" => Value::Int(hits),
            "any?" => Value::Bool(false),
            "one?" => Value::Bool(hits == 1),
            _ => Value::Bool(true),
        }))
    }

    /// `first`, `take`, `take_while` and `drop_while`, which may stop early.
    fn prefix(&mut self, recv: &Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        if name == "first" && args.is_empty() {
            return Ok(self.walk(recv, |_, v| Ok(Some(v)))?.unwrap_or(Value::Nil));
        }
        let limit = match name {
            "first" | "take" => {
                arity(args, 1, 1)?;
                Some(count_arg(&args[0], "take")?)
            }
            _ => None,
        };
        let mut out = Vec::new();
        let mut dropping = name == "drop_while";
        if limit != Some(0) {
            self.walk(recv, |this, v| {
                match name {
                    "take_while" if !this.test(blk, &v)? => return Ok(Some(Value::Nil)),
                    "drop_while" if dropping => dropping = this.test(blk, &v)?,
                    _ => {}
                }
                if !dropping {
                    out.push(v);
                }
                Ok(limit.filter(|&n| out.len() >= n).map(|_| Value::Nil))
            })?;
        }
        array(out)
    }

    /// Enumerable methods that need all elements at once.
    fn whole(
        &mut self,
        recv: &Value,
        items: Vec<Value>,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> R {
        match name {
            "to_a" | "entries" => array(items),
            "sort" => array(self.sort_values(items, blk, false)?),
            "sort_by" => match blk {
                Some(b) => array(self.sort_by_values(items, b)?),
                None => array(items),
            },
            "min" | "max" if !args.is_empty() => {
                let sorted = self.sort_values(items, blk, name == "max")?;
                array(sorted.into_iter().take(count_arg(&args[0], "take")?).collect())
            }
            "min" | "max" | "min_by" | "max_by" => self.extreme(items, name, blk),
            "minmax" => {
                let min = self.extreme(items.clone(), "min", blk)?;
                array(vec![min, self.extreme(items, "max", blk)?])
            }
            "sum" => self.sum(items, args.first().cloned().unwrap_or(Value::Int(0)), blk),
            "uniq" => {
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                for v in items {
                    let key = self.map_value(blk, v.clone())?;
                    if seen.insert(Key::of(&key)) {
                        out.push(v);
                    }
                }
                array(out)
            }
            "group_by" => {
                let b = need_block(blk)?;
                let mut h = Hash::default();
                for v in items {
                    let key = self.yield_block(b, vec![v.clone()])?;
                    let mut group = h.get(&key).map(|g| items_of(g).to_vec()).unwrap_or_default();
                    group.push(v);
                    h.insert(key, Value::array(group)?)?;
                }
                Ok(Value::Hash(Rc::new(h)))
            }
            "tally" => {
                let mut h = Hash::default();
                for v in items {
                    let n = match h.get(&v) {
                        Some(Value::Int(n)) => n + 1,
                        _ => 1,
                    };
                    h.insert(v, Value::Int(n))?;
                }
                Ok(Value::Hash(Rc::new(h)))
            }
            "inject" | "reduce" => self.inject(items, args, blk),
            "each_slice" | "each_cons" => {
                arity(args, 1, 1)?;
                let n = count_arg(&args[0], "slice")
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Exc::argument("invalid slice size"))?;
                let groups: Vec<&[Value]> = if name == "each_slice" {
                    items.chunks(n).collect()
                } else {
                    items.windows(n).collect()
                };
                let mut out = Vec::new();
                for g in groups {
                    let g = Value::array(g.to_vec())?;
                    match blk {
                        Some(b) => {
                            self.yield_block(b, vec![g])?;
                        }
                        None => out.push(g),
                    }
                }
                if blk.is_some() {
                    Ok(recv.clone())
                } else {
                    array(out)
                }
            }
            "zip" => {
                let mut others = Vec::new();
                for a in args {
                    others.push(self.all_elements(a)?);
                }
                let mut out = Vec::new();
                for (i, v) in items.into_iter().enumerate() {
                    let mut row = vec![v];
                    row.extend(others.iter().map(|o| o.get(i).cloned().unwrap_or(Value::Nil)));
                    out.push(Value::array(row)?);
                }
                array(out)
            }
            "to_h" => {
                let mut h = Hash::default();
                for v in items {
                    let pair = self.map_value(blk, v)?;
                    let [k, v] = items_of(&pair) else {
                        let message = format!("wrong element type {} (expected array)", pair.class_name());
                        return Err(Exc::type_error(message).into());
                    };
                    h.insert(k.clone(), v.clone())?;
                }
                Ok(Value::Hash(Rc::new(h)))
            }
            "reverse_each" => {
                let b = need_block(blk)?;
                for v in items.into_iter().rev() {
                    self.charge(1)?;
                    self.yield_block(b, vec![v])?;
                }
                Ok(recv.clone())
            }
            _ => {
                // `drop`
                arity(args, 1, 1)?;
                let n = count_arg(&args[0], "drop")?;
                array(items.into_iter().skip(n).collect())
            }
        }
    }

    /// `min`/`max` (by `<=>` or a comparison block) and `min_by`/`max_by`: the first of
    /// the extreme elements, as Ruby returns it.
    fn extreme(&mut self, items: Vec<Value>, name: &str, blk: Option<BlockVal<'_>>) -> R {
        let by_key = name.ends_with("_by");
        let wanted = if name.starts_with("max") {
            Ordering::Greater
        } else {
            Ordering::Less
        };
        let mut best: Option<(Value, Value)> = None;
        for v in items {
            let key = if by_key {
                self.yield_block(need_block(blk)?, vec![v.clone()])?
            } else {
                v.clone()
            };
            let better = match &best {
                None => true,
                Some((best_key, _)) if by_key => {
                    self.charge(1)?;
                    key.compare_or_fail(best_key)? == wanted
                }
                Some((best_key, _)) => self.compare_with(blk, &key, best_key)? == wanted,
            };
            if better {
                best = Some((key, v));
            }
        }
        Ok(best.map_or(Value::Nil, |(_, v)| v))
    }

    /// `inject(init, :op)`, `inject(:op)`, `inject(init) { }`, `inject { }`.
    fn inject(&mut self, items: Vec<Value>, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        let (init, op) = match (args, blk) {
            ([], Some(_)) => (None, None),
            ([init], Some(_)) => (Some(init.clone()), None),
            ([Value::Sym(op)], None) => (None, Some(op.to_string())),
            ([init, Value::Sym(op)], None) => (Some(init.clone()), Some(op.to_string())),
            _ => return Err(Exc::argument("inject needs a block or a Symbol").into()),
        };
        let mut it = items.into_iter();
        let Some(mut acc) = init.or_else(|| it.next()) else {
            return Ok(Value::Nil);
        };
        for v in it {
            acc = match (&op, blk) {
                (Some(op), _) => self.send(&mut acc, op, vec![v], None)?,
                (None, Some(b)) => self.yield_block(b, vec![acc, v])?,
                (None, None) => unreachable!("checked above"),
            };
        }
        Ok(acc)
    }

    /// `sum`: exact for Integers, Kahan-Babuska compensated once a Float appears (as
    /// Ruby does), `+` for anything else.
    fn sum(&mut self, items: Vec<Value>, init: Value, blk: Option<BlockVal<'_>>) -> R {
        let mut acc = init;
        // The running Float sum and its compensation.
        let mut float: Option<(f64, f64)> = None;
        for v in items {
            let v = self.map_value(blk, v)?;
            let x = match &v {
                Value::Int(i) => *i as f64,
                Value::Float(x) => *x,
                _ => f64::NAN,
            };
            match (&mut float, &acc, &v) {
                (Some((f, c)), _, Value::Int(_) | Value::Float(_)) => kahan_babuska(f, c, x),
                (Some((f, c)), _, _) => {
                    acc = Value::Float(*f + *c);
                    float = None;
                    acc = self.send(&mut acc, "+", vec![v], None)?;
                }
                (None, Value::Int(_), Value::Int(_)) => acc = arith("+", &acc, &v)?,
                (None, Value::Int(_) | Value::Float(_), Value::Float(_))
                | (None, Value::Float(_), Value::Int(_)) => {
                    let (mut f, mut c) = (0.0, 0.0);
                    kahan_babuska(&mut f, &mut c, f64_of(&acc));
                    kahan_babuska(&mut f, &mut c, x);
                    float = Some((f, c));
                }
                (None, _, _) => acc = self.send(&mut acc, "+", vec![v], None)?,
            }
        }
        Ok(match float {
            Some((f, c)) => Value::Float(f + c),
            None => acc,
        })
    }

    fn array_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> Found {
        let Value::Array(a) = recv else { return Ok(None) };
        // A handle of its own, so `recv` stays free for the mutating methods.
        let a = a.clone();
        if let Some(base) = name.strip_suffix('!') {
            return self.bang(recv, base, args, blk);
        }
        let items = a.items();
        let v = match name {
            "[]" | "slice" => {
                let one = matches!(args, [Value::Int(_) | Value::Float(_)]);
                match select_range(args, items.len())? {
                    Some((start, _)) if one => items[start].clone(),
                    Some((start, n)) if !one => Value::array(items[start..start + n].to_vec())?,
                    _ => Value::Nil,
                }
            }
            "at" => {
                arity(args, 1, 1)?;
                select_range(args, items.len())?.map_or(Value::Nil, |(i, _)| items[i].clone())
            }
            "fetch" => self.array_fetch(items, args, blk)?,
            "dig" => self.dig(recv.clone(), args)?,
            "last" => match args.first() {
                None => items.last().cloned().unwrap_or(Value::Nil),
                Some(n) => {
                    let n = count_arg(n, "take")?.min(items.len());
                    Value::array(items[items.len() - n..].to_vec())?
                }
            },
            "length" | "size" => Value::Int(items.len() as i64),
            "empty?" => Value::Bool(items.is_empty()),
            "join" => {
                let sep = match args.first() {
                    None | Some(Value::Nil) => "",
                    Some(v) => str_arg(v)?,
                };
                let mut out = String::new();
                join_into(items, sep, &mut out, &mut true);
                self.check_size(out.len())?;
                Value::str(out)
            }
            "reverse" => Value::array(items.iter().rev().cloned().collect())?,
            "rotate" => {
                let n = args.first().map_or(Ok(1), int_arg)?;
                let k = if items.is_empty() {
                    0
                } else {
                    n.rem_euclid(items.len() as i64) as usize
                };
                Value::array(items[k..].iter().chain(&items[..k]).cloned().collect())?
            }
            "compact" => Value::array(
                items
                    .iter()
                    .filter(|v| !matches!(v, Value::Nil))
                    .cloned()
                    .collect(),
            )?,
            "flatten" => {
                let depth = args.first().map(int_arg).transpose()?;
                let mut out = Vec::new();
                flatten_into(items, depth, &mut out);
                Value::array(out)?
            }
            "+" | "-" | "&" | "|" => {
                arity(args, 1, 1)?;
                let Value::Array(b) = &args[0] else {
                    let message = format!("no implicit conversion of {} into Array", args[0].type_label());
                    return Err(Exc::type_error(message).into());
                };
                self.check_size((items.len() + b.items().len()).saturating_mul(16))?;
                Value::array(set_operation(name, items, b.items()))?
            }
            "*" => {
                arity(args, 1, 1)?;
                if let Value::Str(_) = &args[0] {
                    return self.array_method(&mut Value::Array(a.clone()), "join", args, None);
                }
                let n =
                    usize::try_from(int_arg(&args[0])?).map_err(|_| Exc::argument("negative argument"))?;
                self.check_size(items.len().saturating_mul(n).saturating_mul(16))?;
                Value::array(items.iter().cloned().cycle().take(items.len() * n).collect())?
            }
            "rindex" => {
                let mut found = Value::Nil;
                for (i, v) in items.iter().enumerate().rev() {
                    let hit = match args.first() {
                        Some(t) => v.equals(t),
                        None => self.test(blk, v)?,
                    };
                    if hit {
                        found = Value::Int(i as i64);
                        break;
                    }
                }
                found
            }
            "values_at" => {
                let mut out = Vec::new();
                for i in args {
                    let at = select_range(std::slice::from_ref(i), items.len())?;
                    out.push(at.map_or(Value::Nil, |(i, _)| items[i].clone()));
                }
                Value::array(out)?
            }
            "each_index" => {
                let b = need_block(blk)?;
                for i in 0..items.len() {
                    self.charge(1)?;
                    self.yield_block(b, vec![Value::Int(i as i64)])?;
                }
                recv.clone()
            }
            "to_a" | "entries" => recv.clone(),
            "<<" | "push" | "append" | "pop" | "shift" | "unshift" | "prepend" | "insert" | "concat"
            | "delete" | "delete_at" | "delete_if" | "keep_if" | "clear" | "replace" | "fill" | "[]=" => {
                self.array_mutate(recv, name, args, blk)?
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    fn array_fetch(&mut self, items: &[Value], args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        arity(args, 1, 2)?;
        let i = int_arg(&args[0])?;
        let len = items.len() as i64;
        let at = if i < 0 { i + len } else { i };
        if (0..len).contains(&at) {
            return Ok(items[at as usize].clone());
        }
        match (args.get(1), blk) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(b)) => self.yield_block(b, vec![args[0].clone()]),
            (None, None) => Err(Exc::ruby(
                "IndexError",
                format!("index {i} outside of array bounds: {}...{len}", -len),
            )
            .into()),
        }
    }

    /// `dig(k, ...)`: `[]` step by step, stopping at nil.
    fn dig(&mut self, mut v: Value, keys: &[Value]) -> R {
        arity(keys, 1, usize::MAX)?;
        for k in keys {
            if matches!(v, Value::Nil) {
                return Ok(Value::Nil);
            }
            if !matches!(v, Value::Array(_) | Value::Hash(_)) {
                return Err(Exc::type_error(format!("{} does not have #dig method", v.class_name())).into());
            }
            v = self.send(&mut v, "[]", vec![k.clone()], None)?;
        }
        Ok(v)
    }

    /// Array methods that change the receiver in place.
    fn array_mutate(&mut self, recv: &mut Value, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        // Ask the block what to keep before touching the receiver.
        let mut verdicts = Vec::new();
        if let "delete_if" | "keep_if" = name {
            let b = need_block(blk)?;
            for v in items_of(recv).to_vec() {
                let hit = self.yield_block(b, vec![v])?.truthy();
                verdicts.push(hit == (name == "keep_if"));
            }
        }
        let Value::Array(rc) = recv else {
            return Ok(Value::Nil);
        };
        let a = Rc::make_mut(rc);
        let optional_count = |args: &[Value]| args.first().map(|n| count_arg(n, "take")).transpose();
        let result = match name {
            "<<" | "push" | "append" => {
                for v in args {
                    a.push(v.clone())?;
                }
                None
            }
            "pop" | "shift" => {
                let n = optional_count(args)?;
                let len = a.items().len();
                let take = n.unwrap_or(1).min(len);
                let range = if name == "pop" { len - take..len } else { 0..take };
                let removed: Vec<Value> = a.modify(|items| items.drain(range).collect())?;
                Some(match n {
                    None => removed.into_iter().next().unwrap_or(Value::Nil),
                    Some(_) => Value::array(removed)?,
                })
            }
            "unshift" | "prepend" => {
                a.modify(|items| {
                    items.splice(0..0, args.iter().cloned());
                })?;
                None
            }
            "insert" => {
                arity(args, 1, usize::MAX)?;
                let len = a.items().len() as i64;
                let i = int_arg(&args[0])?;
                let at = if i < 0 { i + len + 1 } else { i };
                if at < 0 {
                    let message = format!("index {i} too small for array; minimum: -{}", len + 1);
                    return Err(Exc::ruby("IndexError", message).into());
                }
                let at = at as usize;
                self.check_size(at.saturating_mul(16))?;
                a.modify(|items| {
                    if at > items.len() {
                        items.resize(at, Value::Nil);
                    }
                    items.splice(at..at, args[1..].iter().cloned());
                })?;
                None
            }
            "concat" => {
                for v in args {
                    for x in items_of(v) {
                        a.push(x.clone())?;
                    }
                }
                None
            }
            "delete" => {
                arity(args, 1, 1)?;
                let found = a.items().iter().any(|v| v.equals(&args[0]));
                a.modify(|items| items.retain(|v| !v.equals(&args[0])))?;
                Some(if found { args[0].clone() } else { Value::Nil })
            }
            "delete_at" => {
                arity(args, 1, 1)?;
                let len = a.items().len() as i64;
                let i = int_arg(&args[0])?;
                let at = if i < 0 { i + len } else { i };
                Some(if (0..len).contains(&at) {
                    a.modify(|items| items.remove(at as usize))?
                } else {
                    Value::Nil
                })
            }
            "delete_if" | "keep_if" => {
                let mut keep = verdicts.into_iter();
                a.modify(|items| items.retain(|_| keep.next().unwrap_or(true)))?;
                None
            }
            "clear" => {
                a.modify(Vec::clear)?;
                None
            }
            "replace" => {
                arity(args, 1, 1)?;
                let new = items_of(&args[0]).to_vec();
                a.modify(|items| *items = new)?;
                None
            }
            "fill" => {
                arity(args, 1, 1)?;
                a.modify(|items| items.iter_mut().for_each(|v| *v = args[0].clone()))?;
                None
            }
            _ => Some(self.array_store(a, args)?),
        };
        Ok(result.unwrap_or_else(|| recv.clone()))
    }

    /// `array[i] = v`, `array[start, n] = v`, `array[range] = v`.
    fn array_store(&mut self, a: &mut Array, args: &[Value]) -> R {
        arity(args, 2, 3)?;
        let (sel, value) = args.split_at(args.len() - 1);
        let value = value[0].clone();
        let len = a.items().len();
        if let [i] = sel
            && !matches!(i, Value::Range(_))
        {
            let i = int_arg(i)?;
            let at = if i < 0 { i + len as i64 } else { i };
            if at < 0 {
                return Err(Exc::ruby(
                    "IndexError",
                    format!("index {i} too small for array; minimum: -{len}"),
                )
                .into());
            }
            let at = at as usize;
            self.check_size(at.saturating_mul(16))?;
            a.modify(|items| {
                if at >= items.len() {
                    items.resize(at + 1, Value::Nil);
                }
                items[at] = value.clone();
            })?;
            return Ok(value);
        }
        let (start, n) =
            select_range(sel, len)?.ok_or_else(|| Exc::ruby("RangeError", "index out of range"))?;
        let new = match &value {
            Value::Array(v) => v.items().to_vec(),
            v => vec![v.clone()],
        };
        a.modify(|items| {
            items.splice(start..start + n, new);
        })?;
        Ok(value)
    }

    /// `name!` for Arrays and Hashes: the non-bang result replaces the receiver.
    fn bang(&mut self, recv: &mut Value, base: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> Found {
        const NIL_IF_UNCHANGED: &[&str] = &["select", "filter", "reject", "uniq", "compact", "flatten"];
        #[rustfmt::skip]
        const ALWAYS_SELF: &[&str] = &[
            "map", "collect", "sort", "sort_by", "reverse", "transform_values", "transform_keys", "merge",
        ];
        if !NIL_IF_UNCHANGED.contains(&base) && !ALWAYS_SELF.contains(&base) {
            return Ok(None);
        }
        let new = self.send(&mut recv.clone(), base, args.to_vec(), blk)?;
        let changed = !new.equals(recv);
        *recv = new;
        Ok(Some(if changed || ALWAYS_SELF.contains(&base) {
            recv.clone()
        } else {
            Value::Nil
        }))
    }

    fn hash_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> Found {
        let Value::Hash(h) = recv else { return Ok(None) };
        let h = h.clone();
        if let Some(base) = name.strip_suffix('!') {
            return self.bang(recv, base, args, blk);
        }
        let one = || arity(args, 1, 1);
        let v = match name {
            "[]" => {
                one()?;
                h.get(&args[0]).cloned().unwrap_or(Value::Nil)
            }
            "fetch" => {
                arity(args, 1, 2)?;
                match (h.get(&args[0]), args.get(1), blk) {
                    (Some(v), _, _) => v.clone(),
                    (None, Some(d), _) => d.clone(),
                    (None, None, Some(b)) => self.yield_block(b, vec![args[0].clone()])?,
                    (None, None, None) => {
                        return Err(
                            Exc::ruby("KeyError", format!("key not found: {}", args[0].inspect())).into(),
                        );
                    }
                }
            }
            "dig" => self.dig(recv.clone(), args)?,
            "key?" | "has_key?" | "include?" | "member?" => {
                one()?;
                Value::Bool(h.get(&args[0]).is_some())
            }
            "value?" | "has_value?" => {
                one()?;
                Value::Bool(h.entries().iter().any(|(_, v)| v.equals(&args[0])))
            }
            "key" => {
                one()?;
                h.entries()
                    .iter()
                    .find(|(_, v)| v.equals(&args[0]))
                    .map_or(Value::Nil, |(k, _)| k.clone())
            }
            "keys" => Value::array(h.entries().iter().map(|(k, _)| k.clone()).collect())?,
            "values" => Value::array(h.entries().iter().map(|(_, v)| v.clone()).collect())?,
            "values_at" => Value::array(
                args.iter()
                    .map(|k| h.get(k).cloned().unwrap_or(Value::Nil))
                    .collect(),
            )?,
            "length" | "size" => Value::Int(h.entries().len() as i64),
            "count" if args.is_empty() && blk.is_none() => Value::Int(h.entries().len() as i64),
            "empty?" => Value::Bool(h.entries().is_empty()),
            "to_h" if blk.is_none() => recv.clone(),
            "to_hash" => recv.clone(),
            "to_a" | "entries" => Value::array(pairs(&h)?)?,
            "merge" => Value::Hash(Rc::new(self.merge(&h, args, blk)?)),
            "select" | "filter" | "reject" => {
                let keep = name != "reject";
                let mut out = Hash::default();
                for (k, v) in h.entries() {
                    self.charge(1)?;
                    let pair = Value::array(vec![k.clone(), v.clone()])?;
                    if self.test(blk, &pair)? == keep {
                        out.insert(k.clone(), v.clone())?;
                    }
                }
                Value::Hash(Rc::new(out))
            }
            "transform_values" | "transform_keys" => {
                let mut out = Hash::default();
                for (k, v) in h.entries() {
                    self.charge(1)?;
                    if name == "transform_values" {
                        out.insert(k.clone(), self.map_value(blk, v.clone())?)?;
                        continue;
                    }
                    let key = match args.first() {
                        Some(Value::Hash(map)) => map.get(k).cloned().unwrap_or_else(|| k.clone()),
                        _ => self.map_value(blk, k.clone())?,
                    };
                    out.insert(key, v.clone())?;
                }
                Value::Hash(Rc::new(out))
            }
            "invert" => Value::hash(h.entries().iter().map(|(k, v)| (v.clone(), k.clone())).collect())?,
            "compact" => Value::hash(
                h.entries()
                    .iter()
                    .filter(|(_, v)| !matches!(v, Value::Nil))
                    .cloned()
                    .collect(),
            )?,
            "slice" => Value::hash(
                args.iter()
                    .filter_map(|k| Some((k.clone(), h.get(k)?.clone())))
                    .collect(),
            )?,
            "except" => Value::hash(
                h.entries()
                    .iter()
                    .filter(|(k, _)| !args.iter().any(|a| a.eql(k)))
                    .cloned()
                    .collect(),
            )?,
            "each_key" | "each_value" => {
                let b = need_block(blk)?;
                for (k, v) in h.entries() {
                    self.charge(1)?;
                    self.yield_block(b, vec![if name == "each_key" { k.clone() } else { v.clone() }])?;
                }
                recv.clone()
            }
            "each_pair" => self.each(recv, blk)?,
            "[]=" | "store" | "delete" | "update" | "clear" | "replace" | "delete_if" | "keep_if" => {
                self.hash_mutate(recv, &h, name, args, blk)?
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// `merge(other, ...)`, with a block to settle keys both have.
    fn merge(&mut self, h: &Hash, others: &[Value], blk: Option<BlockVal<'_>>) -> Result<Hash, Flow> {
        let mut out = h.clone();
        for other in others {
            let Value::Hash(o) = other else {
                let message = format!("no implicit conversion of {} into Hash", other.type_label());
                return Err(Exc::type_error(message).into());
            };
            for (k, v) in o.entries() {
                let v = match (out.get(k), blk) {
                    (Some(old), Some(b)) => self.yield_block(b, vec![k.clone(), old.clone(), v.clone()])?,
                    _ => v.clone(),
                };
                out.insert(k.clone(), v)?;
            }
        }
        Ok(out)
    }

    /// Hash methods that change the receiver.
    fn hash_mutate(
        &mut self,
        recv: &mut Value,
        h: &Hash,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> R {
        let mut new = h.clone();
        let mut result = None;
        match name {
            "[]=" | "store" => {
                arity(args, 2, 2)?;
                new.insert(args[0].clone(), args[1].clone())?;
                result = Some(args[1].clone());
            }
            "delete" => {
                arity(args, 1, 1)?;
                result = Some(new.remove(&args[0]).unwrap_or(Value::Nil));
            }
            "update" => new = self.merge(h, args, blk)?,
            "clear" => new = Hash::default(),
            "replace" => match args {
                [Value::Hash(other)] => new = (**other).clone(),
                _ => return Err(Exc::type_error("no implicit conversion into Hash").into()),
            },
            _ => {
                // `delete_if`, `keep_if`
                let b = need_block(blk)?;
                new = Hash::default();
                for (k, v) in h.entries() {
                    if self.yield_block(b, vec![k.clone(), v.clone()])?.truthy() == (name == "keep_if") {
                        new.insert(k.clone(), v.clone())?;
                    }
                }
            }
        }
        *recv = Value::Hash(Rc::new(new));
        Ok(result.unwrap_or_else(|| recv.clone()))
    }

    fn range_method(&mut self, r: &RangeVal, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> Found {
        let bounds = match (&r.start, &r.end) {
            (Value::Int(s), Value::Int(e)) => {
                Some((*s, if r.exclusive { e.checked_sub(1) } else { Some(*e) }))
            }
            _ => None,
        };
        let plain = args.is_empty() && blk.is_none();
        let v = match name {
            "begin" => r.start.clone(),
            "end" => r.end.clone(),
            "first" | "last" if args.is_empty() => {
                let (end, which) = if name == "first" {
                    (&r.start, "beginless")
                } else {
                    (&r.end, "endless")
                };
                if matches!(end, Value::Nil) {
                    let message = format!("cannot get the {name} element of {which} range");
                    return Err(Exc::ruby("RangeError", message).into());
                }
                end.clone()
            }
            "exclude_end?" => Value::Bool(r.exclusive),
            "include?" | "member?" | "cover?" | "===" => {
                arity(args, 1, 1)?;
                Value::Bool(range_covers(r, &args[0]))
            }
            "size" | "count" if plain => match (bounds, &r.end) {
                (Some((s, Some(l))), _) if l >= s => Value::Int(l.saturating_sub(s).saturating_add(1)),
                (Some(_), _) => Value::Int(0),
                (None, Value::Nil) if matches!(r.start, Value::Int(_)) => Value::Float(f64::INFINITY),
                _ => return Ok(None),
            },
            "min" | "max" if plain => match bounds {
                Some((s, Some(l))) if l >= s => Value::Int(if name == "min" { s } else { l }),
                Some(_) => Value::Nil,
                None => return Ok(None),
            },
            "sum" if plain => match bounds {
                Some((s, Some(l))) if l >= s => {
                    let total = (i128::from(s) + i128::from(l)) * (i128::from(l) - i128::from(s) + 1) / 2;
                    Value::Int(
                        i64::try_from(total).map_err(|_| Exc::unsupported("an Integer beyond 64 bits"))?,
                    )
                }
                Some(_) => Value::Int(0),
                None => return Ok(None),
            },
            "step" => self.range_step(r, args, blk)?,
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// `range.step(n)`: every n-th element.
    fn range_step(&mut self, r: &RangeVal, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        arity(args, 1, 1)?;
        let step = int_arg(&args[0])?;
        if step <= 0 {
            return Err(Exc::argument("step can't be 0 or negative").into());
        }
        let range = Value::Range(Rc::new(r.clone()));
        let mut i = 0i64;
        let mut out = Vec::new();
        self.walk(&range, |this, v| {
            if i % step == 0 {
                match blk {
                    Some(b) => {
                        this.yield_block(b, vec![v])?;
                    }
                    None => out.push(v),
                }
            }
            i += 1;
            Ok(None)
        })?;
        if blk.is_some() { Ok(range) } else { array(out) }
    }
}

/// `-`, `&`, `|` (by `eql?`, without duplicates for `&` and `|`) and `+`.
fn set_operation(op: &str, a: &[Value], b: &[Value]) -> Vec<Value> {
    let other: BTreeSet<Key> = b.iter().map(Key::of).collect();
    let mut seen = BTreeSet::new();
    match op {
        "+" => a.iter().chain(b).cloned().collect(),
        "-" => a
            .iter()
            .filter(|v| !other.contains(&Key::of(v)))
            .cloned()
            .collect(),
        "&" => a
            .iter()
            .filter(|v| other.contains(&Key::of(v)) && seen.insert(Key::of(v)))
            .cloned()
            .collect(),
        _ => a
            .iter()
            .chain(b)
            .filter(|v| seen.insert(Key::of(v)))
            .cloned()
            .collect(),
    }
}

fn f64_of(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// One step of Kahan-Babuska summation, with Ruby's handling of NaN and infinities.
fn kahan_babuska(f: &mut f64, c: &mut f64, x: f64) {
    if f.is_nan() {
        return;
    }
    if x.is_nan() || x.is_infinite() {
        *f = if x.is_infinite() && f.is_infinite() && x.signum() != f.signum() {
            f64::NAN
        } else {
            x
        };
        return;
    }
    if f.is_infinite() {
        return;
    }
    let t = *f + x;
    *c += if f.abs() >= x.abs() {
        (*f - t) + x
    } else {
        (x - t) + *f
    };
    *f = t;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_of_ranges() {
        let r = Value::range(Value::Int(1), Value::Int(4), true).unwrap();
        let mut it = elements(&r).unwrap();
        assert_eq!(it.len(), Some(3));
        let mut seen = Vec::new();
        while let Some(v) = it.next() {
            seen.push(v.to_s());
        }
        assert_eq!(seen, ["1", "2", "3"]);
        let endless = Value::range(Value::Int(i64::MAX), Value::Nil, false).unwrap();
        let mut it = elements(&endless).unwrap();
        assert_eq!(it.len(), None);
        assert!(it.next().is_some() && it.next().is_none());
        let float = Value::range(Value::Float(1.0), Value::Int(2), false).unwrap();
        assert!(elements(&float).is_err());
    }

    #[test]
    fn flatten_and_join() {
        let inner = Value::array(vec![Value::Int(2), Value::Nil]).unwrap();
        let v = Value::array(vec![Value::Int(1), inner]).unwrap();
        let mut out = String::new();
        join_into(items_of(&v), "-", &mut out, &mut true);
        assert_eq!(out, "1-2-");
        let mut flat = Vec::new();
        flatten_into(items_of(&v), None, &mut flat);
        assert_eq!(flat.len(), 3);
    }

    #[test]
    fn sums_like_ruby() {
        let (mut f, mut c) = (0.0, 0.0);
        for x in [0.1, 0.2, 0.3] {
            kahan_babuska(&mut f, &mut c, x);
        }
        assert_eq!(f + c, 0.6);
        assert_eq!(
            set_operation("|", &[Value::Int(1), Value::Int(1)], &[Value::Float(1.0)]).len(),
            2
        );
    }
}
