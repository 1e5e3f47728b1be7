//! Pathname expansion: a field with unquoted `*`, `?` or `[...]` becomes the sorted names
//! of the files it matches, or stays as written when it matches none. Names starting with
//! `.` match only a pattern whose component starts with a literal `.`.

/// A pattern character and whether it may act as a wildcard (it came from unquoted text).
pub type PatternChar = (char, bool);

/// What pathname expansion needs from the file system.
pub trait Dirs {
    /// The names in directory `dir` (`.` for the current one), or `None` if it is not a
    /// readable directory.
    fn list(&self, dir: &str) -> Option<Vec<String>>;
}

fn is_wildcard(&(c, active): &PatternChar) -> bool {
    active && matches!(c, '*' | '?' | '[')
}

/// Whether `pattern` has a wildcard, so that it needs expanding: `*`, `?`, or a `[` that a
/// `]` closes (a lone `[`, as in `[ -n x ]`, is literal and costs no directory listing).
pub fn has_wildcard(pattern: &[PatternChar]) -> bool {
    pattern
        .iter()
        .enumerate()
        .any(|(i, pc)| is_wildcard(pc) && (pc.0 != '[' || bracket(&pattern[i..], '\0').is_some()))
}

/// Matches `[...]` at the start of `pattern` against `c`: `Some((matched, length))`, or
/// `None` when there is no closing `]` (the `[` is then literal).
fn bracket(pattern: &[PatternChar], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(('!' | '^', _)));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &(low, _) = pattern.get(i)?;
        if low == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        if let (Some(('-', _)), Some(&(high, _))) = (pattern.get(i + 1), pattern.get(i + 2))
            && high != ']'
        {
            matched |= (low..=high).contains(&c);
            i += 3;
        } else {
            matched |= low == c;
            i += 1;
        }
    }
}

/// Whether `name` matches one component `pattern`.
pub fn matches(pattern: &[PatternChar], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    if name.first() == Some(&'.') && pattern.first().is_none_or(|&(c, _)| c != '.') {
        return false;
    }
    matches_from(pattern, &name)
}

/// Whether all of `text` matches `pattern`, as `case` and `${V#pattern}` match: `*` and `?`
/// also match `/` and a leading `.`.
pub fn matches_text(pattern: &[PatternChar], text: &[char]) -> bool {
    matches_from(pattern, text)
}

fn matches_from(pattern: &[PatternChar], name: &[char]) -> bool {
    let Some(&(p, active)) = pattern.first() else {
        return name.is_empty();
    };
    match (p, active) {
        ('*', true) => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        ('?', true) => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        ('[', true) => match name.first().map(|&c| (c, bracket(pattern, c))) {
            None => false,
            Some((_, Some((matched, len)))) => matched && matches_from(&pattern[len..], &name[1..]),
            Some((c, None)) => c == '[' && matches_from(&pattern[1..], &name[1..]),
        },
        _ => name.first() == Some(&p) && matches_from(&pattern[1..], &name[1..]),
    }
}

fn join(base: &str, name: &str) -> String {
    match base {
        "" => name.to_string(),
        _ if base.ends_with('/') => format!("{base}{name}"),
        _ => format!("{base}/{name}"),
    }
}

