//! How an instance's command line is started: through `/bin/sh -c`, or, when it is a plain
//! list of words the shell would pass through unchanged, by executing the program directly.
//!
//! A shell costs one more program load per instance (about a fifth of a short instance's
//! cost here); commands such as `true` or `python3 job.py 7` do not need one. The rule is
//! conservative: any character the shell gives a meaning to, a first word that is a shell
//! keyword or a builtin that behaves differently from its namesake program, or a program
//! not found on `PATH`, and the command goes through the shell as written.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Characters with a meaning to `sh`: operators, quotes, expansions, globs, comments,
/// tildes, braces and the negation keyword. Their presence anywhere sends the command to
/// the shell, even where the shell would have read them literally.
const SHELL_SYNTAX: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
    '{', '}', '!',
];

/// Shell keywords: a first word the shell reads itself.
const KEYWORDS: &[&str] = &[
    "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until",
    "while", "function", "select",
];

/// POSIX special builtins: never a program of that name.
const SPECIAL_BUILTINS: &[&str] = &[
    ":", ".", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set",
    "shift", "times", "trap", "unset",
];

/// Builtins that answer differently from a namesake program on `PATH` (`echo -e`, `kill -l`)
/// or only make sense inside the shell (`cd`, `wait`). `true`, `false`, `test`, `printf` and
/// `pwd` are not listed: their programs answer the same.
const DIFFERING_BUILTINS: &[&str] = &[
    "alias", "bg", "cd", "command", "echo", "fc", "fg", "getopts", "hash", "jobs", "kill", "local",
    "read", "type", "ulimit", "umask", "unalias", "wait",
];

/// The words of `command` when the shell would run it as one program with these arguments,
/// unchanged; `None` when it needs the shell.
pub fn plain_words(command: &str) -> Option<Vec<&str>> {
    if command
        .chars()
        .any(|c| SHELL_SYNTAX.contains(&c) || (c.is_control() && c != ' ' && c != '\t'))
    {
        return None;
    }
    let words: Vec<&str> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first()?;
    // `NAME=value program`: an assignment, not a program.
    if first.contains('=')
        || [KEYWORDS, SPECIAL_BUILTINS, DIFFERING_BUILTINS]
            .iter()
            .any(|words| words.contains(first))
    {
        return None;
    }
    Some(words)
}

/// Where the shell would find `program`: an absolute path as it is, a bare name in the
/// directories of `path` (an empty entry meaning the working directory is skipped: the
/// shell is used then). A relative path with a slash is left to the shell.
pub fn resolve(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.starts_with('/') {
        return executable(Path::new(program)).then(|| PathBuf::from(program));
    }
    if program.contains('/') {
        return None;
    }
    let path = path?;
    for dir in std::env::split_paths(path) {
        if dir.as_os_str().is_empty() || !dir.is_absolute() {
            // The shell would search relative to the instance's directory.
            return None;
        }
        let candidate = dir.join(program);
        if executable(&candidate) {
            return Some(candidate);
        }
    }
    None
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_split_on_blanks() {
        assert_eq!(plain_words("true"), Some(vec!["true"]));
        assert_eq!(
            plain_words("  python3\tjob.py  --n=7 +x a.b,c@d:e%f "),
            Some(vec!["python3", "job.py", "--n=7", "+x", "a.b,c@d:e%f"])
        );
        assert_eq!(plain_words("date +%s.%N"), Some(vec!["date", "+%s.%N"]));
    }

    #[test]
    fn anything_the_shell_reads_goes_to_the_shell() {
        for command in [
            "echo $X",
            "true; false",
            "a | b",
            "a && b",
            "a > f",
            "a < f",
            "(a)",
            "a `b`",
            "a 'b c'",
            "a \"b\"",
            "a\\ b",
            "ls *.txt",
            "ls ?",
            "ls [ab]",
            "a # comment",
            "ls ~",
            "{ a; }",
            "! a",
            "a\nb",
            "X=1 env",
            "",
            "   ",
        ] {
            assert_eq!(plain_words(command), None, "{command:?}");
        }
    }

    #[test]
    fn keywords_and_differing_builtins_go_to_the_shell() {
        for command in [
            "exit 3",
            "cd /tmp",
            "echo -e hi",
            "kill -l",
            "exec env",
            ". f",
            ": x",
        ] {
            assert_eq!(plain_words(command), None, "{command:?}");
        }
        assert!(
            plain_words("env x=1").is_some(),
            "only a first word assigns"
        );
    }

    #[test]
    fn resolve_searches_path_like_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let not_exec = dir.path().join("data");
        std::fs::write(&not_exec, "").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();

        assert_eq!(resolve("tool", Some(&path)), Some(tool.clone()));
        assert_eq!(resolve("data", Some(&path)), None, "not executable");
        assert_eq!(resolve("missing", Some(&path)), None);
        assert_eq!(resolve("tool", None), None, "no PATH");
        assert_eq!(resolve(tool.to_str().unwrap(), None), Some(tool.clone()));
        assert_eq!(
            resolve("./tool", Some(&path)),
            None,
            "relative: the shell's"
        );
        assert_eq!(
            resolve(dir.path().to_str().unwrap(), None),
            None,
            "a directory"
        );
        let relative = std::env::join_paths(["bin", dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(
            resolve("tool", Some(&relative)),
            None,
            "relative PATH entry"
        );
    }
}
