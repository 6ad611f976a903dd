//! Builds the plugins in `plugins/` for wasm32-wasip2 with a nested cargo
//! (its own target dir, so it never waits on the outer build's lock) and
//! copies the components into OUT_DIR, where `src/plugins/builtin.rs`
//! embeds them. No `.wasm` is ever committed.

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: [&str; 8] = ["errors", "urls", "filter", "misbehave", "snoop", "oldabi", "intruder", "impostor"];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("core/ has a parent").to_path_buf();
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for sub in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo",
        "sdk",
        "errors",
        "urls",
        "filter",
        "misbehave",
        "snoop",
        "oldabi",
        "intruder",
        "impostor",
    ] {
        println!("cargo:rerun-if-changed={}", plugins.join(sub).display());
    }
    println!("cargo:rerun-if-env-changed=BRUM_PLUGINS_TARGET_DIR");

    let target_dir = std::env::var_os("BRUM_PLUGINS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir(&out_dir).join("plugins"));
    ensure_wasm_target(&root);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--workspace"])
        .arg("--target-dir")
        .arg(&target_dir);
    // What the outer build set for the host must not leak into the guest
    // build (clippy's wrapper, host rustflags, a forced target).
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins in {} for wasm32-wasip2 failed ({status}).\n\
             If the target is missing: rustup target add wasm32-wasip2",
            plugins.display()
        );
    }
    let built = target_dir.join("wasm32-wasip2").join("release");
    for name in PLUGINS {
        let file = built.join(format!("brum_plugin_{name}.wasm"));
        let dest = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&file, &dest).unwrap_or_else(|e| panic!("plugin {} missing: {e}", file.display()));
        // its SHA-256, which a start would otherwise compute (its cache key)
        let wasm = std::fs::read(&dest).unwrap_or_else(|e| panic!("plugin {} unreadable: {e}", dest.display()));
        let digest: [u8; 32] =
            sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &wasm)).into();
        std::fs::write(out_dir.join(format!("{name}.sha256")), digest).expect("write the digest");
    }
    println!("cargo:rustc-env=BRUM_PLUGIN_WASM_DIR={}", out_dir.display());
}

const TARGET: &str = "wasm32-wasip2";

/// rustup installs the targets `rust-toolchain.toml` names only when it
/// auto-installs, and many CI images and locked-down machines set
/// `RUSTUP_AUTO_INSTALL=0`: the nested build would then stop with "can't
/// find crate for `core`". So look for the target's standard library in the
/// sysroot and, if it is missing, add it with rustup (saying so), or fail
/// with the one command that fixes it.
fn ensure_wasm_target(root: &Path) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let Some(sysroot) = sysroot else {
        // Cannot tell; let the nested build speak for itself.
        return;
    };
    if sysroot.join("lib").join("rustlib").join(TARGET).join("lib").is_dir() {
        return;
    }
    println!(
        "cargo:warning=the {TARGET} target (needed to build the built-in plugins) is missing from {}; \
         running `rustup target add {TARGET}`",
        sysroot.display()
    );
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]).current_dir(root);
    // The toolchain the outer build runs on (rustup sets this in its proxies).
    if let Some(toolchain) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        add.arg("--toolchain").arg(toolchain);
    }
    match add.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`rustup target add {TARGET}` failed ({status}); brum's built-in plugins need that target.\n\
             Run it yourself (it needs network access to static.rust-lang.org), then build again."
        ),
        Err(e) => panic!(
            "the {TARGET} target is not installed in {} and rustup cannot be run ({e}).\n\
             brum's built-in plugins are built for it: install the target's standard library \
             for this toolchain (with rustup: `rustup target add {TARGET}`), then build again.",
            sysroot.display()
        ),
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set by cargo"))
}

/// The outer build's target directory: OUT_DIR is
/// `<target>/<profile>/build/<pkg>-<hash>/out`.
fn target_dir(out_dir: &Path) -> PathBuf {
    out_dir.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| out_dir.join("target"))
}
