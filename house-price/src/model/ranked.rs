//! Depth-3 trees scored on feature *ranks* in 16-bit lanes: 32 rows per AVX-512 vector
//! and 16 per AVX2 vector, instead of the 8 and 4 that `f64` compares allow.
//!
//! A split only asks whether `x > t`. Sort a feature's distinct thresholds; the rank of `x`
//! is how many of them are below it. Then `x > t` exactly when the rank is above `t`'s own
//! place in that list, so comparing small integers gives every split the answer the `f64`
//! compare gives, NaN and infinities included, and each tree picks the same leaf. Leaves
//! are still `f64`, added tree after tree in the same order, so every sum keeps its bits.

use crate::features::N_FEATURES;

use super::Tree3;

/// 16-bit ranks in one vector.
const LANES: usize = 32;

/// Rows in one block: two vectors of ranks per feature, so each tree's keys, leaves and
/// feature indexes are fetched once for both.
pub(super) const BLOCK_ROWS: usize = 2 * LANES;

/// The kernel reads a compare's answer from bits 13 to 15 of `key - rank`, which all hold
/// the sign while both are below 2^13 (see [`Ranked::score_avx512`]).
const MAX_THRESHOLDS: usize = (1 << 13) - 1;

/// Ranks of a block of rows, feature by feature (padded to 8 like the `f64` columns).
pub(super) type Ranks = [[u16; BLOCK_ROWS]; 8];

/// A block's sums in the order the kernel's permutes leave them: row `32 * h + 4 * q + j`
/// is `sums[4 * h + j][q]`.
pub(super) type Sums = [[f64; 8]; 8];

/// Where row `i` of a block is in [`Sums`].
#[inline]
pub(super) fn sum_of(sums: &Sums, i: usize) -> f64 {
    let (h, r) = (i / LANES, i % LANES);
    sums[4 * h + r % 4][r / 4]
}

/// Where row `i` of a block is among the AVX2 block kernel's sums, as its unpacks leave
/// them: of each sixteen rows, vector 0 holds rows 0, 2, 8, 10; vector 1 rows 4, 6, 12, 14;
/// vectors 2 and 3 the odd rows after those.
#[inline]
fn block_sum(sums: &[[f64; 4]], i: usize) -> f64 {
    let (h, r) = (i / BLOCK_LANES, i % BLOCK_LANES);
    let lane = r / 2;
    let j = 2 * (r % 2) + (lane % 4) / 2;
    sums[4 * h + j][2 * (lane / 4) + lane % 2]
}

/// One tree for the kernel: each split's place in its feature's sorted thresholds, already
/// repeated across a whole vector so the kernel loads it instead of broadcasting.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct RankedTree {
    key: [[u16; LANES]; 7],
    leaf: [f64; 8],
    feature: [u8; 7],
}

/// The ensemble in rank form, when every feature has few enough distinct thresholds.
#[derive(Clone, Debug)]
pub(super) struct Ranked {
    /// Each feature's distinct thresholds, ascending, padded with `+inf` to whole groups of
    /// [`GROUP`] and one group more, so that the group after any sample can be read whole
    /// (see [`Ranked::rank_avx512`]).
    padded: [Vec<f64>; N_FEATURES],
    /// The last threshold of each group of `padded` but the extra one, padded with `+inf`
    /// to whole vectors of eight.
    samples: [Vec<f64>; N_FEATURES],
    trees: Vec<RankedTree>,
    /// The same trees sixteen abreast, for one row at a time (see [`Ranked::score_row_avx2`]).
    groups: Vec<RowGroup>,
    /// Each tree's leaves, one cache line per tree.
    leaves: Vec<Leaves>,
    /// The same trees for the AVX2 block kernel.
    blocks: Vec<BlockTree>,
}

/// Trees side by side in one group of the one-row kernel: 16-bit lanes of an AVX2 vector.
const ROW_LANES: usize = 16;

/// Sixteen trees' splits, level slot by level slot (a group's last trees may be padding,
/// whose answers are never read).
#[derive(Clone, Debug)]
#[repr(C, align(32))]
struct RowGroup {
    /// For each split, the two bytes of its feature's rank among a row's eight 16-bit ranks:
    /// a byte shuffle puts every tree's rank in its lane at once.
    pick: [[u8; 2 * ROW_LANES]; 7],
    /// Each split's place in its feature's sorted thresholds, as in [`RankedTree::key`].
    key: [[i16; ROW_LANES]; 7],
}

