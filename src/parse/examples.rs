//! Code examples inside READMEs: the byte ranges of Markdown ```` ```json ```` fences and
//! reStructuredText literal blocks, so that documented Sesam configs can be linted in
//! place, with positions in the README itself.

use std::ops::Range;

/// The contents of every ```` ```json ```` block (fence lines excluded), in order. An
/// unclosed block runs to the end of the text, as Markdown renders it.
pub fn json_blocks(text: &str) -> Vec<Range<usize>> {
    let mut blocks = Vec::new();
    let mut open: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let fence = line.trim();
        match open {
            None if fence.starts_with("```") && fence[3..].trim().eq_ignore_ascii_case("json") => {
                open = Some(offset + line.len());
            }
            Some(start) if fence.starts_with("```") => {
                blocks.push(start..offset);
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some(start) = open {
        blocks.push(start..text.len());
    }
    blocks
}

/// The contents of every reStructuredText literal block: after `.. code-block:: json`
/// (or `.. code::`, `.. sourcecode::`) or a paragraph ending in `::`, the indented lines
/// that follow.
pub fn rst_literal_blocks(text: &str) -> Vec<Range<usize>> {
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line))
        })
        .collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (_, line) = lines[i];
        let t = line.trim();
        let directive = [".. code-block::", ".. code::", ".. sourcecode::"]
            .iter()
            .any(|d| t.starts_with(d));
        if !(directive || (t.ends_with("::") && !t.starts_with(".."))) {
            i += 1;
            continue;
        }
        let base = indent(line);
        let mut j = i + 1;
        // Directive options (`:linenos:`) and blank lines come before the body.
        while j < lines.len()
            && (lines[j].1.trim().is_empty() || (directive && lines[j].1.trim().starts_with(':')))
        {
            j += 1;
        }
        let start = j;
        while j < lines.len() && (lines[j].1.trim().is_empty() || indent(lines[j].1) > base) {
            j += 1;
        }
        if start < j && start < lines.len() {
            let end = lines.get(j).map_or(text.len(), |(o, _)| *o);
            blocks.push(lines[start].0..end);
        }
        i = j.max(i + 1);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_fences_only() {
        let text = "# T\n```json\n{\"a\": 1}\n```\n```\nnot json\n```\n  ```JSON\n[1]\n";
        let blocks = json_blocks(text);
        let got: Vec<&str> = blocks.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(got, ["{\"a\": 1}\n", "[1]\n"]);
    }

    #[test]
    fn finds_rst_literal_blocks() {
        let text =
            "Intro::\n\n    {\"a\": 1}\n\nText\n\n.. code-block:: json\n   :linenos:\n\n  [1,\n   2]\nEnd\n";
        let blocks = rst_literal_blocks(text);
        let got: Vec<&str> = blocks.iter().map(|r| text[r.clone()].trim()).collect();
        assert_eq!(got, ["{\"a\": 1}", "[1,\n   2]"]);
    }
}
