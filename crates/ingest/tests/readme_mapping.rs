//! The mapping example in the README must stay a valid mapping.

use tessera_ingest::{EncodingChoice, Format, Mapping};

#[test]
fn the_readme_mapping_example_parses() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("```toml\n")
        .expect("the README has a TOML example")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let mapping = Mapping::from_toml(&readme[start..end]).unwrap();
    assert_eq!(mapping.source.as_str(), "tax");
    assert_eq!(mapping.format, Format::Csv);
    assert_eq!(mapping.encoding, EncodingChoice::Windows1251);
    assert_eq!(mapping.delimiter, b';');
    assert_eq!(
        mapping.columns().collect::<Vec<_>>(),
        ["inn", "fio", "dr", "pol", "snils", "adres"]
    );
}