#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Leaves([f64; 8]);

/// Rows in one vector of the AVX2 block kernel: 16-bit ranks.
const BLOCK_LANES: usize = 16;

/// One tree for the AVX2 block kernel (see [`Ranked::score_avx2`]), five cache lines.
#[derive(Clone, Debug)]
#[repr(C, align(32))]
struct BlockTree {
    /// One more than each split's place in its feature's sorted thresholds (see
    /// [`RankedTree::key`]): a row goes left when its rank is below this.
    above: [[i16; BLOCK_LANES]; 7],
    /// The leaves' low and high 32-bit words, last leaf first: AVX2 has no variable
    /// permute of 64-bit lanes, but one of 32-bit lanes picks eight rows' words at once.
    words: [[u32; 8]; 2],
    feature: [u8; 7],
}

/// Thresholds counted at once in the second step of a vector rank: two vectors.
const GROUP: usize = 16;

impl Ranked {
    /// The rank form of `trees`, or `None` when a feature has too many distinct thresholds
    /// (the `f64` kernels then score the model).
    pub(super) fn new(trees: &[Tree3]) -> Option<Ranked> {
        let mut thresholds: [Vec<f64>; N_FEATURES] = Default::default();
        for t in trees {
            for (f, threshold) in t.feature.iter().zip(t.threshold) {
                thresholds.get_mut(usize::from(*f))?.push(threshold);
            }
        }
        for list in &mut thresholds {
            // No NaN here: the artifact's validation refuses one. `-0.0` and `0.0` split
            // alike, so equal values are one entry.
            list.sort_by(f64::total_cmp);
            list.dedup_by(|a, b| a == b);
            if list.len() > MAX_THRESHOLDS {
                return None;
            }
        }
        let trees = trees
            .iter()
            .map(|t| {
                let mut key = [[0u16; LANES]; 7];
                for (n, k) in key.iter_mut().enumerate() {
                    let list = &thresholds[usize::from(t.feature[n])];
                    let place = list.partition_point(|s| *s < t.threshold[n]);
                    // Below MAX_THRESHOLDS, checked above, so it fits.
                    *k = [u16::try_from(place).ok()?; LANES];
                }
                Some(RankedTree {
                    key,
                    leaf: t.leaf,
                    feature: t.feature,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let padded = thresholds.map(|mut list| {
            let groups = list.len().div_ceil(GROUP) + 1;
            list.resize(groups * GROUP, f64::INFINITY);
            list
        });
        let samples = std::array::from_fn(|f| {
            let groups = padded[f].len() / GROUP - 1;
            let mut samples: Vec<f64> = (0..groups)
                .map(|g| padded[f][g * GROUP + GROUP - 1])
                .collect();
            samples.resize(groups.div_ceil(8) * 8, f64::INFINITY);
            samples
        });
        let groups = trees
            .chunks(ROW_LANES)
            .map(|group| {
                let mut g = RowGroup {
                    pick: [[0; 2 * ROW_LANES]; 7],
                    key: [[i16::MAX; ROW_LANES]; 7],
                };
                for (lane, t) in group.iter().enumerate() {
                    for n in 0..7 {
                        let f = t.feature[n] & 7;
                        g.pick[n][2 * lane] = 2 * f;
                        g.pick[n][2 * lane + 1] = 2 * f + 1;
                        // Below MAX_THRESHOLDS < 2^13, so it fits.
                        g.key[n][lane] = t.key[n][0] as i16;
                    }
                }
                g
            })
            .collect();
        let leaves = trees.iter().map(|t| Leaves(t.leaf)).collect();
        let blocks = trees
            .iter()
            .map(|t| {
                let word = |shift: u32| {
                    // Truncation keeps the word asked for.
                    std::array::from_fn(|j| (t.leaf[7 - j].to_bits() >> shift) as u32)
                };
                BlockTree {
                    // At most MAX_THRESHOLDS < 2^13, so each fits.
                    above: t.key.map(|k| [k[0] as i16 + 1; BLOCK_LANES]),
                    words: [word(0), word(32)],
                    feature: t.feature,
                }
            })
            .collect();
        Some(Ranked {
            padded,
            samples,
            trees,
            groups,
            leaves,
            blocks,
        })
    }

    /// [`Ranked::rank_avx512`] four thresholds at a time.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn rank_avx2(&self, feature: usize, x: f64) -> u16 {
        use std::arch::x86_64::*;
        let below = |v: &[f64; 4]| {
            // SAFETY: `v` is 4 f64.
            let v = unsafe { _mm256_loadu_pd(v.as_ptr()) };
            let lt = _mm256_cmp_pd::<_CMP_LT_OQ>(v, _mm256_set1_pd(x));
            _mm256_movemask_pd(lt).count_ones() as usize
        };
        let (samples, _) = self.samples[feature].as_chunks::<4>();
        let group = samples.iter().map(below).sum::<usize>() * GROUP;
        let (group_vectors, _) = self.padded[feature][group..].as_chunks::<4>();
        let rank = match group_vectors {
            [a, b, c, d, ..] => group + below(a) + below(b) + below(c) + below(d),
            // Not reached, as in `rank_avx512`.
            _ => group,
        };
        // At most the number of thresholds, below MAX_THRESHOLDS.
        rank as u16
    }

    /// One row's sum, `base` plus every tree in order: what `walk3` tree by tree gives, to
    /// the bit. A one-row request is this: rather than walk 400 trees one after another
    /// (three dependent loads each), it ranks the row's six values once, then answers the
    /// seven splits of sixteen trees with one shuffle and one compare each and picks their
    /// leaves with blends. What is left is the ordered additions, which nothing may reorder.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn score_row_avx2(&self, base: f64, x: &[f64; N_FEATURES]) -> f64 {
        use std::arch::x86_64::*;
        let mut ranks = [0u16; 8];
        for (f, v) in x.iter().enumerate() {
            // SAFETY: the caller's CPU has AVX2.
            ranks[f] = unsafe { self.rank_avx2(f, *v) };
        }
        // The eight ranks in both 128-bit halves, which a byte shuffle reads separately.
        // SAFETY: `ranks` is 16 bytes.
        let ranks = _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(ranks.as_ptr().cast()) });
        let (four, two, one) = (
            _mm256_set1_epi16(4),
            _mm256_set1_epi16(2),
            _mm256_set1_epi16(1),
        );
        let mut sum = base;
        let mut index = [0u16; ROW_LANES];
        for (g, leaves) in self.groups.iter().zip(self.leaves.chunks(ROW_LANES)) {
            // All ones in a lane where the tree's split sends the row right (rank > key).
            // SAFETY: each `pick` and `key` row is one vector, aligned by the struct.
            let right: [__m256i; 7] = std::array::from_fn(|n| unsafe {
                let pick = _mm256_load_si256(g.pick[n].as_ptr().cast());
                let key = _mm256_load_si256(g.key[n].as_ptr().cast());
                _mm256_cmpgt_epi16(_mm256_shuffle_epi8(ranks, pick), key)
            });
            // The leaf index, as `walk3` finds it: bit 2 the root's answer, bit 1 the second
            // level's, bit 0 the third's.
            let mid = _mm256_blendv_epi8(right[1], right[2], right[0]);
            let low_left = _mm256_blendv_epi8(right[3], right[4], right[1]);
            let low_right = _mm256_blendv_epi8(right[5], right[6], right[2]);
            let low = _mm256_blendv_epi8(low_left, low_right, right[0]);
            let leaf = _mm256_or_si256(
                _mm256_and_si256(right[0], four),
                _mm256_or_si256(_mm256_and_si256(mid, two), _mm256_and_si256(low, one)),
            );
            // SAFETY: `index` is one vector.
            unsafe { _mm256_storeu_si256(index.as_mut_ptr().cast(), leaf) };
            for (l, i) in leaves.iter().zip(index) {
                sum += l.0[usize::from(i & 7)];
            }
        }
        sum
    }

