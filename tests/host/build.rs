//! Generates the FUSE wire ABI from the test kernel's include/uapi/linux/fuse.h
//! with the same script the module's Kbuild uses (scripts/gen-fuse-abi).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let kdir = match std::env::var("FUSEWB_KDIR") {
        Ok(k) if !k.is_empty() => PathBuf::from(k),
        _ => {
            let out = Command::new(root.join("scripts/build-kernel"))
                .arg("--print-kdir")
                .output()
                .expect("cannot run scripts/build-kernel --print-kdir");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
    };
    let header = kdir.join("include/uapi/linux/fuse.h");
    if !header.exists() {
        panic!(
            "{} not found: build the test kernel first (scripts/build-kernel) or set FUSEWB_KDIR",
            header.display()
        );
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fuse_abi.rs");
    let status = Command::new("sh")
        .arg(root.join("scripts/gen-fuse-abi"))
        .arg(&kdir)
        .arg(&kdir)
        .arg(&out)
        .status()
        .expect("cannot run scripts/gen-fuse-abi (is bindgen installed? run scripts/setup)");
    assert!(status.success(), "scripts/gen-fuse-abi failed");
    println!("cargo:rerun-if-changed={}", header.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("scripts/gen-fuse-abi").display()
    );
    println!("cargo:rerun-if-env-changed=FUSEWB_KDIR");
}
