//! Name pools of the city's people and the grammar that turns a pool entry into a real name:
//! gendered surnames (Иванов / Иванова), Russian patronymics (-ович / -евна), Central Asian
//! patronymics ("Акбар ўғли", "Асан кызы") and the Russian-clerk spelling of national letters.
//!
//! Pools are sampled with Zipf-like weights so that common names recur by the thousand, as they do
//! in a real city, and namesakes are the norm rather than a planted exception. Central Asian names
//! are stored in their national Cyrillic spelling (Ҳасанов, Ғайрат, Ҷамшед); `russian_spelling`
//! gives the form a Russian clerk types. Latin spellings are not made here: that is
//! `tessera-translit`'s job, and the sources call it.

use rand::Rng;

use crate::person::{Origin, Sex};
use crate::zipf::Zipf;

/// A male given name with the patronymics it gives to a son and a daughter.
pub(crate) struct MaleGiven {
    pub(crate) name: &'static str,
    pub(crate) son: &'static str,
    pub(crate) daughter: &'static str,
}

const fn male(name: &'static str, son: &'static str, daughter: &'static str) -> MaleGiven {
    MaleGiven {
        name,
        son,
        daughter,
    }
}

/// Russian surnames in their masculine form, roughly most frequent first.
#[rustfmt::skip]
const RUSSIAN_SURNAMES: &[&str] = &[
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов",
    "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев",
    "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин",
    "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов",
    "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов",
    "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов",
    "Осипов", "Сидоров", "Матвеев", "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов",
    "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов",
    "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов", "Мартынов", "Ефимов", "Федотов",
    "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов", "Родионов",
    "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев", "Кудрявцев",
    "Прохоров", "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов", "Леонов", "Соболев",
    "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Грачёв", "Котов", "Гришин",
    "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев", "Румянцев", "Акимов",
    "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Ерёмин", "Тихомиров", "Галкин", "Лукьянов",
    "Михеев", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Прокофьев", "Харитонов",
    "Князев", "Цветков", "Левин", "Митрофанов", "Воронцов", "Аксёнов", "Мальцев", "Логинов",
    "Горшков", "Савин", "Краснов", "Майоров", "Демидов", "Елисеев", "Рыбаков", "Сафонов",
    "Плотников", "Дёмин", "Хохлов", "Жданов", "Островский", "Покровский", "Вишневский", "Ковальчук",
    "Шевченко", "Бондаренко", "Черных", "Толстой", "Троицкий", "Седых", "Мельниченко", "Гордиенко",
    "Савчук",
];

const RUSSIAN_MALE: &[MaleGiven] = &[
    male("Александр", "Александрович", "Александровна"),
    male("Сергей", "Сергеевич", "Сергеевна"),
    male("Дмитрий", "Дмитриевич", "Дмитриевна"),
    male("Андрей", "Андреевич", "Андреевна"),
    male("Алексей", "Алексеевич", "Алексеевна"),
    male("Максим", "Максимович", "Максимовна"),
    male("Евгений", "Евгеньевич", "Евгеньевна"),
    male("Иван", "Иванович", "Ивановна"),
    male("Михаил", "Михайлович", "Михайловна"),
    male("Артём", "Артёмович", "Артёмовна"),
    male("Владимир", "Владимирович", "Владимировна"),
    male("Николай", "Николаевич", "Николаевна"),
    male("Денис", "Денисович", "Денисовна"),
    male("Павел", "Павлович", "Павловна"),
    male("Роман", "Романович", "Романовна"),
    male("Игорь", "Игоревич", "Игоревна"),
    male("Олег", "Олегович", "Олеговна"),
    male("Антон", "Антонович", "Антоновна"),
    male("Юрий", "Юрьевич", "Юрьевна"),
    male("Виктор", "Викторович", "Викторовна"),
    male("Никита", "Никитич", "Никитична"),
    male("Илья", "Ильич", "Ильинична"),
    male("Кирилл", "Кириллович", "Кирилловна"),
    male("Константин", "Константинович", "Константиновна"),
    male("Вадим", "Вадимович", "Вадимовна"),
    male("Григорий", "Григорьевич", "Григорьевна"),
    male("Василий", "Васильевич", "Васильевна"),
    male("Пётр", "Петрович", "Петровна"),
    male("Фёдор", "Фёдорович", "Фёдоровна"),
    male("Георгий", "Георгиевич", "Георгиевна"),
    male("Анатолий", "Анатольевич", "Анатольевна"),
    male("Валерий", "Валерьевич", "Валерьевна"),
    male("Геннадий", "Геннадьевич", "Геннадьевна"),
    male("Леонид", "Леонидович", "Леонидовна"),
    male("Борис", "Борисович", "Борисовна"),
    male("Семён", "Семёнович", "Семёновна"),
    male("Тимофей", "Тимофеевич", "Тимофеевна"),
    male("Егор", "Егорович", "Егоровна"),
    male("Ярослав", "Ярославович", "Ярославовна"),
    male("Степан", "Степанович", "Степановна"),
    male("Лев", "Львович", "Львовна"),
    male("Матвей", "Матвеевич", "Матвеевна"),
    male("Даниил", "Даниилович", "Данииловна"),
];

