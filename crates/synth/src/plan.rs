//! The household plan: how many people live together and of what kind, decided up front and
//! cheaply, so that person ids are known before any household is filled in.
//!
//! The planner is one sequential random stream over the whole city; it yields, for each
//! household, its kind, its origin and the range of person ids it owns. Filling a household in
//! (`person.rs`) then uses a random stream of its own, derived from the seed and the household
//! index, which is what lets workers build households in parallel and still write byte-identical
//! files. The planner deliberately knows nothing about names, identifiers or sources.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::person::Origin;

/// The share of persons who are labour migrants; the planner steers towards it.
const MIGRANT_SHARE: f64 = 0.30;

/// The make-up of one household.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HouseholdKind {
    /// One adult.
    Single,
    /// A married couple without children at home.
    Couple,
    /// A married couple and their children.
    Family { children: u8 },
    /// One parent and their children.
    SingleParent { children: u8 },
    /// One or two pensioners.
    Pensioners { count: u8 },
    /// Unrelated labour migrants from one country registered at one flat.
    SharedFlat { count: u8 },
}

/// One household to build: which ids it owns and what it is made of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HouseholdPlan {
    pub(crate) index: usize,
    pub(crate) first_person: usize,
    pub(crate) origin: Origin,
    pub(crate) kind: HouseholdKind,
}

impl HouseholdPlan {
    pub(crate) fn size(&self) -> usize {
        match self.kind {
            HouseholdKind::Single => 1,
            HouseholdKind::Couple => 2,
            HouseholdKind::Family { children } => 2 + usize::from(children),
            HouseholdKind::SingleParent { children } => 1 + usize::from(children),
            HouseholdKind::Pensioners { count } | HouseholdKind::SharedFlat { count } => {
                usize::from(count)
            }
        }
    }
}

/// Yields household plans until exactly `persons` person ids are handed out.
pub(crate) struct Planner {
    rng: ChaCha8Rng,
    persons: usize,
    next_person: usize,
    next_household: usize,
    migrants: usize,
}

impl Planner {
    pub(crate) fn new(persons: usize, seed: u64) -> Planner {
        Planner {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x686F_7573_6568_6F6C),
            persons,
            next_person: 0,
            next_household: 0,
            migrants: 0,
        }
    }

    fn russian_kind(&mut self) -> HouseholdKind {
        let rng = &mut self.rng;
        let roll: f64 = rng.random();
        if roll < 0.25 {
            HouseholdKind::Single
        } else if roll < 0.45 {
            HouseholdKind::Couple
        } else if roll < 0.80 {
            let children = match rng.random_range(0..20) {
                0..9 => 1,
                9..17 => 2,
                _ => 3,
            };
            HouseholdKind::Family { children }
        } else if roll < 0.88 {
            HouseholdKind::SingleParent {
                children: rng.random_range(1..=2),
            }
        } else {
            HouseholdKind::Pensioners {
                count: rng.random_range(1..=2),
            }
        }
    }

    fn migrant_kind(&mut self) -> HouseholdKind {
        let rng = &mut self.rng;
        if rng.random_bool(0.7) {
            let count = match rng.random_range(0..20) {
                0..6 => 1,
                6..10 => 2,
                10..14 => 3,
                14..17 => 4,
                _ => 5,
            };
            HouseholdKind::SharedFlat { count }
        } else {
            match rng.random_range(0..4) {
                0 => HouseholdKind::Couple,
                children => HouseholdKind::Family { children },
            }
        }
    }
}

impl Iterator for Planner {
    type Item = HouseholdPlan;

    fn next(&mut self) -> Option<HouseholdPlan> {
        let remaining = self.persons - self.next_person;
        if remaining == 0 {
            return None;
        }
        // Migrants are about a quarter of households; lean towards whichever side is short.
        let migrant_share_so_far = self.migrants as f64 / self.next_person.max(1) as f64;
        let migrant_chance = if migrant_share_so_far < MIGRANT_SHARE {
            0.30
        } else {
            0.21
        };
        let migrant = self.rng.random_bool(migrant_chance);
        let (origin, mut kind) = if migrant {
            let origin = match self.rng.random_range(0..10) {
                0..5 => Origin::Uzbekistan,
                5..8 => Origin::Tajikistan,
                _ => Origin::Kyrgyzstan,
            };
            (origin, self.migrant_kind())
        } else {
            (Origin::Russia, self.russian_kind())
        };
        let mut plan = HouseholdPlan {
            index: self.next_household,
            first_person: self.next_person,
            origin,
            kind,
        };
        if plan.size() > remaining {
            // The last household shrinks to fit the requested number of persons exactly.
            kind = if migrant {
                HouseholdKind::SharedFlat { count: 1 }
            } else {
                HouseholdKind::Single
            };
            plan.kind = kind;
        }
        self.next_household += 1;
        self.next_person += plan.size();
        if migrant {
            self.migrants += plan.size();
        }
        Some(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_exactly_the_requested_persons() {
        for persons in [0, 1, 2, 7, 1000] {
            let plans: Vec<HouseholdPlan> = Planner::new(persons, 42).collect();
            let total: usize = plans.iter().map(HouseholdPlan::size).sum();
            assert_eq!(total, persons);
            let mut next = 0;
            for (index, plan) in plans.iter().enumerate() {
                assert_eq!(plan.index, index);
                assert_eq!(plan.first_person, next);
                next += plan.size();
            }
        }
    }

    #[test]
    fn about_thirty_percent_are_migrants() {
        let plans: Vec<HouseholdPlan> = Planner::new(50_000, 1).collect();
        let migrants: usize = plans
            .iter()
            .filter(|plan| plan.origin != Origin::Russia)
            .map(HouseholdPlan::size)
            .sum();
        let share = migrants as f64 / 50_000.0;
        assert!((0.27..0.33).contains(&share), "{share}");
    }
}
