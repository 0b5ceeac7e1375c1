//! The fixed parts of the city that people share: street addresses, schools and employers.
//!
//! A household has one [`Address`]; sources write it in the several ways Russian clerks do
//! ("г. Москва, ул. Тверская, д. 5, кв. 12" or "Москва, Тверская ул, д 5 кв 12"). Employers are
//! a few hundred organisations with valid 10-digit INNs and Zipf-skewed sizes, so that a few
//! large ones employ thousands (and, with common names, several namesakes). This module does not
//! decide who lives or works where; `person.rs` does.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::ids;
use crate::zipf::Zipf;

/// The kind of a street and how clerks write it in full and abbreviated.
#[derive(Clone, Copy, Debug)]
enum StreetKind {
    Street,
    Avenue,
    Highway,
    Boulevard,
    Lane,
    Passage,
}

impl StreetKind {
    fn full(self) -> &'static str {
        match self {
            StreetKind::Street => "улица",
            StreetKind::Avenue => "проспект",
            StreetKind::Highway => "шоссе",
            StreetKind::Boulevard => "бульвар",
            StreetKind::Lane => "переулок",
            StreetKind::Passage => "проезд",
        }
    }

    fn short(self) -> &'static str {
        match self {
            StreetKind::Street => "ул.",
            StreetKind::Avenue => "пр-т",
            StreetKind::Highway => "ш.",
            StreetKind::Boulevard => "б-р",
            StreetKind::Lane => "пер.",
            StreetKind::Passage => "пр-д",
        }
    }
}

const STREETS: &[(&str, StreetKind)] = &[
    ("Тверская", StreetKind::Street),
    ("Профсоюзная", StreetKind::Street),
    ("Новослободская", StreetKind::Street),
    ("Большая Дмитровка", StreetKind::Street),
    ("Генерала Белова", StreetKind::Street),
    ("Маршала Жукова", StreetKind::Street),
    ("Ленина", StreetKind::Street),
    ("Гагарина", StreetKind::Street),
    ("Садовая", StreetKind::Street),
    ("Школьная", StreetKind::Street),
    ("Лесная", StreetKind::Street),
    ("Молодёжная", StreetKind::Street),
    ("Академика Королёва", StreetKind::Street),
    ("Вавилова", StreetKind::Street),
    ("Миклухо-Маклая", StreetKind::Street),
    ("Первомайская", StreetKind::Street),
    ("Бутырская", StreetKind::Street),
    ("Пятницкая", StreetKind::Street),
    ("Люблинская", StreetKind::Street),
    ("Братиславская", StreetKind::Street),
    ("Островитянова", StreetKind::Street),
    ("Ясногорская", StreetKind::Street),
    ("Кировоградская", StreetKind::Street),
    ("Днепропетровская", StreetKind::Street),
    ("Фестивальная", StreetKind::Street),
    ("Зеленоградская", StreetKind::Street),
    ("Липецкая", StreetKind::Street),
    ("Нагорная", StreetKind::Street),
    ("Ленинский", StreetKind::Avenue),
    ("Мира", StreetKind::Avenue),
    ("Вернадского", StreetKind::Avenue),
    ("Кутузовский", StreetKind::Avenue),
    ("Рязанский", StreetKind::Avenue),
    ("Волгоградский", StreetKind::Avenue),
    ("Севастопольский", StreetKind::Avenue),
    ("Андропова", StreetKind::Avenue),
    ("Варшавское", StreetKind::Highway),
    ("Каширское", StreetKind::Highway),
    ("Дмитровское", StreetKind::Highway),
    ("Алтуфьевское", StreetKind::Highway),
    ("Щёлковское", StreetKind::Highway),
    ("Можайское", StreetKind::Highway),
    ("Чистопрудный", StreetKind::Boulevard),
    ("Ореховый", StreetKind::Boulevard),
    ("Яна Райниса", StreetKind::Boulevard),
    ("Кронштадтский", StreetKind::Boulevard),
    ("Армянский", StreetKind::Lane),
    ("Большой Козихинский", StreetKind::Lane),
    ("Загорьевский", StreetKind::Passage),
    ("Шокальского", StreetKind::Passage),
];

/// Where a household lives: a street, a house (sometimes with a building number) and a flat.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Address {
    street: usize,
    house: u16,
    building: Option<u8>,
    flat: Option<u16>,
}

impl Address {
    pub(crate) fn random(rng: &mut impl Rng) -> Address {
        Address {
            street: rng.random_range(0..STREETS.len()),
            house: rng.random_range(1..=180),
            building: rng.random_bool(0.2).then(|| rng.random_range(1..=5)),
            // One in ten households lives in a private house without flats.
            flat: rng.random_bool(0.9).then(|| rng.random_range(1..=420)),
        }
    }