#[rustfmt::skip]
const RUSSIAN_FEMALE: &[&str] = &[
    "Елена", "Ольга", "Наталья", "Татьяна", "Анна", "Мария", "Ирина", "Светлана", "Екатерина",
    "Юлия", "Анастасия", "Марина", "Людмила", "Галина", "Дарья", "Ксения", "Валентина", "Надежда",
    "Виктория", "Евгения", "Алёна", "Оксана", "Вера", "Любовь", "Полина", "Софья", "Алина",
    "Кристина", "Елизавета", "Александра", "Маргарита", "Нина", "Лариса", "Варвара", "Тамара",
    "Вероника", "Ульяна", "Зоя", "Алиса", "Милана",
];

#[rustfmt::skip]
const UZBEK_SURNAMES: &[&str] = &[
    "Каримов", "Раҳимов", "Ҳасанов", "Қодиров", "Юсупов", "Абдуллаев", "Исмоилов", "Тошматов",
    "Эргашев", "Норматов", "Султонов", "Мирзаев", "Ғуломов", "Ўринов", "Хўжаев", "Азимов", "Саидов",
    "Раҳмонов", "Жўраев", "Турсунов", "Усмонов", "Назаров", "Холматов", "Бобоев", "Қурбонов",
    "Алиев", "Умаров", "Маҳмудов", "Йўлдошев", "Шукуров",
];

#[rustfmt::skip]
const UZBEK_MALE: &[&str] = &[
    "Шерзод", "Бахтиёр", "Дилшод", "Жасур", "Ғайрат", "Отабек", "Улуғбек", "Фарҳод", "Ҳусан",
    "Азиз", "Санжар", "Рустам", "Абдулла", "Акбар", "Ўлмас", "Ботир", "Нодир", "Шуҳрат", "Темур",
    "Искандар", "Жамшид", "Собир", "Ҳасан", "Шоҳруҳ", "Баҳодир", "Зафар", "Анвар", "Достон", "Элёр",
    "Илҳом",
];

#[rustfmt::skip]
const UZBEK_FEMALE: &[&str] = &[
    "Гулнора", "Дилноза", "Нигора", "Малика", "Шаҳноза", "Зарина", "Феруза", "Ўғилой", "Мадина",
    "Нодира", "Лола", "Сабина", "Мунира", "Юлдуз", "Гулчеҳра", "Зулфия", "Дилдора", "Мавлуда",
    "Муҳаббат", "Барно",
];

#[rustfmt::skip]
const TAJIK_SURNAMES: &[&str] = &[
    "Раҳимов", "Назаров", "Шарипов", "Раҷабов", "Давлатов", "Сафаров", "Ҷалолов", "Қурбонов",
    "Каримов", "Мирзоев", "Холов", "Иброҳимов", "Ашуров", "Саидов", "Абдуллоев", "Шарифзода",
    "Раҳмонзода", "Қурбонзода", "Назарзода", "Ҳайдаров", "Файзуллоев", "Олимов", "Ҷӯраев", "Боқиев",
    "Исмоилов",
];

#[rustfmt::skip]
const TAJIK_MALE: &[&str] = &[
    "Ҷамшед", "Фирдавс", "Шаҳром", "Далер", "Сӯҳроб", "Фаридун", "Бахтовар", "Исмоил", "Ҳусейн",
    "Мирзо", "Умед", "Рустам", "Комрон", "Парвиз", "Зафар", "Абдуллоҳ", "Меҳроҷ", "Шерали",
    "Баҳром", "Ҷавод", "Сино", "Азиз", "Исфандиёр", "Насим",
];

#[rustfmt::skip]
const TAJIK_FEMALE: &[&str] = &[
    "Гулрухсор", "Мадина", "Нилуфар", "Зарина", "Фарзона", "Шаҳло", "Таҳмина", "Мавзуна", "Меҳрона",
    "Дилафрӯз", "Парвина", "Сабоҳат", "Нигина", "Манижа", "Зебо",
];

