//! ERB for COSMOS `plugin.txt`: renders a template exactly as Ruby's ERB with
//! `trim_mode: "-"` does after COSMOS's `comment_erb` pre-pass, by evaluating a subset of
//! Ruby, and maps the output back to the template.
//!
//! Pipeline: `template` (scan text and tags) → `stream` (splice them into one token
//! stream, as ERB splices them into one Ruby program; `lexer` lexes each tag's code) →
//! `parser` (one syntax tree, `ast`) → `eval` (run it; `methods` are the built-in
//! methods, `value` the runtime values). Everything outside the subset is reported
//! before anything runs. The module does no I/O; every limit (nesting, steps, output
//! size) turns into an error, never a panic or a stack overflow.

// A library: it returns what it finds and never prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod ast;
mod eval;
mod flow;
mod lexer;
mod methods;
mod names;
mod parser;
mod stack;
mod stream;
mod template;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

pub use template::{Tag, TagKind};

/// The stable codes of `ErbError`.
pub mod codes {
    /// A construct or method outside the Ruby subset berth evaluates.
    pub const UNSUPPORTED: &str = "berth::erb::unsupported";
    /// Ruby code that does not parse (including `if` without `end` across tags).
    pub const SYNTAX: &str = "berth::erb::syntax";
    /// An exception while the template runs (NameError, NoMethodError, TypeError...).
    pub const RUNTIME: &str = "berth::erb::runtime";
    /// A `<%` without its `%>`.
    pub const UNTERMINATED_TAG: &str = "berth::erb::unterminated-tag";
    /// A limit berth sets: nesting depth, evaluation steps or output size.
    pub const LIMIT: &str = "berth::erb::limit";
    /// A binding whose name Ruby cannot bind as a local variable.
    pub const INVALID_VARIABLE_NAME: &str = "berth::erb::invalid-variable-name";
}

/// What the template's Ruby code can see.
pub struct Bindings<'a> {
    /// Local variables, all Strings (COSMOS binds each VARIABLE, plus `scope`).
    pub locals: &'a BTreeMap<String, String>,
    /// What `ENV['X']` and `ENV.fetch` read; a missing name is nil.
    pub env: &'a BTreeMap<String, String>,
}

/// A rendered template.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The output, without the final newline COSMOS's `file.puts` adds when it is missing.
    pub text: String,
    /// Where each part of `text` came from.
    pub map: SourceMap,
}

/// Maps byte offsets of the rendered output back to byte offsets of the template.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// In output order, covering the output without gaps.
    segments: Vec<Segment>,
    template_len: usize,
}

/// One run of output and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// The output bytes.
    pub out: Range<usize>,
    /// Literal text: the template bytes, 1:1. Otherwise the whole `<%= %>` tag.
    pub origin: Range<usize>,
    /// Literal text rather than a tag's output.
    pub literal: bool,
}

impl SourceMap {
    /// The template byte range for an output byte range: literal text maps 1:1; output
    /// produced by a `<%= %>` tag maps to that whole tag's span. A range that spans
    /// several segments maps to the smallest range covering all their origins; an empty
    /// range maps to a position.
    pub fn to_template(&self, out: Range<usize>) -> Range<usize> {
        let first = self.segments.partition_point(|s| s.out.end <= out.start);
        let mut covered: Option<Range<usize>> = None;
        for s in self.segments[first..]
            .iter()
            .take_while(|s| s.out.start < out.end)
        {
            let part = if s.literal {
                let from = out.start.max(s.out.start) - s.out.start;
                let to = out.end.min(s.out.end) - s.out.start;
                s.origin.start + from..s.origin.start + to
            } else {
                s.origin.clone()
            };
            covered = Some(match covered {
                Some(c) => c.start.min(part.start)..c.end.max(part.end),
                None => part,
            });
        }
        covered.unwrap_or_else(|| {
            let at = self.position(out.start);
            at..at
        })
    }

    /// The template position of output position `at`.
    fn position(&self, at: usize) -> usize {
        let i = self.segments.partition_point(|s| s.out.end <= at);
        match self.segments.get(i) {
            Some(s) if s.out.start <= at && s.literal => s.origin.start + (at - s.out.start),
            Some(s) if s.out.start <= at => s.origin.start,
            _ => match i.checked_sub(1).and_then(|j| self.segments.get(j)) {
                Some(s) => s.origin.end,
                None => self.template_len.min(at),
            },
        }
    }
}

/// A problem with a template, located in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErbError {
    /// Byte range in the template.
    pub span: Range<usize>,
    /// Stable code, one of `codes`.
    pub code: &'static str,
    /// What went wrong; runtime errors read like Ruby's (`NameError: ...`).
    pub message: String,
    /// What to do about it, when there is something to say.
    pub help: Option<String>,
}

