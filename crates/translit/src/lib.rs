//! Cyrillic → Latin transliteration under the standards that Russian and Central Asian documents
//! have used (placeholder: the helper building this crate replaces this file).

/// A transliteration standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Standard {
    /// ICAO Doc 9303, as used in Russian passports since 2014.
    Icao9303,
    /// BGN/PCGN 1947 for Russian.
    BgnPcgn,
    /// GOST 7.79-2000 system B.
    Gost779B,
    /// Soviet and early Russian passports (before 2014).
    OldPassport,
    /// Uzbek Latin alphabet (1995), for names written in Uzbek Cyrillic.
    UzbekLatin,
}

/// Transliterates `text` from Cyrillic to Latin under `standard`, keeping letter case.
pub fn to_latin(text: &str, standard: Standard) -> String {
    let _ = standard;
    text.to_string()
}