#[rustfmt::skip]
const KYRGYZ_SURNAMES: &[&str] = &[
    "Асанов", "Осмонов", "Токтогулов", "Жээнбеков", "Сыдыков", "Абдыкадыров", "Мамытов", "Бакиев",
    "Үсөнов", "Эсенгулов", "Кыдыралиев", "Омуралиев", "Турдубаев", "Өмүрбеков", "Жумабаев",
    "Бообеков", "Сариев", "Шаршеналиев", "Абдрахманов", "Исаков", "Кадыров", "Мамбетов", "Түлөбаев",
];

#[rustfmt::skip]
const KYRGYZ_MALE: &[&str] = &[
    "Нурлан", "Эрлан", "Айбек", "Бакыт", "Азамат", "Улан", "Бекжан", "Темирлан", "Нурсултан",
    "Эрмек", "Үсөн", "Өмүр", "Жаңыбек", "Талант", "Чыңгыз", "Адилет", "Мирлан", "Урмат", "Максат",
    "Бектур",
];

#[rustfmt::skip]
const KYRGYZ_FEMALE: &[&str] = &[
    "Айгүл", "Жылдыз", "Гүлнара", "Назгүл", "Бермет", "Айпери", "Чолпон", "Мээрим", "Асел", "Аида",
    "Жаңыл", "Гүлзат", "Айзада", "Нургүл", "Бүбүсара", "Динара", "Камила", "Эльмира",
];

/// How steeply name frequencies fall with rank: weight ∝ rank^-exponent.
const NAME_ZIPF_EXPONENT: f64 = 0.8;

/// A fixed list sampled with Zipf-like weights: the first entries are drawn far more often.
pub(crate) struct Pool<T: 'static> {
    items: &'static [T],
    ranks: Zipf,
}

impl<T> Pool<T> {
    /// A pool over `items`, which must not be empty.
    pub(crate) fn zipf(items: &'static [T]) -> Pool<T> {
        Pool {
            items,
            ranks: Zipf::new(items.len(), NAME_ZIPF_EXPONENT),
        }
    }

    pub(crate) fn pick(&self, rng: &mut impl Rng) -> &'static T {
        // Every pool is built over a non-empty constant list and `Zipf::pick` returns a rank
        // below its length, so the index is in bounds.
        &self.items[self.ranks.pick(rng)]
    }
}

/// The name pools of one origin.
struct OriginPools {
    surnames: Pool<&'static str>,
    male: Pool<&'static str>,
    female: Pool<&'static str>,
}

/// All name pools, built once per generated city and shared read-only by the workers.
pub(crate) struct NamePools {
    russian_surnames: Pool<&'static str>,
    russian_male: Pool<MaleGiven>,
    russian_female: Pool<&'static str>,
    uzbek: OriginPools,
    tajik: OriginPools,
    kyrgyz: OriginPools,
}

impl NamePools {
    pub(crate) fn new() -> NamePools {
        let origin = |surnames, male, female| OriginPools {
            surnames: Pool::zipf(surnames),
            male: Pool::zipf(male),
            female: Pool::zipf(female),
        };
        NamePools {
            russian_surnames: Pool::zipf(RUSSIAN_SURNAMES),
            russian_male: Pool::zipf(RUSSIAN_MALE),
            russian_female: Pool::zipf(RUSSIAN_FEMALE),
            uzbek: origin(UZBEK_SURNAMES, UZBEK_MALE, UZBEK_FEMALE),
            tajik: origin(TAJIK_SURNAMES, TAJIK_MALE, TAJIK_FEMALE),
            kyrgyz: origin(KYRGYZ_SURNAMES, KYRGYZ_MALE, KYRGYZ_FEMALE),
        }
    }

    /// A surname in the form for `sex`, in the national spelling.
    pub(crate) fn surname(&self, rng: &mut impl Rng, origin: Origin, sex: Sex) -> String {
        let masculine = match origin {
            Origin::Russia => self.russian_surnames.pick(rng),
            Origin::Uzbekistan => self.uzbek.surnames.pick(rng),
            Origin::Tajikistan => self.tajik.surnames.pick(rng),
            Origin::Kyrgyzstan => self.kyrgyz.surnames.pick(rng),
        };
        gendered_surname(masculine, sex)
    }