    /// Every tree's sum, `base` first, for a block of rows (at most [`BLOCK_ROWS`]) into
    /// `out`, in row order: what `walk3` tree by tree gives each row, to the bit. Sixteen
    /// rows' ranks fill a vector, so a split is one 16-bit compare for all of them; the
    /// leaf is picked by two 32-bit permutes (its low and high words) and the sums are
    /// added tree after tree, as the scalar walk adds them.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn score_avx2(
        &self,
        base: f64,
        xs: &[[f64; N_FEATURES]],
        ranks: &mut Ranks,
        out: &mut [f64],
    ) {
        use std::arch::x86_64::*;
        const HALVES: usize = BLOCK_ROWS / BLOCK_LANES;
        for (i, x) in xs.iter().take(BLOCK_ROWS).enumerate() {
            for (f, v) in x.iter().enumerate() {
                // SAFETY: the caller's CPU has AVX2.
                ranks[f][i] = unsafe { self.rank_avx2(f, *v) };
            }
        }
        // SAFETY: each row of `ranks` is HALVES vectors.
        let rank: [[__m256i; 8]; HALVES] = std::array::from_fn(|h| {
            std::array::from_fn(|f| unsafe {
                _mm256_loadu_si256(ranks[f][h * BLOCK_LANES..].as_ptr().cast())
            })
        });
        let (four, two, one) = (
            _mm256_set1_epi16(4),
            _mm256_set1_epi16(2),
            _mm256_set1_epi16(1),
        );
        let mut s = [[_mm256_set1_pd(base); 4]; HALVES];
        for t in &self.blocks {
            // SAFETY: each `above` and `words` row is one vector, aligned by the struct and read
            // in place (`each_ref`: `map` alone would hand the closure an unaligned copy).
            let above: [__m256i; 7] =
                std::array::from_fn(|n| unsafe { _mm256_load_si256(t.above[n].as_ptr().cast()) });
            let [low, high] = t
                .words
                .each_ref()
                .map(|w| unsafe { _mm256_load_si256(w.as_ptr().cast()) });
            let feature = t.feature.map(|f| usize::from(f & 7));
            for (rank, s) in rank.iter().zip(s.iter_mut()) {
                // All ones in a lane whose row the split sends left (rank <= key).
                let left: [__m256i; 7] =
                    std::array::from_fn(|n| _mm256_cmpgt_epi16(above[n], rank[feature[n]]));
                // The leaf index counted from the last leaf, so the answers are its bits:
                // bit 2 the root's, bit 1 the second level's, bit 0 the third's.
                let mid = _mm256_blendv_epi8(left[2], left[1], left[0]);
                let low_left = _mm256_blendv_epi8(left[4], left[3], left[1]);
                let low_right = _mm256_blendv_epi8(left[6], left[5], left[2]);
                let bottom = _mm256_blendv_epi8(low_right, low_left, left[0]);
                let even = _mm256_or_si256(
                    _mm256_and_si256(left[0], four),
                    _mm256_or_si256(_mm256_and_si256(mid, two), _mm256_and_si256(bottom, one)),
                );
                // A 32-bit permute reads the low three bits of a lane, which hold the even
                // row of the two 16-bit lanes in it; shifting brings down the odd row.
                let odd = _mm256_srli_epi32::<16>(even);
                let pick = |index| {
                    let (lo, hi) = (
                        _mm256_permutevar8x32_epi32(low, index),
                        _mm256_permutevar8x32_epi32(high, index),
                    );
                    (
                        _mm256_castsi256_pd(_mm256_unpacklo_epi32(lo, hi)),
                        _mm256_castsi256_pd(_mm256_unpackhi_epi32(lo, hi)),
                    )
                };
                let (a, b) = pick(even);
                let (c, d) = pick(odd);
                s[0] = _mm256_add_pd(s[0], a);
                s[1] = _mm256_add_pd(s[1], b);
                s[2] = _mm256_add_pd(s[2], c);
                s[3] = _mm256_add_pd(s[3], d);
            }
        }
        let mut sums = [[0.0; 4]; 4 * HALVES];
        for (v, sums) in s.iter().flatten().zip(&mut sums) {
            // SAFETY: each `sums` row is 4 f64.
            unsafe { _mm256_storeu_pd(sums.as_mut_ptr(), *v) };
        }
        for (i, out) in out.iter_mut().take(BLOCK_ROWS).enumerate() {
            *out = block_sum(&sums, i);
        }
    }

    /// [`Ranked::rank`] with vector compares: the samples below `x` say in which group of
    /// thresholds it falls; the thresholds below `x` in that group add the rest. `+inf`
    /// padding is never below `x`, and a NaN `x` is above nothing, as in `rank`.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and POPCNT.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,popcnt")]
    #[inline]
    unsafe fn rank_avx512(&self, feature: usize, x: f64) -> u16 {
        use std::arch::x86_64::*;
        let below = |v: &[f64; 8]| {
            // SAFETY: `v` is 8 f64.
            let v = unsafe { _mm512_loadu_pd(v.as_ptr()) };
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, _mm512_set1_pd(x)).count_ones() as usize
        };
        let (samples, _) = self.samples[feature].as_chunks::<8>();
        let group = samples.iter().map(below).sum::<usize>() * GROUP;
        let (group_vectors, _) = self.padded[feature][group..].as_chunks::<8>();
        let rank = match group_vectors {
            [a, b, ..] => group + below(a) + below(b),
            // Not reached: `group` is at most the last sample's group, and `padded` has one
            // group after that.
            _ => group,
        };
        // At most the number of thresholds, below MAX_THRESHOLDS.
        rank as u16
    }

    /// How many of `feature`'s thresholds are below `x` (the `+inf` padding never is):
    /// `x > t` exactly when this is above `t`'s place in the sorted list. The reference
    /// the vector rank is tested against.
    #[cfg(test)]
    fn rank(&self, feature: usize, x: f64) -> u16 {
        // At most MAX_THRESHOLDS, so it fits.
        self.padded[feature].partition_point(|t| *t < x) as u16
    }

    /// Adds every tree to `sums` (see [`Sums`]) for a block of rows, given their (scaled)
    /// feature values. Rows past `xs` score what their lanes of `ranks` last held.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW and POPCNT.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,popcnt")]
    pub(super) unsafe fn score_avx512(
        &self,
        xs: &[[f64; N_FEATURES]],
        ranks: &mut Ranks,
        sums: &mut Sums,
    ) {
        use std::arch::x86_64::*;
        for (i, x) in xs.iter().take(BLOCK_ROWS).enumerate() {
            for (f, v) in x.iter().enumerate() {
                // SAFETY: the caller's CPU has AVX-512F and POPCNT.
                ranks[f][i] = unsafe { self.rank_avx512(f, *v) };
            }
        }
        // `a ? b : c`, bit by bit.
        const SELECT: i32 = 0xCA;
        // SAFETY (both): each row of `ranks` is two vectors.
        let rank: [[__m512i; 8]; 2] = [
            std::array::from_fn(|f| unsafe { _mm512_loadu_si512(ranks[f].as_ptr().cast()) }),
            std::array::from_fn(|f| unsafe {
                _mm512_loadu_si512(ranks[f][LANES..].as_ptr().cast())
            }),
        ];
        let top = _mm512_set1_epi16(0x8000u16 as i16);
        let top_two = _mm512_set1_epi16(0xC000u16 as i16);
        // SAFETY: each `sums[j]` is 8 f64.
        let mut s: [__m512d; 8] =
            std::array::from_fn(|j| unsafe { _mm512_loadu_pd(sums[j].as_ptr()) });
        for t in &self.trees {
            // SAFETY: each key row is a vector, aligned by the struct; `leaf` is 8 f64.
            let key: [__m512i; 7] =
                std::array::from_fn(|n| unsafe { _mm512_load_si512(t.key[n].as_ptr().cast()) });
            let leaf = unsafe { _mm512_loadu_pd(t.leaf.as_ptr()) };
            let feature = t.feature.map(|f| usize::from(f & 7));
            for (h, rank) in rank.iter().enumerate() {
                // `key - rank` is negative exactly when rank > key, that is when the row
                // goes right; both are below 2^13, so bits 13 to 15 all hold that answer.
                let d: [__m512i; 7] =
                    std::array::from_fn(|n| _mm512_sub_epi16(key[n], rank[feature[n]]));
                // The leaf index, as `walk3` finds it: bit 2 the root's answer, bit 1 the
                // second level's, bit 0 the third's.
                let mid = _mm512_ternarylogic_epi32::<SELECT>(d[0], d[2], d[1]);
                let low_right = _mm512_ternarylogic_epi32::<SELECT>(mid, d[6], d[5]);
                let low_left = _mm512_ternarylogic_epi32::<SELECT>(mid, d[4], d[3]);
                let low = _mm512_ternarylogic_epi32::<SELECT>(d[0], low_right, low_left);
                // Bit 15 from the root, bit 14 from the middle, bit 13 from the bottom.
                let index = _mm512_ternarylogic_epi32::<SELECT>(top, d[0], mid);
                let index = _mm512_ternarylogic_epi32::<SELECT>(top_two, index, low);
                // A permute reads the low three bits of each 64-bit lane, which holds four
                // rows' 16-bit lanes: shifting brings each row's index down in turn.
                let s = &mut s[4 * h..4 * h + 4];
                s[0] = _mm512_add_pd(
                    s[0],
                    _mm512_permutexvar_pd(_mm512_srli_epi64::<13>(index), leaf),
                );
                s[1] = _mm512_add_pd(
                    s[1],
                    _mm512_permutexvar_pd(_mm512_srli_epi64::<29>(index), leaf),
                );
                s[2] = _mm512_add_pd(
                    s[2],
                    _mm512_permutexvar_pd(_mm512_srli_epi64::<45>(index), leaf),
                );
                s[3] = _mm512_add_pd(
                    s[3],
                    _mm512_permutexvar_pd(_mm512_srli_epi64::<61>(index), leaf),
                );
            }
        }
        for (j, v) in s.into_iter().enumerate() {
            // SAFETY: each `sums[j]` is 8 f64.
            unsafe { _mm512_storeu_pd(sums[j].as_mut_ptr(), v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn a_rank_answers_every_split_as_the_f64_compare_does() {
        let model = crate::model::Model::embedded().unwrap();
        let ranked = Ranked::new(&model.trees3).expect("the embedded model has few thresholds");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for (t, tree) in model.trees3.iter().zip(&ranked.trees) {
            for n in 0..7 {
                let f = usize::from(t.feature[n]);
                let threshold = t.threshold[n];
                let key = tree.key[n][0];
                let probe = |x: f64| {
                    let rank = ranked.rank(f, x);
                    assert_eq!(
                        rank > key,
                        x > threshold,
                        "feature {f}, x {x}, threshold {threshold}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("popcnt")
                    {
                        // SAFETY: the CPU has AVX-512F and POPCNT.
                        assert_eq!(
                            unsafe { ranked.rank_avx512(f, x) },
                            rank,
                            "feature {f}, x {x}"
                        );
                    }
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        assert_eq!(
                            unsafe { ranked.rank_avx2(f, x) },
                            rank,
                            "feature {f}, x {x}"
                        );
                    }
                };
                for x in [
                    threshold,
                    threshold.next_down(),
                    threshold.next_up(),
                    -threshold,
                ] {
                    probe(x);
                }
                for x in [
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    0.0,
                    -0.0,
                    f64::MAX,
                    f64::MIN,
                ] {
                    probe(x);
                }
                for _ in 0..20 {
                    probe(f64::from_bits(rng.next_u64()));
                    probe(threshold * (1.0 + rng.below(1000) as f64 / 1e4));
                }
            }
        }
    }

    #[test]
    fn a_model_with_too_many_thresholds_on_a_feature_has_no_rank_form() {
        let model = crate::model::Model::embedded().unwrap();
        let mut trees = model.trees3.clone();
        while trees.len() * 7 <= MAX_THRESHOLDS {
            trees.extend_from_slice(&model.trees3);
        }
        let mut next = 0.0f64;
        for t in &mut trees {
            t.feature = [1; 7];
            for threshold in &mut t.threshold {
                next += 1.0;
                *threshold = next;
            }
        }
        assert!(Ranked::new(&trees).is_none());
        // The most a rank form takes: 8,191 thresholds on feature 1, 1.0 to 8191.0 (the last
        // tree's seven are all the last). Every rank there still fits the kernel's 13 bits.
        trees.truncate(MAX_THRESHOLDS.div_ceil(7));
        let last = trees.last_mut().unwrap();
        last.threshold = [MAX_THRESHOLDS as f64; 7];
        let ranked = Ranked::new(&trees).expect("8,191 thresholds have a rank form");
        assert_eq!(ranked.rank(1, f64::INFINITY), MAX_THRESHOLDS as u16);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            for i in 0..=MAX_THRESHOLDS + 1 {
                let t = i as f64;
                for x in [t, t.next_down(), t.next_up()] {
                    // SAFETY: the CPU has AVX-512F and POPCNT.
                    assert_eq!(
                        unsafe { ranked.rank_avx512(1, x) },
                        ranked.rank(1, x),
                        "{x}"
                    );
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for i in 0..=MAX_THRESHOLDS + 1 {
                let t = i as f64;
                for x in [t, t.next_down(), t.next_up()] {
                    // SAFETY: the CPU has AVX2.
                    assert_eq!(unsafe { ranked.rank_avx2(1, x) }, ranked.rank(1, x), "{x}");
                }
            }
        }
    }
}