impl ErbError {
    pub(crate) fn new(
        span: Range<usize>,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) -> ErbError {
        ErbError {
            span,
            code,
            message,
            help,
        }
    }
}

impl fmt::Display for ErbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {}..{})", self.message, self.span.start, self.span.end)
    }
}

impl std::error::Error for ErbError {}

/// Renders `template` with `bindings`. Errors: every syntax error and unsupported
/// construct of the whole template, or else the first runtime error.
pub fn render(template: &str, bindings: &Bindings) -> Result<Rendered, Vec<ErbError>> {
    let mut errors: Vec<ErbError> = bindings
        .locals
        .keys()
        .filter(|name| !is_local_variable_name(name))
        .map(|name| {
            ErbError::new(
                0..0,
                codes::INVALID_VARIABLE_NAME,
                format!("NameError: wrong local variable name '{name}'"),
                Some(
                    "ERB variables must be valid Ruby local variable names: lowercase or `_` first"
                        .to_string(),
                ),
            )
        })
        .collect();
    let names: Vec<&str> = bindings.locals.keys().map(String::as_str).collect();
    let scanned = template::scan(template);
    let parsed = parse(template, &scanned, &names);
    errors.extend(parsed.errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.span.start);
        return Err(errors);
    }
    let locals = bindings
        .locals
        .values()
        .map(|v| value::Value::str(v.as_str()))
        .collect();
    let mut interp = eval::Interp::new(template, &scanned, bindings.env, locals);
    interp.run(&parsed.program).map_err(|e| vec![e])?;
    let (text, segments) = interp.into_output();
    let map = SourceMap {
        segments,
        template_len: template.len(),
    };
    Ok(Rendered { text, map })
}

/// Scans `template` without evaluating it: every tag with its kind and span, and the
/// unterminated-tag error if there is one.
pub fn scan(template: &str) -> (Vec<Tag>, Vec<ErbError>) {
    let scanned = template::scan(template);
    (scanned.tags, scanned.errors)
}

/// Names the template's Ruby code reads as local variables where none is assigned
/// (Ruby resolves locals in reading order, and blocks have their own scope), with the
/// span of each read. These must come from the bindings, or Ruby raises NameError.
pub fn free_identifiers(template: &str) -> Vec<(String, Range<usize>)> {
    let scanned = template::scan(template);
    parse(template, &scanned, &[]).free
}

/// Splices and parses a scanned template; the errors include the scanner's.
fn parse(template: &str, scanned: &template::Scanned, locals: &[&str]) -> parser::Parsed {
    let stream = stream::splice(template, scanned);
    let spans: Vec<Range<usize>> = scanned.items.iter().map(|i| i.span(&scanned.tags)).collect();
    let mut parsed = parser::parse(stream.tokens, locals, &spans);
    let mut errors = scanned.errors.clone();
    errors.extend(stream.errors);
    errors.append(&mut parsed.errors);
    parsed.errors = errors;
    parsed
}

/// Whether Ruby's `local_variable_set` accepts `name`: a lowercase letter, `_` or a
/// non-ASCII lowercase character first, then letters, digits and `_`.
fn is_local_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_' || (!c.is_ascii() && !c.is_uppercase()));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the corpus test reads the shared corpus files
mod tests {
    use super::*;

