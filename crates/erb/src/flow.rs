//! What the evaluator and the built-in methods share: how evaluation leaves the normal
//! path (`Flow`), a method's result (`R`), and the block a method may yield to. A leaf
//! of the interpreter: the methods read it without reading the evaluator.

use super::ErbError;
use super::ast::Block;
use super::value::{Exc, Value};

/// Why evaluation left the normal path. Errors are boxed to keep `Result`s small: the
/// evaluator recurses, and every level holds a few of them.
#[derive(Debug)]
pub(crate) enum Flow {
    /// An exception from a method, not yet placed in the template.
    Raise(Box<Exc>),
    /// An error with its span.
    Error(Box<ErbError>),
    Next(Value),
    Break(Value),
}

impl From<Exc> for Flow {
    fn from(e: Exc) -> Flow {
        Flow::Raise(Box::new(e))
    }
}

pub(crate) type R = Result<Value, Flow>;

/// The block a method may yield to.
#[derive(Clone, Copy)]
pub(crate) enum BlockVal<'p> {
    Literal(&'p Block),
    /// `&:name`: calls `name` on the first argument.
    Symbol(&'p str),
}