    /// A given name for `sex`, in the national spelling.
    pub(crate) fn given(&self, rng: &mut impl Rng, origin: Origin, sex: Sex) -> &'static str {
        match (origin, sex) {
            (Origin::Russia, Sex::Male) => self.russian_male.pick(rng).name,
            (Origin::Russia, Sex::Female) => self.russian_female.pick(rng),
            (Origin::Uzbekistan, Sex::Male) => self.uzbek.male.pick(rng),
            (Origin::Uzbekistan, Sex::Female) => self.uzbek.female.pick(rng),
            (Origin::Tajikistan, Sex::Male) => self.tajik.male.pick(rng),
            (Origin::Tajikistan, Sex::Female) => self.tajik.female.pick(rng),
            (Origin::Kyrgyzstan, Sex::Male) => self.kyrgyz.male.pick(rng),
            (Origin::Kyrgyzstan, Sex::Female) => self.kyrgyz.female.pick(rng),
        }
    }
}

/// The surname as a person of `sex` bears it: Иванов → Иванова, Островский → Островская,
/// Толстой → Толстая; Шевченко, Черных, Шарифзода do not change.
pub(crate) fn gendered_surname(masculine: &str, sex: Sex) -> String {
    if sex == Sex::Male {
        return masculine.to_string();
    }
    for (ending, feminine) in [("ский", "ская"), ("цкий", "цкая"), ("ой", "ая")]
    {
        if let Some(stem) = masculine.strip_suffix(ending) {
            return format!("{stem}{feminine}");
        }
    }
    let adds_a = ["ов", "ев", "ёв", "ин", "ын"]
        .iter()
        .any(|ending| masculine.ends_with(ending));
    if adds_a {
        format!("{masculine}а")
    } else {
        masculine.to_string()
    }
}

/// The masculine form of a surname in either form: Иванова → Иванов, Островская → Островский,
/// Толстая → Толстой; invariant surnames come back unchanged.
pub(crate) fn masculine_surname(surname: &str) -> String {
    for (ending, masculine) in [("ская", "ский"), ("цкая", "цкий"), ("ая", "ой")]
    {
        if let Some(stem) = surname.strip_suffix(ending) {
            return format!("{stem}{masculine}");
        }
    }
    let drops_a = ["ова", "ева", "ёва", "ина", "ына"]
        .iter()
        .any(|ending| surname.ends_with(ending));
    match surname.strip_suffix('а') {
        Some(stem) if drops_a => stem.to_string(),
        _ => surname.to_string(),
    }
}

fn ends_with_vowel(name: &str) -> bool {
    name.chars()
        .last()
        .is_some_and(|c| "аеёиоуыэюяӣӯ".contains(c))
}

/// The patronymic a child of `father` bears, in the custom of `origin`. Russians always have
/// one; Central Asians have the national form ("Акбар ўғли"), a Russian-style one
/// ("Акбарович"), or none, as their documents were written.
pub(crate) fn patronymic(
    rng: &mut impl Rng,
    origin: Origin,
    father: &str,
    sex: Sex,
) -> Option<String> {
    if origin == Origin::Russia {
        if let Some(entry) = RUSSIAN_MALE.iter().find(|entry| entry.name == father) {
            return Some(
                if sex == Sex::Male {
                    entry.son
                } else {
                    entry.daughter
                }
                .to_string(),
            );
        }
        return Some(russian_style_patronymic(father, sex));
    }
    let roll: f64 = rng.random();
    let national = match (origin, sex) {
        (Origin::Uzbekistan, Sex::Male) => Some("ўғли"),
        (Origin::Uzbekistan, Sex::Female) => Some("қизи"),
        (Origin::Kyrgyzstan, Sex::Male) => Some("уулу"),
        (Origin::Kyrgyzstan, Sex::Female) => Some("кызы"),
        _ => None,
    };
    match national {
        Some(word) if roll < 0.45 => Some(format!("{father} {word}")),
        _ if roll < 0.75 => Some(russian_style_patronymic(father, sex)),
        _ => None,
    }
}

/// -ович / -овна after a consonant, -евич / -евна after a vowel: Акбар → Акбарович, Мирзо →
/// Мирзоевич.
fn russian_style_patronymic(father: &str, sex: Sex) -> String {
    let stem = father.strip_suffix('й').unwrap_or(father);
    let soft = ends_with_vowel(stem) || stem.len() != father.len();
    let ending = match (soft, sex) {
        (false, Sex::Male) => "ович",
        (false, Sex::Female) => "овна",
        (true, Sex::Male) => "евич",
        (true, Sex::Female) => "евна",
    };
    format!("{stem}{ending}")
}

