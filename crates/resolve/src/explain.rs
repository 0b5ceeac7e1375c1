//! Explaining a decision: the evidence for and against two records being one person, field by
//! field, in bits, the way a steward reads it.

use crate::compare::{Field, NameReading, compare};
use crate::features::RecordFacts;
use crate::model::{Model, PairScore, Veto};

/// One field's contribution.
#[derive(Clone, Debug)]
pub struct FieldEvidence {
    pub field: Field,
    pub level: &'static str,
    pub weight: f64,
    /// The two values compared, as the resolver sees them (name skeletons, canonical values).
    pub left: Option<String>,
    pub right: Option<String>,
}

/// The whole case for or against one pair.
#[derive(Clone, Debug)]
pub struct PairExplanation {
    /// The log-odds, in bits, that two records drawn at random are one person.
    pub prior: f64,
    pub evidence: Vec<FieldEvidence>,
    pub total: f64,
    pub probability: f64,
    pub veto: Option<Veto>,
    pub corroborated: bool,
    /// Whether the two records name one employee (one employer's personnel number, one name).
    pub one_employee: bool,
    /// Whether this pair on its own is a link (see [`PairScore::links`]).
    pub linked: bool,
}

fn field_value(record: &RecordFacts, field: Field, swapped: bool) -> Option<String> {
    let join = |values: &[String]| (!values.is_empty()).then(|| values.join(", "));
    match field {
        Field::Surname if swapped => record.given.clone(),
        Field::Given if swapped => record.surname.clone(),
        Field::Surname => record.surname.clone(),
        Field::Given => record.given.clone(),
        Field::Patronymic => record.patronymic.clone(),
        Field::BirthDate => record.birth.map(|d| d.to_string()),
        Field::Sex => record.sex.map(|s| format!("{s:?}").to_lowercase()),
        Field::Contact => join(&record.contacts),
        Field::Employer => join(if record.staff_numbers.is_empty() {
            &record.employers
        } else {
            &record.staff_numbers
        }),
        Field::Address => record.address.clone(),
        Field::StrongId => join(
            &record
                .strong_ids
                .iter()
                .map(|(k, v)| format!("{}:{v}", k.name()))
                .chain(record.other_ids.iter().map(|v| format!("other:{v}")))
                .collect::<Vec<_>>(),
        ),
    }
}

/// Explains how `model` judges `a` against `b`.
pub fn explain_pair(model: &Model, a: &RecordFacts, b: &RecordFacts) -> PairExplanation {
    let comparison = model.orient(a, b, &compare(a, b));
    let weights = model.field_weights(a, b, &comparison);
    let evidence = Field::ALL
        .iter()
        .map(|&field| FieldEvidence {
            field,
            level: field.level_names()[comparison.level(field) as usize],
            weight: weights[field as usize],
            left: field_value(a, field, comparison.names == NameReading::SwappedAsSecond),
            right: field_value(b, field, comparison.names == NameReading::Swapped),
        })
        .collect();
    let prior = model.prior_weight();
    let total = prior + weights.iter().sum::<f64>();
    let score = PairScore::new(total, &comparison);
    PairExplanation {
        prior,
        evidence,
        total,
        probability: 1.0 / (1.0 + (-total).exp2()),
        veto: score.veto,
        corroborated: score.corroborated,
        one_employee: score.one_employee,
        linked: score.links(),
    }
}