    /// The address in one of the forms clerks use; the same address, differently written.
    pub(crate) fn written(&self, rng: &mut impl Rng) -> String {
        let (street, kind) = STREETS[self.street];
        let house = self.house;
        let mut out = String::with_capacity(64);
        match rng.random_range(0..4) {
            0 => {
                out.push_str(&format!("г. Москва, {} {street}, д. {house}", kind.short()));
                if let Some(building) = self.building {
                    out.push_str(&format!(", корп. {building}"));
                }
                if let Some(flat) = self.flat {
                    out.push_str(&format!(", кв. {flat}"));
                }
            }
            1 => {
                out.push_str(&format!(
                    "Москва, {street} {} д {house}",
                    kind.short().trim_end_matches('.')
                ));
                if let Some(building) = self.building {
                    out.push_str(&format!(" к{building}"));
                }
                if let Some(flat) = self.flat {
                    out.push_str(&format!(" кв {flat}"));
                }
            }
            2 => {
                out.push_str(&format!("г Москва, {} {street}, дом {house}", kind.full()));
                if let Some(building) = self.building {
                    out.push_str(&format!(", корпус {building}"));
                }
                if let Some(flat) = self.flat {
                    out.push_str(&format!(", квартира {flat}"));
                }
            }
            _ => {
                out.push_str(&format!("{street} {}, {house}", kind.short()));
                if let Some(building) = self.building {
                    out.push_str(&format!("к{building}"));
                }
                if let Some(flat) = self.flat {
                    out.push_str(&format!("-{flat}"));
                }
            }
        }
        out
    }
}

/// An organisation that files weekly staff reports.
pub(crate) struct Employer {
    pub(crate) inn: String,
    pub(crate) name: String,
}

const LEGAL_FORMS: &[&str] = &["ООО", "ООО", "ООО", "АО", "ПАО", "ГБУ", "ГУП"];
const NAME_ROOTS: &[&str] = &[
    "Строй",
    "Мос",
    "Торг",
    "Логистик",
    "Сервис",
    "Техно",
    "Гранит",
    "Альфа",
    "Восток",
    "Север",
    "Город",
    "Спектр",
    "Вектор",
    "Меридиан",
    "Ресурс",
    "Стандарт",
    "Профи",
    "Триумф",
    "Импульс",
    "Горизонт",
];
const NAME_TAILS: &[&str] = &[
    "Инвест",
    "Строй",
    "Трейд",
    "Сервис",
    "Проект",
    "Групп",
    "Монтаж",
    "Логистика",
    "Транс",
    "Маркет",
];

const EMPLOYER_COUNT: usize = 320;
/// Employer sizes fall steeply: the largest of 320 has about a sixth of all reported staff.
const EMPLOYER_ZIPF_EXPONENT: f64 = 1.0;
/// The share of employers that hire labour migrants.
const EMPLOYERS_HIRING_MIGRANTS: f64 = 0.4;

const SCHOOL_COUNT: usize = 180;

/// The city's employers and schools, derived from the seed alone.
pub(crate) struct Places {
    employers: Vec<Employer>,
    employer_sizes: Zipf,
    /// Indices into `employers` of those hiring migrants, largest first.
    migrant_employers: Vec<usize>,
    migrant_employer_sizes: Zipf,
    schools: Vec<u16>,
}

impl Places {
    pub(crate) fn new(seed: u64, numbering: &ids::Numbering) -> Places {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x706C_6163_6573);
        let employers: Vec<Employer> = (0..EMPLOYER_COUNT)
            .map(|index| {
                let form = LEGAL_FORMS.choose(&mut rng).copied().unwrap_or("ООО");
                let root = NAME_ROOTS.choose(&mut rng).copied().unwrap_or("Мос");
                let tail = NAME_TAILS.choose(&mut rng).copied().unwrap_or("Сервис");
                let number = if rng.random_bool(0.3) {
                    format!("-{}", rng.random_range(1..=99))
                } else {
                    String::new()
                };
                Employer {
                    inn: ids::organisation_inn(numbering, index),
                    name: format!("{form} «{root}{tail}{number}»"),
                }
            })
            .collect();
        let migrant_employers: Vec<usize> = (0..EMPLOYER_COUNT)
            .filter(|_| rng.random_bool(EMPLOYERS_HIRING_MIGRANTS))
            .collect();
        let mut schools: Vec<u16> = (1..=2100).collect();
        schools.shuffle(&mut rng);
        schools.truncate(SCHOOL_COUNT);
        Places {
            employer_sizes: Zipf::new(employers.len(), EMPLOYER_ZIPF_EXPONENT),
            migrant_employer_sizes: Zipf::new(migrant_employers.len(), EMPLOYER_ZIPF_EXPONENT),
            employers,
            migrant_employers,
            schools,
        }
    }

    /// An employer index, drawn by size among all employers or among those hiring migrants.
    pub(crate) fn pick_employer(&self, rng: &mut impl Rng, migrant: bool) -> usize {
        if migrant && !self.migrant_employers.is_empty() {
            return self.migrant_employers[self.migrant_employer_sizes.pick(rng)];
        }
        self.employer_sizes.pick(rng)
    }

    pub(crate) fn employer(&self, index: usize) -> Option<&Employer> {
        self.employers.get(index)
    }

    pub(crate) fn pick_school(&self, rng: &mut impl Rng) -> u16 {
        self.schools.choose(rng).copied().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employers_have_valid_organisation_inns() {
        let places = Places::new(42, &ids::Numbering::new(42));
        for employer in &places.employers {
            let d: Vec<u8> = employer.inn.bytes().map(|b| b - b'0').collect();
            assert_eq!(d.len(), 10, "{}", employer.inn);
            assert_eq!(
                ids::inn_check_digit(&d[..9], &[2, 4, 10, 3, 5, 9, 4, 6, 8]),
                d[9],
                "{}",
                employer.inn
            );
        }
    }

    #[test]
    fn addresses_are_written_several_ways() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let address = Address::random(&mut rng);
        let forms: std::collections::BTreeSet<String> =
            (0..50).map(|_| address.written(&mut rng)).collect();
        assert!(forms.len() >= 3, "{forms:?}");
    }
}
