//! The names of the Ruby subset: which methods and Kernel functions berth implements,
//! and which change their receiver. Read by the parser (what is outside the subset), the
//! evaluator (what to write back) and the methods' tests.

/// Every method name berth implements on some receiver type.
#[rustfmt::skip]
pub(crate) const METHODS: &[&str] = &[
    // operators
    "+", "-", "*", "/", "%", "**", "-@", "+@", "~", "!", "&", "|", "^", "<<", ">>", "==", "!=", "===",
    "<=>", "<", ">", "<=", ">=", "[]", "[]=",
    // every object
    "to_s", "inspect", "nil?", "equal?", "eql?", "freeze", "frozen?", "dup", "clone", "itself", "then",
    "yield_self", "tap", "between?", "clamp", "hash",
    // numbers
    "to_i", "to_int", "to_f", "chr", "ord", "times", "upto", "downto", "step", "abs", "magnitude", "succ",
    "next", "pred", "even?", "odd?", "zero?", "nonzero?", "positive?", "negative?", "divmod", "div",
    "modulo", "fdiv", "pow", "floor", "ceil", "round", "truncate", "gcd", "lcm", "digits", "integer?",
    "finite?", "infinite?", "nan?", "bit_length",
    // strings and symbols
    "length", "size", "bytesize", "to_str", "to_sym", "intern", "to_proc", "id2name", "name", "strip",
    "lstrip", "rstrip", "chomp", "chop", "chars", "bytes", "lines", "upcase", "downcase", "capitalize",
    "swapcase", "start_with?", "end_with?", "include?", "index", "rindex", "gsub", "sub", "tr", "delete",
    "squeeze", "count", "split", "center", "ljust", "rjust", "reverse", "empty?", "hex", "oct", "each_char",
    "each_line", "concat", "prepend", "insert", "replace", "slice", "casecmp", "casecmp?", "delete_prefix",
    "delete_suffix", "partition", "rpartition", "ascii_only?", "valid_encoding?",
    // collections
    "at", "dig", "fetch", "first", "last", "any?", "all?", "none?", "one?", "member?", "find_index", "join",
    "rotate", "sort", "sort_by", "min", "max", "min_by", "max_by", "minmax", "sum", "uniq", "compact",
    "flatten", "push", "append", "pop", "shift", "unshift", "delete_at", "delete_if", "keep_if", "clear",
    "map", "collect", "flat_map", "collect_concat", "select", "filter", "reject", "filter_map", "find",
    "detect", "find_all", "each", "each_with_index", "each_with_object", "each_slice", "each_cons",
    "each_index", "with_index", "zip", "take", "drop", "take_while", "drop_while", "group_by", "tally",
    "inject", "reduce", "to_a", "entries", "to_h", "to_hash", "values_at", "keys", "values", "key", "key?",
    "has_key?", "value?", "has_value?", "store", "merge", "update", "each_pair", "each_key", "each_value",
    "transform_values", "transform_keys", "invert", "except", "cover?", "begin", "end", "exclude_end?",
    "reverse_each", "fill",
];

/// Methods whose names end in `!` change the receiver; these change it too.
#[rustfmt::skip]
pub(crate) const MUTATING: &[&str] = &[
    "<<", "[]=", "push", "append", "pop", "shift", "unshift", "prepend", "insert", "concat", "delete",
    "delete_at", "delete_if", "keep_if", "clear", "replace", "store", "update", "fill",
];

/// The Kernel functions a template may call without a receiver.
#[rustfmt::skip]
const FUNCTIONS: &[&str] = &[
    "Integer", "Float", "String", "Array", "format", "sprintf", "raise", "fail",
];

/// Whether `name` is a method berth implements (for some receiver).
pub(crate) fn is_method(name: &str) -> bool {
    match name.strip_suffix('!') {
        Some(base) if base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
            METHODS.contains(&base)
        }
        _ => METHODS.contains(&name),
    }
}

/// Whether calling `name` may change its receiver (so the result is written back).
pub(crate) fn is_mutating(name: &str) -> bool {
    (name.ends_with('!') && name != "!") || MUTATING.contains(&name)
}

/// Whether `name` is a Kernel function berth implements.
pub(crate) fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_lists() {
        assert!(is_method("gsub!") && is_method("strip") && !is_method("send") && !is_method("!!"));
        assert!(is_mutating("<<") && is_mutating("upcase!") && !is_mutating("!") && !is_mutating("upcase"));
    }
}