    fn locals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn render_with(
        template: &str,
        vars: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Result<Rendered, Vec<ErbError>> {
        let (locals, env) = (locals(vars), locals(env));
        render(
            template,
            &Bindings {
                locals: &locals,
                env: &env,
            },
        )
    }

    /// Renders `template` with `vars` and checks the text.
    #[track_caller]
    fn check(template: &str, vars: &[(&str, &str)], expected: &str) {
        match render_with(template, vars, &[]) {
            Ok(r) => assert_eq!(r.text, expected, "template: {template:?}"),
            Err(e) => panic!("template {template:?} failed: {e:#?}"),
        }
    }

    /// Renders `template` and returns the first error's code and message.
    #[track_caller]
    fn fail(template: &str, vars: &[(&str, &str)]) -> ErbError {
        match render_with(template, vars, &[]) {
            Ok(r) => panic!("template {template:?} rendered {:?}", r.text),
            Err(mut e) => e.remove(0),
        }
    }

    // ---- constructs ------------------------------------------------------------------

    #[test]
    fn text_and_output() {
        check("plain\ntext", &[], "plain\ntext");
        check("A<%= x %>_INT", &[("x", "INST")], "AINST_INT");
        check("<%= %>|<%= nil %>|<%= x if false %>|<%= 1; 2 %>", &[], "|||2");
        check("<%=x%>", &[("x", "y")], "y");
    }

    #[test]
    fn literals_and_to_s() {
        check(
            "<%= 2.0 * 3600 %> <%= 0.5 %> <%= 1e20 %> <%= 0.00001 %> <%= 1.0 / 3 %>",
            &[],
            "7200.0 0.5 1.0e+20 1.0e-05 0.3333333333333333",
        );
        check(
            "<%= [1, 'a', nil, :s, 2.5] %> <%= {a: 1, 'b' => [2]} %> <%= :sym %> <%= (1..3) %>",
            &[],
            r#"[1, "a", nil, :s, 2.5] {a: 1, "b" => [2]} sym 1..3"#,
        );
        check(
            r#"<%= "a#{1 + 1}b" %> <%= 'a#{1}' %> <%= "tab\there" %> <%= %w[x y].join('-') %>"#,
            &[],
            "a2b a#{1} tab\there x-y",
        );
        check(
            "<%= 0x1F %> <%= 1_000 %> <%= -5.abs %> <%= ?a %> <%= %i[a b] %>",
            &[],
            "31 1000 5 a [:a, :b]",
        );
    }

    #[test]
    fn arithmetic_is_rubys() {
        check(
            "<%= 7 / 2 %> <%= -7 / 2 %> <%= -7 % 3 %> <%= 7.0 / 2 %> <%= 2 ** 10 %> <%= 10.fdiv(4) %>",
            &[],
            "3 -4 2 3.5 1024 2.5",
        );
        check(
            "<%= 1 + 2 * 3 - 4 %> <%= (1 + 2) * 3 %> <%= -2 ** 2 %> <%= 2 ** 3 ** 2 %>",
            &[],
            "3 9 -4 512",
        );
        check(
            "<%= [0.1, 0.2, 0.3].sum %> <%= 3.7.round %> <%= 3.14159.round(2) %> <%= 10.0.to_i %>",
            &[],
            "0.6 4 3.14 10",
        );
        check(
            "<%= 1 == 1.0 %> <%= 1.eql?(1.0) %> <%= 2 <=> 1 %> <%= 'a' < 'b' %>",
            &[],
            "true false 1 true",
        );
    }

    #[test]
    fn logic_and_truthiness() {
        check(
            "<%= nil || 'd' %> <%= 'x' && 'y' %> <%= !nil %> <%= (true and false) %> <%= (not true) %>",
            &[],
            "d y true false false",
        );
        // Strings, even "false" and "", are truthy: COSMOS variables are Strings.
        check(
            "<% if flag %>yes<% end %><% if '' %>!<% end %>",
            &[("flag", "false")],
            "yes!",
        );
        check("<%= x ? 'a' : 'b' %><%= nil ? 1 : 2 %>", &[("x", "")], "a2");
    }

    #[test]
    fn control_flow_spans_tags() {
        let t = "<% if n == '1' %>one<% elsif n == '2' %>two<% else %>many<% end %>";
        check(t, &[("n", "1")], "one");
        check(t, &[("n", "2")], "two");
        check(t, &[("n", "3")], "many");
        check(
            "<% unless x.empty? %>set<% else %>empty<% end %>",
            &[("x", "")],
            "empty",
        );
        check("<% (1..3).each do |i| %>I<%= i %>,<% end %>", &[], "I1,I2,I3,");
        check("<% (1...3).each do |i| %><%= i %><% end %>", &[], "12");
        check(
            "<% %w[a b].each_with_index do |x, i| %><%= i %>=<%= x %> <% end %>",
            &[],
            "0=a 1=b ",
        );
        check(
            "<% {a: 1, b: 2}.each do |k, v| %><%= k %>:<%= v %>;<% end %>",
            &[],
            "a:1;b:2;",
        );
        check(
            "<% 3.times do |i| %><%= i %><% end %>|<% 2.upto(4) { |i| %><%= i %><% } %>",
            &[],
            "012|234",
        );
        check(
            "<% case x when 'a' %>A<% when 'b', 'c' %>BC<% else %>E<% end %>",
            &[("x", "c")],
            "BC",
        );
        check("<% case when x.empty? then %>E<% end %>", &[("x", "")], "E");
    }

    #[test]
    fn blocks_inside_one_tag() {
        check("<%= [1, 2, 3].map { |x| x * 2 }.join(',') %>", &[], "2,4,6");
        check(
            "<%= [3, 1, 2].sort.reverse.inspect %> <%= [1, 2, 3, 4].select(&:even?).inspect %>",
            &[],
            "[3, 2, 1] [2, 4]",
        );
        check(
            "<%= [1, 2].map { it * 10 }.sum %> <%= %w[a b].each_with_index.map { |x, i| x * (i + 1) }.join %>",
            &[],
            "30 abb",
        );
        check(
            "<%= {a: 1, b: 2}.map { |k, v| \"#{k}=#{v}\" }.join('&') %>",
            &[],
            "a=1&b=2",
        );
        check(
            "<%= (1..5).map { |i| next 0 if i.odd?; i }.inspect %> <%= (1..).each { |i| break i if i > 3 } %>",
            &[],
            "[0, 2, 0, 4, 0] 4",
        );
        check(
            "<%= [[1, 'a'], [2, 'b']].each_with_index.map { |(n, s), i| \"#{i}#{n}#{s}\" }.join(' ') %>",
            &[],
            "01a 12b",
        );
    }

    #[test]
    fn variables_follow_rubys_scoping() {
        check(
            "<% x = 1 %><% x += 2 %><%= x %> <% y ||= 'd' %><%= y %>",
            &[],
            "3 d",
        );
        // Assigned in a branch that never ran: declared, so nil.
        check("<% if false %><% z = 1 %><% end %><%= z.inspect %>", &[], "nil");
        check("<% a, b = 1, 2 %><%= b %><%= a %>", &[], "21");
        check("<% $g = 5 %><%= $g %>|<%= $unset.inspect %>", &[], "5|nil");
        check("<% t = 0 %><% [1, 2].each { |i| t += i } %><%= t %>", &[], "3");
        let e = fail("<% [1].each { |i| z = i } %><%= z %>", &[]);
        assert_eq!(
            e.message,
            "NameError: undefined local variable or method 'z' for main"
        );
        assert_eq!(e.span, 32..33);
    }

    #[test]
    fn mutation_writes_back() {
        check(
            "<% list = [] %><% 3.times { |i| list << i } %><%= list.inspect %>",
            &[],
            "[0, 1, 2]",
        );
        check(
            "<% h = {} %><% h[:a] = 1 %><% h['b'] ||= [] %><% h['b'] << 2 %><%= h %>",
            &[],
            r#"{a: 1, "b" => [2]}"#,
        );
        check("<% s = +'a' %><% s << 'b' %><% s.upcase! %><%= s %>", &[], "AB");
        check(
            "<%= [1, 2].each_with_object([]) { |x, acc| acc << x * 2 }.inspect %>",
            &[],
            "[2, 4]",
        );
    }

    #[test]
    fn string_methods() {
        check(
            "<%= 'A__B_C'.downcase.gsub('__', '-').gsub('_', '-') %> <%= '  x '.strip %>|<%= 'a,b,,'.split(',').inspect %>",
            &[],
            "a-b-c x|[\"a\", \"b\"]",
        );
        check(
            "<%= '12abc'.to_i %> <%= 'abc'.to_i %> <%= '3.5kg'.to_f %> <%= 'x'.to_sym.inspect %>",
            &[],
            "12 0 3.5 :x",
        );
        check(
            "<%= 'hello'.capitalize %> <%= 'Hi'.swapcase %> <%= 'abc'.reverse %> <%= 'abc'[1] %> <%= 'abcdef'[1, 3] %> <%= 'abcdef'[2..] %>",
            &[],
            "Hello hI cba b bcd cdef",
        );
        check(
            "<%= 'a b  c'.split.length %> <%= 'x'.center(5, '*') %> <%= 'ab'.ljust(4, '.') %>|<%= 'line\n'.chomp %>|",
            &[],
            "3 **x** ab..|line|",
        );
        check(
            "<%= 'abc'.start_with?('ab') %> <%= 'abc'.end_with? 'bc' %> <%= 'abc'.include?('d') %> <%= ''.empty? %> <%= 'é'.length %>",
            &[],
            "true true false true 1",
        );
        check(
            "<%= 'a-b'.tr('-', '_') %> <%= 'hello'.sub('l', 'L') %> <%= 'a.b'.gsub('.', '\\\\0\\\\0') %>",
            &[],
            "a_b heLlo a..b",
        );
        check(
            "<%= format('%05.1f|%-3s|%x', 3.14159, 'a', 255) %> <%= '%d-%s' % [1, 'a'] %>",
            &[],
            "003.1|a  |ff 1-a",
        );
    }

    #[test]
    fn collection_methods() {
        check(
            "<%= [3, 1, 2].min %><%= [3, 1, 2].max %> <%= [1, 2, 2].uniq.size %> <%= [1, nil].compact %> <%= [[1], [2, [3]]].flatten %>",
            &[],
            "13 2 [1] [1, 2, 3]",
        );
        check(
            "<%= {b: 1, a: 2}.keys.inspect %> <%= {a: 1}.values %> <%= {a: 1}[:a] %> <%= {a: 1}.fetch(:b, 0) %> <%= {a: {b: 1}}.dig(:a, :b) %>",
            &[],
            "[:b, :a] [1] 1 0 1",
        );
        check(
            "<%= (1..10).select(&:even?).first(2).inspect %> <%= (1..4).sum %> <%= (1..4).to_a.last %> <%= [1, 2, 3].inject(:+) %>",
            &[],
            "[2, 4] 10 4 6",
        );
        check(
            "<%= %w[b a].sort_by { |s| s } %> <%= %w[a bb].group_by(&:size) %> <%= [1, 2, 3].partition(&:odd?) %>",
            &[],
            r#"["a", "b"] {1 => ["a"], 2 => ["bb"]} [[1, 3], [2]]"#,
        );
    }

    #[test]
    fn env_is_read_only_and_may_be_missing() {
        let t = "<%= ENV['CI'].inspect %> <%= ENV[\"HOME\"] %> <%= ENV.fetch('X', 'dflt') %> <% if ENV['CI'] %>ci<% end %>";
        assert_eq!(
            render_with(t, &[], &[("HOME", "/h")]).unwrap().text,
            "nil /h dflt "
        );
        assert_eq!(
            render_with(t, &[], &[("CI", "1"), ("HOME", "/h")]).unwrap().text,
            "\"1\" /h dflt ci"
        );
        assert_eq!(fail("<% ENV['X'] = 'y' %>", &[]).code, codes::UNSUPPORTED);
    }

    // ---- trim mode, escapes, comments ---------------------------------------------------

    #[test]
    fn trim_mode_dash() {
        check("a\n  <%- if true -%>\nb\n  <%- end -%>\nc", &[], "a\nb\nc");
        check("x <%- if true %>y<% end %>", &[], "x y");
        check("<% x = 1 -%>\n<%= x -%>\n.", &[], "1.");
        check("a -%>\nb", &[], "a -%>\nb");
    }

    #[test]
    fn escapes() {
        check("<%%= x %> <%= '%%>' %>", &[], "<%= x %> %>");
    }

    #[test]
    fn comment_erb_prepass() {
        check("# c <%= x %>\nK <%= x %>", &[("x", "v")], "# c \nK v");
        check("  # <% foo %>\n", &[], "  # \n");
        // A `%` before the `<%`, and trailing comments, do not make the line a comment.
        check("# 100% <%= x %>", &[("x", "v")], "# 100% v");
        check("KEY P # <%= x %>", &[("x", "v")], "KEY P # v");
        // The nasa plugin: a commented-out call to a method that does not exist.
        check(
            "# <% cfs_globals_set_eds_enabled(cfs_eds_enabled) %>\nok",
            &[],
            "# \nok",
        );
        check("<%# comment %>x<%# multi\nline %>y", &[], "xy");
    }

    #[test]
    fn ruby_comments_comment_out_the_rest_of_the_generated_line() {
        // ERB puts the following text on the same line of its Ruby program.
        check("a<% # note %>b\nc<% x = 1 %><%= x %>", &[], "a1");
        check("a<% x = 1 # note\n%>b", &[], "ab");
    }

    // ---- source map ------------------------------------------------------------------------

    #[test]
    fn source_map_points_into_the_template() {
        let t = "TARGET <%= name %> X_<%= n %>_INT\n";
        let r = render_with(t, &[("name", "INST"), ("n", "2")], &[]).unwrap();
        assert_eq!(r.text, "TARGET INST X_2_INT\n");
        // Literal text maps 1:1.
        assert_eq!(r.map.to_template(0..6), 0..6);
        // Output of a tag maps to the whole tag.
        assert_eq!(r.map.to_template(7..11), 7..18);
        // A token after an output: `_INT` follows `<%= n %>`.
        let at = r.text.find("_INT").unwrap();
        assert_eq!(
            r.map.to_template(at..at + 4),
            t.find("_INT").unwrap()..t.find("_INT").unwrap() + 4
        );
        // A token glued to an output covers both.
        assert_eq!(r.map.to_template(12..19), 19..33);
        // Empty ranges map to positions; past the end stays in bounds.
        assert_eq!(r.map.to_template(3..3), 3..3);
        assert_eq!(r.map.to_template(100..200), t.len()..t.len());
    }

    #[test]
    fn source_map_through_loops_and_escapes() {
        let t = "<% 2.times do %>ab<% end %><%% z";
        let r = render_with(t, &[], &[]).unwrap();
        assert_eq!(r.text, "ababbc<% z".replace("bc", ""));
        assert_eq!(r.map.to_template(2..4), 16..18);
        // `<%%` outputs `<%` from its first two bytes; what follows keeps its offset.
        assert_eq!(r.map.to_template(4..6), 27..29);
        assert_eq!(r.map.to_template(7..8), 31..32);
    }

    // ---- errors -------------------------------------------------------------------------------

    #[test]
    fn unsupported_constructs_name_themselves_on_their_tag() {
        let cases = [
            ("<% require 'x' %>", "`require`"),
            ("<%= cfs_get_port_num_tlm(x) %>", "calling `cfs_get_port_num_tlm`"),
            ("<%= render '_part.txt' %>", "`render` of a partial file"),
            ("<%= 'a'.gsub(/a/, 'b') %>", "a regular expression literal"),
            ("<% def f; end %>", "defining a method (`def`)"),
            ("<% class A; end %>", "a `class` definition"),
            ("<%= `ls` %>", "a backtick shell command"),
            ("<%= eval('1') %>", "calling `eval`"),
            ("<%= File.read('x') %>", "the constant `File`"),
            ("<% system('ls') %>", "calling `system`"),
            ("<% while true do end %>", "a `while`/`until` loop"),
            ("<% loop do end %>", "calling `loop`"),
            ("<%= 'a'.frobnicate %>", "the method `frobnicate`"),
        ];
        for (t, what) in cases {
            let e = fail(t, &[("x", "1")]);
            assert_eq!(e.code, codes::UNSUPPORTED, "{t}");
            assert_eq!(
                e.message,
                format!("{what} is outside the Ruby subset berth evaluates"),
                "{t}"
            );
            assert_eq!(e.span, 0..t.len(), "{t}");
            assert!(e.help.is_some());
        }
    }

    #[test]
    fn every_static_error_is_reported() {
        let t = "<% require 'a' %>\n<% x = %>\n<%= foo(1) %>\n<% if y %>\n";
        let errors = render_with(t, &[("y", "1")], &[]).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.code, &t[e.span.clone()])).collect();
        assert_eq!(
            found,
            [
                (codes::UNSUPPORTED, "<% require 'a' %>"),
                (codes::SYNTAX, "<% x = %>"),
                (codes::UNSUPPORTED, "<%= foo(1) %>"),
                (codes::SYNTAX, "<% if y %>"),
            ]
        );
        assert_eq!(errors[3].message, "this `if` is never closed with `end`");
    }

    #[test]
    fn syntax_and_tag_errors() {
        let e = fail("a <% if x", &[]);
        assert_eq!((e.code, e.span), (codes::UNTERMINATED_TAG, 2..9));
        let e = fail("<% end %>", &[]);
        assert_eq!((e.code, e.span), (codes::SYNTAX, 3..6));
        let e = fail("<% [1].each do |i| %>x", &[]);
        assert_eq!(
            (e.code, e.span, e.message.as_str()),
            (codes::SYNTAX, 0..21, "this `do` is never closed with `end`")
        );
        assert_eq!(fail("<%= 'abc %>", &[]).message, "unterminated string literal");
        assert_eq!(fail("<%= a # c %>", &[("a", "")]).code, codes::SYNTAX);
    }

    #[test]
    fn runtime_errors_are_rubys_and_stop_at_the_first() {
        let e = fail("ok <%= undefined_thing %> <%= 1 + 'a' %>", &[]);
        assert_eq!(
            e.message,
            "NameError: undefined local variable or method 'undefined_thing' for main"
        );
        assert_eq!(e.span, 7..22);
        assert_eq!(
            fail("<%= nil.strip %>", &[]).message,
            "NoMethodError: undefined method 'strip' for nil"
        );
        assert_eq!(
            fail("<%= 1 + 'a' %>", &[]).message,
            "TypeError: String can't be coerced into Integer"
        );
        assert_eq!(
            fail("<%= 'a' + 1 %>", &[]).message,
            "TypeError: no implicit conversion of Integer into String"
        );
        assert_eq!(
            fail("<%= 1 / 0 %>", &[]).message,
            "ZeroDivisionError: divided by 0"
        );
        assert_eq!(
            fail("<% raise 'bad value' %>", &[]).message,
            "RuntimeError: bad value"
        );
        assert_eq!(
            fail("<%= {}.fetch(:k) %>", &[]).message,
            "KeyError: key not found: :k"
        );
        assert_eq!(fail("<%= 2 ** 64 %>", &[]).code, codes::UNSUPPORTED);
        assert_eq!(
            fail("<%= 9223372036854775807 + 1 %>", &[]).code,
            codes::UNSUPPORTED
        );
    }

    #[test]
    fn invalid_variable_names_fail_like_local_variable_set() {
        let e = fail("x", &[("<%=", "1"), ("Upper", "2")]);
        assert_eq!(e.code, codes::INVALID_VARIABLE_NAME);
        check("<%= ünï %><%= _x %>", &[("ünï", "a"), ("_x", "b")], "ab");
    }

    #[test]
    fn limits_end_runaway_templates() {
        assert_eq!(
            fail("<% (1..nil).each do |i| %><% end %>", &[]).code,
            codes::LIMIT
        );
        assert_eq!(fail("<% (1..).each { } %>", &[]).code, codes::LIMIT);
        assert_eq!(
            fail("<% 100.times do %><%= 'x' * 1_000_000 %><% end %>", &[]).code,
            codes::LIMIT
        );
        assert_eq!(fail("<%= ('x' * 1_000_000) * 1_000 %>", &[]).code, codes::LIMIT);
        assert_eq!(fail("<%= (1..100_000_000).to_a.size %>", &[]).code, codes::LIMIT);
        assert_eq!(
            fail("<% a = [] %><% 100.times { a = [a] } %>", &[]).code,
            codes::LIMIT
        );
    }

    // ---- scan and free identifiers -------------------------------------------------------------

    #[test]
    fn scan_lists_every_tag() {
        let (tags, errors) = scan("a <%= x %> <%% <% y -%>\n# <%= z %>\n<%# c %>");
        assert!(errors.is_empty());
        let kinds: Vec<_> = tags.iter().map(|t| (t.kind, t.commented_out)).collect();
        assert_eq!(
            kinds,
            [
                (TagKind::Output, false),
                (TagKind::Escape, false),
                (TagKind::Code, false),
                (TagKind::Comment, true),
                (TagKind::Comment, false),
            ]
        );
        assert_eq!((tags[0].span.clone(), tags[0].code_span.clone()), (2..10, 5..8));
        assert!(tags[2].trim_end);
    }

    #[test]
    fn free_identifiers_are_the_unassigned_reads() {
        let t = "<% a = b %><%= a %><%= c.to_s %><% [1].each { |i| %><%= i %><%= d %><% } %><% if e %><% end %><%= f(1) %>";
        let names: Vec<_> = free_identifiers(t)
            .into_iter()
            .map(|(n, s)| (n, &t[s]))
            .map(|(n, s)| format!("{n}@{s}"))
            .collect();
        assert_eq!(names, ["b@b", "c@c", "d@d", "e@e"]);
    }

    // ---- robustness -------------------------------------------------------------------------

    /// Runs `f` on a thread with a 2 MiB stack, the smallest berth promises to work on.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic");
    }

    /// Checks that every span of every answer lies inside `template`, on char boundaries.
    fn assert_sane(template: &str) {
        let inside = |r: &Range<usize>| {
            r.start <= r.end
                && r.end <= template.len()
                && template.is_char_boundary(r.start)
                && template.is_char_boundary(r.end)
        };
        match render_with(template, &[("x", "1"), ("y", "a b")], &[("E", "e")]) {
            Ok(r) => {
                for start in (0..=r.text.len()).step_by(7) {
                    for len in [0, 1, 5] {
                        let mapped = r.map.to_template(start..(start + len).min(r.text.len()));
                        assert!(
                            mapped.start <= mapped.end && mapped.end <= template.len(),
                            "{template:?}: {mapped:?}"
                        );
                    }
                }
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                for e in errors {
                    assert!(inside(&e.span), "{template:?}: {e:?}");
                }
            }
        }
        let (tags, errors) = scan(template);
        assert!(
            tags.iter().all(|t| inside(&t.span) && inside(&t.code_span)),
            "{template:?}"
        );
        assert!(errors.iter().all(|e| inside(&e.span)), "{template:?}");
        assert!(
            free_identifiers(template).iter().all(|(_, s)| inside(s)),
            "{template:?}"
        );
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        }
    }

    #[test]
    fn random_templates_never_panic() {
        // Pieces of templates and Ruby, glued at random. (No `..`: an endless range would
        // only spend the whole step budget, slowly, in a debug build.)
        #[rustfmt::skip]
        const FRAGMENTS: &[&str] = &[
            "<%", "%>", "<%=", "<%#", "<%-", "-%>", "<%%", "%%>", " ", "\n", "\r\n", "\t", "#", "# ", "x",
            "y", "z", "=", "==", "(", ")", "[", "]", "{", "}", "|", "|i|", "\"", "'", "#{", "1", "2", "3.5",
            "+", "-", "*", "/", "%", "**", "<<", "if", "elsif", "else", "end", "unless", "case", "when",
            "do", "each", "map", "times", ".", ",", ":", "::", "?", "!", "&&", "||", "and", "not", "nil",
            "true", "$g", "@i", "ENV", "['E']", "to_s", "strip", "upcase", "split", "join",
            "gsub('a', 'b')", "def", "while", "require", "`", "/", "%w[", "=begin", "é", "\u{1F600}", "\\",
            "\0", "next", "break", "it", "_1", "->", "<<~E", "0x", "1e", "?a", "&.", "&:to_s",
        ];
        on_small_stack(|| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            for _ in 0..3000 {
                let n = rng.below(40);
                let t: String = (0..n).map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())]).collect();
                assert_sane(&t);
            }
            for _ in 0..500 {
                let bytes: Vec<u8> = (0..rng.below(80))
                    .map(|_| b"<%=-#>{}()\"'\n x1.|"[rng.below(18)])
                    .chain([0xC3, 0xA9])
                    .collect();
                assert_sane(&String::from_utf8_lossy(&bytes));
            }
        });
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        on_small_stack(|| {
            let n = 10_000;
            let r = |s: &str| s.repeat(n);
            let shapes = [
                format!("<%= {}1{} %>", r("("), r(")")),
                format!("<%= {}{} %>", r("["), r("]")),
                format!("<%= {}1{} %>", r("{a: "), r("}")),
                format!("{}{}", r("<% if x %>"), r("<% end %>")),
                format!("{}{}", r("<% [1].each do |i| %>"), r("<% end %>")),
                format!("<%= {} %>", r("[1].each { |a| ")),
                format!("<%= {}x %>", r("!")),
                format!("<%= {}x %>", r("- ")),
                format!("<%= x{} %>", r(".to_s")),
                format!("<%= x{} %>", r("[0]")),
                format!("<%= 1{} %>", r(" + 1")),
                format!("<%= 1{} %>", r(" ** 1")),
                format!("<% {}1 %>", r("a = ")),
                format!("<%= {}1{} %>", r("x ? "), r(" : 2")),
                format!("<%= {}x %>", r("not ")),
                format!("<%= x{} %>", r(" and x")),
                format!("<% x{} %>", r(" if x")),
                format!("<%= {}1{} %>", r("\"#{"), r("}\"")),
                format!("<%= {}x{} %>", r("defined?("), r(")")),
                format!("<%= {}1{} %>", r("case x when 1 then "), r(" end")),
                format!("<%= {} %>", r("(")),
                format!("<%= {}1{} %>", r("f("), r(")")),
                format!("<%= {}1{} %>", r("x["), r("]")),
                format!("<% {}1{} %>", r("def f; "), r("; end")),
            ];
            for t in &shapes {
                assert!(render_with(t, &[("x", "1")], &[]).is_err(), "{}", &t[..40]);
                assert_sane(t);
            }
            // A long `elsif` chain is flat, not deep.
            let elsifs = format!("<% if x %>{}<% end %>", r("<% elsif x %>a"));
            assert_eq!(render_with(&elsifs, &[("x", "1")], &[]).unwrap().text, "");
        });
    }

    #[test]
    fn the_deepest_accepted_templates_run_on_a_small_stack() {
        on_small_stack(|| {
            let shapes: [fn(usize) -> String; 6] = [
                |n| format!("<%= {}1{} %>", "(".repeat(n), ")".repeat(n)),
                |n| format!("<%= {}1{} %>", "[".repeat(n), "]".repeat(n)),
                |n| format!("{}x{}", "<% if x %>".repeat(n), "<% end %>".repeat(n)),
                |n| {
                    format!(
                        "{}<%= a %>{}",
                        "<% [1].each do |a| %>".repeat(n),
                        "<% end %>".repeat(n)
                    )
                },
                |n| format!("<%= {}1{} %>", "[1].map { |a| ".repeat(n), " }".repeat(n)),
                |n| format!("<%= {}1{} %>", "\"#{".repeat(n), "}\"".repeat(n)),
            ];
            for shape in shapes {
                let mut accepted = 0;
                for n in 1..=parser::MAX_HEIGHT as usize + 1 {
                    match render_with(&shape(n), &[("x", "1")], &[]) {
                        Ok(_) => accepted = n,
                        Err(e) => {
                            assert_eq!(e[0].code, codes::LIMIT, "{:?}", e[0]);
                            break;
                        }
                    }
                }
                assert!(accepted >= 16, "at least 16 levels of {:?}", shape(1));
            }
        });
    }

    #[test]
    fn large_templates_take_linear_time() {
        let plain = "TARGET INST INST\n".repeat(600_000);
        assert_eq!(render_with(&plain, &[], &[]).unwrap().text.len(), plain.len());
        let tags = "<%= x %> <% if x %>y<% end %>\n".repeat(100_000);
        assert_eq!(
            render_with(&tags, &[("x", "ab")], &[]).unwrap().text.len(),
            100_000 * 5
        );
        let unsupported = "<% require 'x' %>".repeat(100_000);
        assert_eq!(render_with(&unsupported, &[], &[]).unwrap_err().len(), 100_000);
        let lts = "<".repeat(1_000_000) + &"%>".repeat(1_000_000) + "# <%" + &"%%>".repeat(1_000_000);
        assert_sane(&lts);
    }
}
