//! The built-in methods of the Ruby subset (their names are in `names`): dispatch by
//! receiver type, the methods every object
//! has, and the few Kernel functions a template may call.
//!
//! Each receiver type lives in its own file; a method that changes its receiver gets it
//! as `&mut Value` and the evaluator writes it back.

mod collection;
mod format;
mod numeric;
mod string;

use std::cmp::Ordering;

use super::eval::Interp;
use super::flow::{BlockVal, Flow, R};
use super::value::case_equal;
use super::value::{Exc, Value};

pub(crate) use format::sprintf;

/// A method looked up on one receiver type: `Ok(None)` when the type has no method of
/// that name, so the methods every object has are tried next.
pub(crate) type Found = Result<Option<Value>, Flow>;

/// Checks the number of arguments: `min..=max`.
pub(crate) fn arity(args: &[Value], min: usize, max: usize) -> Result<(), Exc> {
    if (min..=max).contains(&args.len()) {
        return Ok(());
    }
    let expected = match (min, max) {
        (a, b) if a == b => a.to_string(),
        (a, usize::MAX) => format!("{a}+"),
        (a, b) => format!("{a}..{b}"),
    };
    Err(Exc::arity(args.len(), &expected))
}

/// An Integer argument (Floats are truncated, as Ruby's implicit conversion does).
pub(crate) fn int_arg(v: &Value) -> Result<i64, Exc> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Ok(f.trunc() as i64),
        v => Err(Exc::type_error(format!(
            "no implicit conversion of {} into Integer",
            v.type_label()
        ))),
    }
}

/// A String argument.
pub(crate) fn str_arg(v: &Value) -> Result<&str, Exc> {
    match v {
        Value::Str(s) => Ok(s.as_str()),
        v => Err(Exc::type_error(format!(
            "no implicit conversion of {} into String",
            v.type_label()
        ))),
    }
}

/// The block, or Ruby's error for a method that needs one.
pub(crate) fn need_block(blk: Option<BlockVal<'_>>) -> Result<BlockVal<'_>, Exc> {
    blk.ok_or_else(|| Exc::ruby("LocalJumpError", "no block given (yield)"))
}

/// Sorts stably with a comparison that may fail (a block may raise, or compare
/// inconsistently: Rust's own sort may panic on an inconsistent order, this one may not).
pub(crate) fn merge_sort<T: Clone>(
    items: Vec<T>,
    cmp: &mut dyn FnMut(&T, &T) -> Result<Ordering, Flow>,
) -> Result<Vec<T>, Flow> {
    let mut src = items;
    let n = src.len();
    let mut width = 1;
    while width < n {
        let mut dst = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j) = (start, mid);
            while i < mid && j < end {
                if cmp(&src[j], &src[i])? == Ordering::Less {
                    dst.push(src[j].clone());
                    j += 1;
                } else {
                    dst.push(src[i].clone());
                    i += 1;
                }
            }
            dst.extend_from_slice(&src[i..mid]);
            dst.extend_from_slice(&src[j..end]);
            start = end;
        }
        src = dst;
        width *= 2;
    }
    Ok(src)
}

