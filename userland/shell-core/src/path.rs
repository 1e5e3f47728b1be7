//! Logical paths, as `cd` computes them for `PWD`: `..` removes the last component of the
//! path as written, without looking at symbolic links (POSIX `cd -L`, the default).

/// `path` made absolute against the absolute directory `base`, with `.`, `..` and repeated
/// slashes folded lexically. `..` at the root stays at the root.
pub fn logical(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let whole = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    for part in whole.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::logical;

    #[test]
    fn relative_and_absolute() {
        assert_eq!(logical("/", "bin"), "/bin");
        assert_eq!(logical("/tmp", "a/b/"), "/tmp/a/b");
        assert_eq!(logical("/tmp", "/bin"), "/bin");
        assert_eq!(logical("/tmp/x", ".."), "/tmp");
        assert_eq!(logical("/tmp", "../../.."), "/");
        assert_eq!(logical("/", "./a//b/./../c"), "/a/c");
        assert_eq!(logical("/a", ""), "/a");
        assert_eq!(logical("/", "/"), "/");
    }
}
