//! Finding the demo's processes through `/proc`, so clean-up can prove nothing is left:
//! every agent and app the demo starts has the demo's directory in its command line or as
//! its working directory.

use std::path::Path;

/// True if `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X"))
}

/// Live processes (other than this one) whose command line mentions `dir` or whose working
/// directory is under it: pid and command line.
pub fn under(dir: &Path) -> Vec<(i32, String)> {
    let needle = dir.display().to_string();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).ok() == Some(me) || !alive(pid) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|cwd| cwd.display().to_string())
            .unwrap_or_default();
        if cmdline.contains(&needle) || cwd == needle || cwd.starts_with(&format!("{needle}/")) {
            found.push((pid, cmdline.trim_end().to_string()));
        }
    }
    found
}