/// The paths `pattern` matches, sorted; the pattern's text when it matches nothing.
pub fn expand(pattern: &[PatternChar], dirs: &dyn Dirs) -> Vec<String> {
    let literal: String = pattern.iter().map(|&(c, _)| c).collect();
    if !has_wildcard(pattern) {
        return vec![literal];
    }
    let components: Vec<&[PatternChar]> = pattern.split(|&(c, _)| c == '/').collect();
    let mut found = vec![if literal.starts_with('/') { "/" } else { "" }.to_string()];
    let last = components.len() - 1;
    for (i, component) in components.iter().enumerate() {
        if component.is_empty() {
            // A leading `/` (handled above), `//`, or a trailing `/`: only directories.
            if i == last {
                found.retain(|path| dirs.list(path).is_some());
                found.iter_mut().for_each(|path| path.push('/'));
            }
            continue;
        }
        let mut next = Vec::new();
        for base in &found {
            let Some(mut names) = dirs.list(if base.is_empty() { "." } else { base }) else {
                continue;
            };
            names.sort();
            if has_wildcard(component) {
                next.extend(
                    names
                        .iter()
                        .filter(|name| matches(component, name))
                        .map(|name| join(base, name)),
                );
            } else {
                let name: String = component.iter().map(|&(c, _)| c).collect();
                if names.contains(&name) {
                    next.push(join(base, &name));
                }
            }
        }
        found = next;
    }
    if found.is_empty() {
        return vec![literal];
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_lone_bracket_is_no_wildcard() {
        let active = |text: &str| text.chars().map(|c| (c, true)).collect::<Vec<_>>();
        assert!(!has_wildcard(&active("[")));
        assert!(!has_wildcard(&active("a[b")));
        assert!(has_wildcard(&active("[ab]")));
        assert!(has_wildcard(&active("[!]]")));
        assert!(has_wildcard(&active("x*")));
        assert!(!has_wildcard(&[('*', false)]));
    }

    use super::*;
    use std::collections::BTreeMap;

    fn active(pattern: &str) -> Vec<PatternChar> {
        pattern.chars().map(|c| (c, true)).collect()
    }

    struct Fake(BTreeMap<&'static str, Vec<&'static str>>);

    impl Dirs for Fake {
        fn list(&self, dir: &str) -> Option<Vec<String>> {
            let dir = dir.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            self.0
                .get(dir)
                .map(|names| names.iter().map(|n| n.to_string()).collect())
        }
    }

    fn fake() -> Fake {
        Fake(BTreeMap::from([
            (".", vec!["b.rs", "a.rs", "c.txt", ".hidden.rs", "src"]),
            ("src", vec!["main.rs", "lib.rs"]),
            ("/", vec!["bin", "tmp", "etc"]),
            ("/bin", vec!["ls", "cat", "sh"]),
            ("/tmp", vec![]),
        ]))
    }

    fn glob(pattern: &str) -> Vec<String> {
        expand(&active(pattern), &fake())
    }

    #[test]
    fn matching() {
        assert!(matches(&active("*.rs"), "a.rs"));
        assert!(!matches(&active("*.rs"), "a.rsx"));
        assert!(matches(&active("a?c"), "abc"));
        assert!(!matches(&active("a?c"), "ac"));
        assert!(matches(&active("[ab]x"), "bx"));
        assert!(!matches(&active("[!ab]x"), "bx"));
        assert!(matches(&active("[^ab]x"), "cx"));
        assert!(matches(&active("[a-c]"), "b"));
        assert!(!matches(&active("[a-c]"), "d"));
        assert!(matches(&active("[]]"), "]"));
        assert!(matches(&active("[a-]"), "-"));
        assert!(matches(&active("[x"), "[x"));
        assert!(matches(&active("*"), ""));
        assert!(matches(&active("**a*"), "banana"));
        assert!(!matches(&active("*"), ".hidden"));
        assert!(matches(&active(".*"), ".hidden"));
    }

    #[test]
    fn quoted_wildcards_are_literal() {
        let pattern = vec![('*', false), ('.', false)];
        assert!(!has_wildcard(&pattern));
        assert!(matches(&pattern, "*."));
        assert!(!matches(&pattern, "a."));
        assert_eq!(expand(&pattern, &fake()), ["*."]);
    }

    #[test]
    fn expansion() {
        assert_eq!(glob("*.rs"), ["a.rs", "b.rs"]);
        assert_eq!(glob("*"), ["a.rs", "b.rs", "c.txt", "src"]);
        assert_eq!(glob(".*.rs"), [".hidden.rs"]);
        assert_eq!(glob("src/*.rs"), ["src/lib.rs", "src/main.rs"]);
        assert_eq!(glob("*/main.rs"), ["src/main.rs"]);
        assert_eq!(glob("*/"), ["src/"]);
        assert_eq!(glob("/bin/?s"), ["/bin/ls"]);
        assert_eq!(glob("/*/sh"), ["/bin/sh"]);
        assert_eq!(glob("/t*"), ["/tmp"]);
    }

    #[test]
    fn no_match_keeps_the_pattern() {
        assert_eq!(glob("*.c"), ["*.c"]);
        assert_eq!(glob("/tmp/*"), ["/tmp/*"]);
        assert_eq!(glob("/nope/*"), ["/nope/*"]);
        assert_eq!(glob("plain"), ["plain"]);
    }
}
