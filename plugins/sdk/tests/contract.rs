//! The SDK builds from its own `wit/plugin.wit` (so the published crate is
//! self-contained); it is a link to the repository's contract, and must
//! stay the same file.

#[test]
fn the_sdk_wit_is_the_repository_contract() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sdk = std::fs::read_to_string(dir.join("wit/plugin.wit")).expect("sdk wit");
    let contract = std::fs::read_to_string(dir.join("../../wit/plugin.wit")).expect("repository wit");
    assert!(sdk == contract, "plugins/sdk/wit/plugin.wit differs from wit/plugin.wit: make it a link again");
}
