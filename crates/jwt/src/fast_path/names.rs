//! The member names of one object, to find a duplicate without building the object: most
//! objects have a few short names, compared as fingerprints kept in place.

use std::borrow::Cow;
use std::collections::HashSet;

/// Up to this many members, duplicates are found by comparing fingerprints kept in place;
/// past it, through a hash set, so that a large object still costs linear time.
const INLINE_NAMES: usize = 16;

/// The member names of one object so far, to find duplicates.
#[derive(Default)]
pub(super) struct Names<'de> {
    len: usize,
    prints: [u64; INLINE_NAMES],
    /// Names longer than a fingerprint holds, with their fingerprints.
    long: Vec<(u64, Cow<'de, str>)>,
    /// Boxed: it is rarely there, and `Names` is moved with every object read.
    #[allow(clippy::box_collection)]
    large: Option<Box<HashSet<Name<'de>>>>,
}

/// A name as the hash set keeps it: short ones by their fingerprint, which holds all of them.
#[derive(PartialEq, Eq, Hash)]
enum Name<'de> {
    Short(u64),
    Long(Cow<'de, str>),
}

/// Names of at most this many bytes are held whole by their fingerprint.
const SHORT: usize = 7;

/// The length and first seven bytes of a name: equal names have equal prints, and names of
/// at most seven bytes with equal prints are equal.
#[inline]
fn fingerprint(name: &str) -> u64 {
    let b = name.as_bytes();
    let len = u64::try_from(b.len()).map_or(255, |n| n.min(255));
    let u = |i: usize| u64::from(b[i]) << (8 * i);
    // Fixed-size reads for each length, rather than a loop or a copy.
    let head = match b.len() {
        0 => 0,
        1 => u(0),
        2 => u(0) | u(1),
        3 => u(0) | u(1) | u(2),
        4 => u(0) | u(1) | u(2) | u(3),
        5 => u(0) | u(1) | u(2) | u(3) | u(4),
        6 => u(0) | u(1) | u(2) | u(3) | u(4) | u(5),
        _ => u(0) | u(1) | u(2) | u(3) | u(4) | u(5) | u(6),
    };
    head | len << 56
}

/// The length a fingerprint records (saturated at 255).
fn print_len(print: u64) -> usize {
    (print >> 56) as usize
}

impl<'de> Names<'de> {
    /// Adds `name`; false if it was already there.
    #[inline(always)]
    #[allow(clippy::ptr_arg)] // a long name is kept as it is, borrowed from the input if it can
    pub(super) fn insert(&mut self, name: &Cow<'de, str>) -> bool {
        if name.len() <= SHORT && self.len < INLINE_NAMES && self.large.is_none() {
            let print = fingerprint(name);
            if self.prints[..self.len].contains(&print) {
                return false;
            }
            self.prints[self.len] = print;
            self.len += 1;
            return true;
        }
        self.insert_other(name.clone())
    }

    /// A long name, or one past the inline ones.
    #[cold]
    #[inline(never)]
    fn insert_other(&mut self, name: Cow<'de, str>) -> bool {
        let print = fingerprint(&name);
        let short = name.len() <= SHORT;
        if let Some(set) = &mut self.large {
            return set.insert(if short {
                Name::Short(print)
            } else {
                Name::Long(name)
            });
        }
        if self.prints[..self.len].contains(&print)
            && (short || self.long.iter().any(|(p, n)| *p == print && *n == name))
        {
            return false;
        }
        if self.len < INLINE_NAMES {
            self.prints[self.len] = print;
            self.len += 1;
            if !short {
                self.long.push((print, name));
            }
        } else {
            let mut set: HashSet<Name<'de>> = self.prints[..self.len]
                .iter()
                .filter(|p| print_len(**p) <= SHORT)
                .map(|p| Name::Short(*p))
                .collect();
            set.extend(self.long.drain(..).map(|(_, n)| Name::Long(n)));
            set.insert(if short {
                Name::Short(print)
            } else {
                Name::Long(name)
            });
            self.large = Some(Box::new(set));
        }
        true
    }
}
