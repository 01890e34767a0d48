//! What the searches over pairs of positions in two patterns (two action patterns, two ARNs)
//! keep: the states seen, and those still to visit. Both live on the stack at the sizes real
//! patterns give, and spill to the heap beyond: a search takes a few hundred nanoseconds, and a
//! heap allocation of a kilobyte can cost as much (glibc first consolidates its free lists).

/// States seen, as bits: 8,192 of them (a kilobyte) on the stack.
pub(crate) struct Seen {
    inline: [u64; 128],
    spilled: Vec<u64>,
}

impl Seen {
    /// Room for the states `0..states`.
    pub(crate) fn new(states: usize) -> Seen {
        let words = states.div_ceil(64);
        Seen {
            inline: [0; 128],
            spilled: if words > 128 {
                vec![0; words]
            } else {
                Vec::new()
            },
        }
    }

    /// Marks `state` seen: false when it already was.
    pub(crate) fn insert(&mut self, state: usize) -> bool {
        let words: &mut [u64] = if self.spilled.is_empty() {
            &mut self.inline
        } else {
            &mut self.spilled
        };
        let (word, bit) = (state / 64, 1u64 << (state % 64));
        let new = words[word] & bit == 0;
        words[word] |= bit;
        new
    }
}

/// States to visit, last in first out: 64 on the stack, any more on the heap.
pub(crate) struct Pending<T> {
    inline: [T; 64],
    len: usize,
    spilled: Vec<T>,
}

impl<T: Copy + Default> Pending<T> {
    pub(crate) fn of(start: T) -> Pending<T> {
        let mut pending = Pending {
            inline: [T::default(); 64],
            len: 0,
            spilled: Vec::new(),
        };
        pending.push(start);
        pending
    }

    pub(crate) fn push(&mut self, state: T) {
        // Once the stack part is full, the newest states are the spilled ones.
        if self.len < self.inline.len() {
            self.inline[self.len] = state;
            self.len += 1;
        } else {
            self.spilled.push(state);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        if let Some(state) = self.spilled.pop() {
            return Some(state);
        }
        self.len = self.len.checked_sub(1)?;
        Some(self.inline[self.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_new_once_on_the_stack_and_past_it() {
        for states in [100, 100_000] {
            let mut seen = Seen::new(states);
            for state in [0, 63, 64, states - 1] {
                assert!(seen.insert(state), "{state} of {states}");
                assert!(!seen.insert(state), "{state} of {states}");
            }
        }
    }

    #[test]
    fn pending_states_come_back_last_first_past_the_stack_part() {
        let mut pending = Pending::of(0u32);
        (1..200).for_each(|s| pending.push(s));
        let order: Vec<u32> = std::iter::from_fn(|| pending.pop()).collect();
        assert_eq!(order, (0..200).rev().collect::<Vec<_>>());
    }
}