impl Interp<'_> {
    /// Calls method `name` on `recv`. Mutating methods change `recv` in place.
    pub(crate) fn send(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: Vec<Value>,
        blk: Option<BlockVal<'_>>,
    ) -> R {
        let found = match recv {
            Value::Int(_) | Value::Float(_) => self.numeric_method(recv, name, &args, blk)?,
            Value::Str(_) => self.string_method(recv, name, &args, blk)?,
            Value::Sym(_) => self.symbol_method(recv, name, &args)?,
            Value::Array(_) | Value::Hash(_) | Value::Range(_) => {
                self.collection_method(recv, name, &args, blk)?
            }
            Value::Env => self.env_method(name, &args, blk)?,
            Value::Nil => nil_method(name, &args)?,
            Value::Bool(b) => bool_method(*b, name, &args)?,
        };
        match found {
            Some(v) => Ok(v),
            None => self.object_method(recv, name, args, blk),
        }
    }

    /// Methods every object has.
    fn object_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: Vec<Value>,
        blk: Option<BlockVal<'_>>,
    ) -> R {
        let one = |args: &[Value]| arity(args, 1, 1).map(|_| args[0].clone());
        let v = match name {
            "to_s" => Value::str(recv.to_s()),
            "inspect" => Value::str(recv.inspect()),
            "nil?" => Value::Bool(matches!(recv, Value::Nil)),
            "==" | "equal?" => Value::Bool(recv.equals(&one(&args)?)),
            "!=" => Value::Bool(!recv.equals(&one(&args)?)),
            "eql?" => Value::Bool(recv.eql(&one(&args)?)),
            "===" => Value::Bool(case_equal(recv, &one(&args)?)),
            "!" => Value::Bool(!recv.truthy()),
            "<=>" => recv.compare(&one(&args)?).map_or(Value::Nil, ordering),
            "<" | ">" | "<=" | ">="
                if matches!(
                    recv,
                    Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Array(_)
                ) =>
            {
                let o = recv.compare_or_fail(&one(&args)?)?;
                Value::Bool(match name {
                    "<" => o == Ordering::Less,
                    ">" => o == Ordering::Greater,
                    "<=" => o != Ordering::Greater,
                    _ => o != Ordering::Less,
                })
            }
            "between?" => {
                arity(&args, 2, 2)?;
                Value::Bool(
                    recv.compare_or_fail(&args[0])? != Ordering::Less
                        && recv.compare_or_fail(&args[1])? != Ordering::Greater,
                )
            }
            "clamp" => {
                arity(&args, 1, 2)?;
                let (lo, hi) = match args.as_slice() {
                    [Value::Range(r)] => (r.start.clone(), r.end.clone()),
                    [lo, hi] => (lo.clone(), hi.clone()),
                    _ => return Err(Exc::type_error("wrong argument type (expected Range)").into()),
                };
                if !matches!(lo, Value::Nil) && recv.compare_or_fail(&lo)? == Ordering::Less {
                    lo
                } else if !matches!(hi, Value::Nil) && recv.compare_or_fail(&hi)? == Ordering::Greater {
                    hi
                } else {
                    recv.clone()
                }
            }
            "freeze" | "dup" | "clone" | "itself" => recv.clone(),
            "frozen?" => Value::Bool(!matches!(recv, Value::Str(_) | Value::Array(_) | Value::Hash(_))),
            "hash" => Value::Int(hash_of(recv)),
            "then" | "yield_self" => {
                let blk = need_block(blk)?;
                self.yield_block(blk, vec![recv.clone()])?
            }
            "tap" => {
                let blk = need_block(blk)?;
                self.yield_block(blk, vec![recv.clone()])?;
                recv.clone()
            }
            _ => return Err(Exc::no_method(name, recv).into()),
        };
        Ok(v)
    }

    /// A Kernel function call (no receiver).
    pub(crate) fn function(&mut self, name: &str, args: Vec<Value>, _blk: Option<BlockVal<'_>>) -> R {
        let v = match name {
            "Integer" => {
                arity(&args, 1, 3)?;
                let base = args
                    .get(1)
                    .filter(|b| !matches!(b, Value::Hash(_)))
                    .map(int_arg)
                    .transpose()?;
                let quiet = args.iter().any(|a| matches!(a, Value::Hash(h) if h.get(&Value::sym("exception")).is_some_and(|v| !v.truthy())));
                match numeric::kernel_integer(&args[0], base) {
                    Err(_) if quiet => Value::Nil,
                    r => r?,
                }
            }
            "Float" => {
                arity(&args, 1, 2)?;
                let quiet = matches!(args.get(1), Some(Value::Hash(h)) if h.get(&Value::sym("exception")).is_some_and(|v| !v.truthy()));
                match numeric::kernel_float(&args[0]) {
                    Err(_) if quiet => Value::Nil,
                    r => r?,
                }
            }
            "String" => {
                arity(&args, 1, 1)?;
                Value::str(args[0].to_s())
            }
            "Array" => {
                arity(&args, 1, 1)?;
                match &args[0] {
                    Value::Nil => Value::array(Vec::new())?,
                    Value::Array(_) => args[0].clone(),
                    Value::Hash(h) => Value::array(collection::pairs(h)?)?,
                    v => Value::array(vec![v.clone()])?,
                }
            }
            "format" | "sprintf" => {
                arity(&args, 1, usize::MAX)?;
                Value::str(sprintf(str_arg(&args[0])?, &args[1..])?)
            }
            "raise" | "fail" => {
                let message = match args.first() {
                    None => "unhandled exception".to_string(),
                    Some(v) => v.to_s(),
                };
                return Err(Exc::ruby("RuntimeError", message).into());
            }
            _ => return Err(Exc::unsupported(format!("calling `{name}`")).into()),
        };
        Ok(v)
    }

    /// `ENV`: read-only access to the environment given to berth.
    fn env_method(&mut self, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> Found {
        let strings =
            |items: Vec<&String>| Value::array(items.into_iter().map(|s| Value::str(s.as_str())).collect());
        let v = match name {
            "[]" => {
                arity(args, 1, 1)?;
                self.env_get(&args[0])?.unwrap_or(Value::Nil)
            }
            "fetch" => self.env_fetch(args, blk)?,
            "key?" | "has_key?" | "include?" | "member?" => {
                arity(args, 1, 1)?;
                Value::Bool(self.env_get(&args[0])?.is_some())
            }
            "keys" => strings(self.env().keys().collect())?,
            "values" => strings(self.env().values().collect())?,
            "to_h" | "to_hash" => {
                let pairs = self
                    .env()
                    .iter()
                    .map(|(k, v)| (Value::str(k.as_str()), Value::str(v.as_str())));
                Value::hash(pairs.collect())?
            }
            "empty?" => Value::Bool(self.env().is_empty()),
            "size" | "length" => Value::Int(self.env().len() as i64),
            "[]=" | "store" | "delete" | "update" | "clear" | "replace" => {
                return Err(Exc::unsupported("changing `ENV`").into());
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    fn env_get(&self, key: &Value) -> Result<Option<Value>, Exc> {
        Ok(self.env().get(str_arg(key)?).map(|s| Value::str(s.as_str())))
    }

    fn env_fetch(&mut self, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        arity(args, 1, 2)?;
        Ok(match (self.env_get(&args[0])?, args.get(1), blk) {
            (Some(v), _, _) => v,
            (None, Some(default), _) => default.clone(),
            (None, None, Some(b)) => self.yield_block(b, vec![args[0].clone()])?,
            (None, None, None) => {
                return Err(Exc::ruby("KeyError", format!("key not found: {}", args[0].inspect())).into());
            }
        })
    }
}

/// `nil`'s own methods.
fn nil_method(name: &str, args: &[Value]) -> Found {
    let v = match name {
        "to_a" => Value::array(Vec::new())?,
        "to_h" => Value::hash(Vec::new())?,
        "to_i" => Value::Int(0),
        "to_f" => Value::Float(0.0),
        "&" => Value::Bool(false),
        "|" => {
            arity(args, 1, 1)?;
            Value::Bool(args[0].truthy())
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// `true`'s and `false`'s own methods.
fn bool_method(b: bool, name: &str, args: &[Value]) -> Found {
    if !matches!(name, "&" | "|" | "^") {
        return Ok(None);
    }
    arity(args, 1, 1)?;
    let other = args[0].truthy();
    Ok(Some(Value::Bool(match name {
        "&" => b && other,
        "|" => b || other,
        _ => b != other,
    })))
}

/// `<=>`'s Integer result.
pub(crate) fn ordering(o: Ordering) -> Value {
    Value::Int(match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    })
}

/// A stable hash code (FNV-1a over the key's inspect form).
fn hash_of(v: &Value) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.inspect().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{METHODS, MUTATING};

    #[test]
    fn merge_sort_is_stable_and_total() {
        let items: Vec<Value> = [3, 1, 2, 1].iter().map(|&i| Value::Int(i)).collect();
        let sorted = merge_sort(items, &mut |a, b| Ok(a.compare(b).unwrap_or(Ordering::Equal))).unwrap();
        let ints: Vec<String> = sorted.iter().map(Value::to_s).collect();
        assert_eq!(ints, ["1", "1", "2", "3"]);
        // An inconsistent order must not panic.
        let items: Vec<Value> = (0..100).map(Value::Int).collect();
        let mut flip = false;
        let out = merge_sort(items, &mut |_, _| {
            flip = !flip;
            Ok(if flip { Ordering::Less } else { Ordering::Greater })
        });
        assert_eq!(out.map(|v| v.len()).ok(), Some(100));
    }

    /// Every listed method is implemented for some receiver: calling it gives a value or
    /// an argument error, not NoMethodError.
    #[test]
    fn listed_methods_exist() {
        let scanned = crate::template::Scanned::default();
        let env = std::collections::BTreeMap::new();
        let mut interp = Interp::new("", &scanned, &env, Vec::new());
        let samples = [
            Value::Nil,
            Value::Bool(true),
            Value::Int(3),
            Value::Float(2.5),
            Value::str("abc"),
            Value::sym("a"),
            Value::array(vec![Value::Int(1), Value::Int(2)]).unwrap(),
            Value::hash(vec![(Value::sym("a"), Value::Int(1))]).unwrap(),
            Value::range(Value::Int(1), Value::Int(3), false).unwrap(),
            Value::Env,
        ];
        let arg_lists = [
            vec![],
            vec![Value::Int(1)],
            vec![Value::str("a")],
            vec![Value::Int(1), Value::Int(1)],
        ];
        for name in METHODS.iter().chain(MUTATING) {
            let exists = samples.iter().any(|recv| {
                arg_lists.iter().any(|args| {
                    let blk = Some(BlockVal::Symbol("itself"));
                    match interp.send(&mut recv.clone(), name, args.clone(), blk) {
                        Err(Flow::Raise(e)) => !e
                            .message
                            .starts_with(&format!("NoMethodError: undefined method '{name}'")),
                        _ => true,
                    }
                })
            });
            assert!(exists, "`{name}` is listed but no receiver implements it");
        }
    }
}
