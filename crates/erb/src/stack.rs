//! A guard on the stack space the recursive parser and evaluator use.
//!
//! Their nesting limits keep recursion shallow, but how many bytes a level takes depends
//! on the build (an unoptimized frame can be ten times larger). The guard measures: the
//! distance between the address of a local variable now and when parsing or evaluation
//! began is the stack used since, so templates fail with an error long before a 2 MiB
//! thread stack runs out, in any build.

/// The stack a parse or an evaluation may use.
const MAX_STACK: usize = 768 << 10;

/// Where the stack stood when a parse or an evaluation began.
pub(crate) struct StackGuard {
    base: usize,
}

impl StackGuard {
    pub(crate) fn new() -> StackGuard {
        StackGuard { base: position() }
    }

    /// More than `MAX_STACK` bytes are in use since `new`.
    pub(crate) fn exhausted(&self) -> bool {
        self.base.abs_diff(position()) > MAX_STACK
    }
}

/// The current stack position: the address of a local of this (never inlined) function.
#[inline(never)]
fn position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurse(guard: &StackGuard, depth: usize) -> usize {
        let padding = std::hint::black_box([0u8; 512]);
        if guard.exhausted() {
            depth
        } else {
            recurse(guard, depth + 1) + usize::from(padding[0])
        }
    }

    #[test]
    fn deep_recursion_is_noticed_in_time() {
        let depth = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| recurse(&StackGuard::new(), 0))
            .expect("thread")
            .join()
            .expect("no overflow");
        assert!(depth > 100);
    }
}
