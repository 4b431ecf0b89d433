//! Headless Chromium for the panel tests: Debian's `chromium`, driven by playwright-core from
//! the npm registry, installed from `tests/browser/package-lock.json` into the target directory
//! once; the driver scripts (`tests/browser/*.mjs`) are copied beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// `target/` (from `CARGO_TARGET_TMPDIR`, which is `target/tmp`).
pub fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(Path::to_path_buf).unwrap_or(tmp)
}

/// Installs playwright-core (pinned by the lockfile) into `target/test-deps/browser` once;
/// returns that directory with the driver scripts copied in.
pub fn driver_dir() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let dir = target_dir().join("test-deps/browser");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let entries = std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for e in entries.flatten() {
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n.ends_with(".mjs") || n.starts_with("package") {
            std::fs::copy(e.path(), dir.join(&name)).map_err(|e| format!("{n}: {e}"))?;
        }
    }
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .output()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(dir)
}

/// Whether the browser tests can run here (root is checked by the caller); prints why not.
pub fn available() -> bool {
    if !Path::new(CHROMIUM).exists() || !super::have_program("node") {
        eprintln!(
            "SKIP: the browser test needs {CHROMIUM} and node (scripts/setup-debian.sh installs them)"
        );
        return false;
    }
    true
}