/// A surname made from the father's given name, as many Central Asian families do for their
/// children: Акбар → Акбаров / Акбарова, Абдулла → Абдуллаев.
pub(crate) fn surname_from_father(father: &str, sex: Sex) -> String {
    let masculine = if ends_with_vowel(father) {
        format!("{father}ев")
    } else {
        format!("{father}ов")
    };
    gendered_surname(&masculine, sex)
}

/// The name as a Russian clerk types it: Uzbek, Tajik and Kyrgyz letters become their nearest
/// Russian letters (Ў → У, Қ → К, Ҳ → Х, Ғ → Г, Ҷ → Дж, Ӣ → И, Ӯ → У, Ң → Н, Ө → О, Ү → У).
/// Russian names come back unchanged.
pub(crate) fn russian_spelling(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'Ў' | 'Ӯ' | 'Ү' => out.push('У'),
            'ў' | 'ӯ' | 'ү' => out.push('у'),
            'Қ' => out.push('К'),
            'қ' => out.push('к'),
            'Ҳ' => out.push('Х'),
            'ҳ' => out.push('х'),
            'Ғ' => out.push('Г'),
            'ғ' => out.push('г'),
            'Ҷ' => out.push_str("Дж"),
            'ҷ' => out.push_str("дж"),
            'Ӣ' => out.push('И'),
            'ӣ' => out.push('и'),
            'Ң' => out.push('Н'),
            'ң' => out.push('н'),
            'Ө' => out.push('О'),
            'ө' => out.push('о'),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn surnames_take_the_feminine_form() {
        let check = |masculine: &str, feminine: &str| {
            assert_eq!(gendered_surname(masculine, Sex::Female), feminine)
        };
        check("Иванов", "Иванова");
        check("Королёв", "Королёва");
        check("Ильин", "Ильина");
        check("Островский", "Островская");
        check("Троицкий", "Троицкая");
        check("Толстой", "Толстая");
        check("Шевченко", "Шевченко");
        check("Черных", "Черных");
        check("Ҳасанов", "Ҳасанова");
        check("Шарифзода", "Шарифзода");
        assert_eq!(gendered_surname("Иванов", Sex::Male), "Иванов");
        for masculine in RUSSIAN_SURNAMES
            .iter()
            .chain(UZBEK_SURNAMES)
            .chain(TAJIK_SURNAMES)
            .chain(KYRGYZ_SURNAMES)
        {
            assert_eq!(
                masculine_surname(&gendered_surname(masculine, Sex::Female)),
                *masculine
            );
            assert_eq!(masculine_surname(masculine), *masculine);
        }
    }

    #[test]
    fn patronymics_follow_the_father() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            patronymic(&mut rng, Origin::Russia, "Юрий", Sex::Male).as_deref(),
            Some("Юрьевич")
        );
        assert_eq!(
            patronymic(&mut rng, Origin::Russia, "Илья", Sex::Female).as_deref(),
            Some("Ильинична")
        );
        assert_eq!(russian_style_patronymic("Акбар", Sex::Male), "Акбарович");
        assert_eq!(russian_style_patronymic("Мирзо", Sex::Female), "Мирзоевна");
        assert_eq!(russian_style_patronymic("Ҳусейн", Sex::Male), "Ҳусейнович");
        assert_eq!(surname_from_father("Абдулла", Sex::Male), "Абдуллаев");
        assert_eq!(surname_from_father("Акбар", Sex::Female), "Акбарова");
    }

    #[test]
    fn clerks_fold_national_letters() {
        assert_eq!(
            russian_spelling("Ҳасанов Ғайрат Акбар ўғли"),
            "Хасанов Гайрат Акбар угли"
        );
        assert_eq!(russian_spelling("Раҷабов Ҷамшед"), "Раджабов Джамшед");
        assert_eq!(russian_spelling("Жаңыбек Үсөнов"), "Жаныбек Усонов");
        assert_eq!(russian_spelling("Иванов Пётр"), "Иванов Пётр");
    }

    #[test]
    fn zipf_pools_favour_the_first_names() {
        let pool = Pool::zipf(RUSSIAN_SURNAMES);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let draws = 20_000;
        let first = (0..draws)
            .filter(|_| *pool.pick(&mut rng) == RUSSIAN_SURNAMES[0])
            .count();
        let last = RUSSIAN_SURNAMES[RUSSIAN_SURNAMES.len() - 1];
        let rare = (0..draws).filter(|_| *pool.pick(&mut rng) == last).count();
        assert!(first > 10 * rare.max(1), "first {first}, last {rare}");
    }
}
