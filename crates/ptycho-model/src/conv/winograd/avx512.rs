//! AVX-512 versions of the tile transforms: the input tiles `Bᵀ d B` and the output blocks
//! `Aᵀ m A` of the forward, and the output-gradient blocks `A e Aᵀ` of the weight gradient, for
//! segments of 16 lanes whose groups are 4, 8 or 16 tiles wide (every plane side from 16 up).
//!
//! The portable kernels in [`super::segments`] leave the pixel phases of a row to the compiler,
//! which gathers them lane by lane, and keep their intermediate rows in memory. Here each image
//! row is four vector loads, each pixel phase two two-source permutes and a lane shuffle, the
//! neighbour phases one lane shift each, and the transforms are the factored forms of `Bᵀ` and
//! `Aᵀ` (Lavin & Gray, 2016), about half the operations of the matrix products. On the
//! generator's layers at batch 16 the two transforms take about 30 % less time (the 64-channel
//! layer at 64 × 64: 4.3 → 3.0 ms for the input tiles, 2.6 → 2.0 ms for the output blocks, per
//! thread); what is left is mostly the traffic of the transformed tiles, 2.25 times the image.
//! The results equal the portable ones to rounding.

use std::mem::MaybeUninit;

use super::segments::{Planes, Segment};

/// Proof that this CPU runs AVX-512F: the kernels are only reachable through a value of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx512(Token);

#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Token;

/// No value exists off x86-64, so the kernels cannot be called there.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy)]
enum Token {}

/// Lanes of one vector, one tile each.
const LANES: usize = 16;

impl Avx512 {
    /// `Some` where the CPU has AVX-512F (the standard library caches the answer).
    pub fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Self(Token));
        }
        None
    }

    /// Whether a segment of `L` lanes in groups of `G` on planes `width` wide suits these
    /// kernels: one full vector of groups 4, 8 or 16 tiles wide, and groups narrower than a
    /// vector holding whole tile rows (so that their edges are the zero padding).
    pub fn suits<const L: usize, const G: usize>(seg: &Segment<'_>, width: usize) -> bool {
        let whole_rows = seg.tx0 == 0 && super::M * G >= width;
        L == LANES && matches!(G, 4 | 8 | 16) && (G == LANES || whole_rows)
    }

    /// [`super::segments::tiles`] for [`super::segments::InputTiles`].
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub fn input_tiles<const G: usize>(
        self,
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        out: (&mut [f32], usize),
    ) {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: `self` exists only where the CPU has AVX-512F.
        unsafe {
            imp::input_tiles::<G>(data, seg, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self.0 {}
    }

    /// [`super::segments::tiles`] for [`super::segments::OutputGradients`].
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub fn gradient_tiles<const G: usize>(
        self,
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        out: (&mut [f32], usize),
    ) {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: `self` exists only where the CPU has AVX-512F.
        unsafe {
            imp::gradient_tiles::<G>(data, seg, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self.0 {}
    }

    /// [`super::segments::output`].
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub fn output<const G: usize, const RELU: bool>(
        self,
        m: (&[f32], usize),
        seg: &Segment<'_>,
        bias: f32,
        out: (&mut [MaybeUninit<f32>], &Planes),
    ) {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: `self` exists only where the CPU has AVX-512F.
        unsafe {
            imp::output::<G, RELU>(m, seg, bias, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self.0 {}
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod imp {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::super::segments::{Planes, Segment};
    use super::super::{ALPHA, M};
    use super::LANES;

    /// Vectors of one image row under a segment (`4·16` pixels).
    const QUADS: usize = 4;

    /// Mask of the first `n` lanes.
    #[inline(always)]
    fn first(n: usize) -> __mmask16 {
        if n >= LANES {
            u16::MAX
        } else {
            (1u16 << n) - 1
        }
    }

    /// `src` (at most 16 values) in the first lanes, zero in the others.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(src: &[f32]) -> __m512 {
        if let Some(src) = src.first_chunk::<LANES>() {
            // SAFETY: `src` holds 16 values.
            unsafe { _mm512_loadu_ps(src.as_ptr()) }
        } else {
            // SAFETY: the mask selects only lanes inside `src`; masked-off lanes are not read.
            unsafe { _mm512_maskz_loadu_ps(first(src.len()), src.as_ptr()) }
        }
    }

    /// The first `dst.len()` (at most 16) lanes of `v` into `dst`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(dst: &mut [f32], v: __m512) {
        // SAFETY: `dst` is valid for `dst.len()` writes.
        unsafe { put(dst.as_mut_ptr(), dst.len(), v) }
    }

    /// [`store`] into memory not yet initialised.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn write(dst: &mut [MaybeUninit<f32>], v: __m512) {
        // SAFETY: `dst` is valid for `dst.len()` writes; `MaybeUninit<f32>` has the layout of
        // `f32`.
        unsafe { put(dst.as_mut_ptr().cast(), dst.len(), v) }
    }

    /// The first `len.min(16)` lanes of `v` to `ptr`: a plain store for a whole vector (masked
    /// stores are slower), else a masked one that writes nothing past `len`.
    ///
    /// # Safety
    /// `ptr` must be valid for `len.min(16)` writes of `f32`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn put(ptr: *mut f32, len: usize, v: __m512) {
        // SAFETY: the caller's promise; masked-off lanes are not written.
        unsafe {
            if len >= LANES {
                _mm512_storeu_ps(ptr, v)
            } else {
                _mm512_mask_storeu_ps(ptr, first(len), v)
            }
        }
    }

    /// `Bᵀ d` for the six rows of `d`, factored: `Bᵀ` shares `d₄ − 4d₂`, `d₃ − 4d₁`, `d₄ − d₂`
    /// and `2(d₃ − d₁)` between its middle rows.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn bt(d: [__m512; ALPHA]) -> [__m512; ALPHA] {
        let (two, four, five) = (
            _mm512_set1_ps(2.0),
            _mm512_set1_ps(4.0),
            _mm512_set1_ps(5.0),
        );
        let t1 = _mm512_fnmadd_ps(four, d[2], d[4]);
        let t2 = _mm512_fnmadd_ps(four, d[1], d[3]);
        let t3 = _mm512_sub_ps(d[4], d[2]);
        let t4 = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
        [
            _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4])),
            _mm512_add_ps(t1, t2),
            _mm512_sub_ps(t1, t2),
            _mm512_add_ps(t3, t4),
            _mm512_sub_ps(t3, t4),
            _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5])),
        ]
    }

    /// `Aᵀ m` for the six rows of `m`, factored through `m₁ ± m₂` and `m₃ ± m₄`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn at(m: [__m512; ALPHA]) -> [__m512; M] {
        let (two, four, eight) = (
            _mm512_set1_ps(2.0),
            _mm512_set1_ps(4.0),
            _mm512_set1_ps(8.0),
        );
        let (s1, d1) = (_mm512_add_ps(m[1], m[2]), _mm512_sub_ps(m[1], m[2]));
        let (s2, d2) = (_mm512_add_ps(m[3], m[4]), _mm512_sub_ps(m[3], m[4]));
        [
            _mm512_add_ps(_mm512_add_ps(m[0], s1), s2),
            _mm512_fmadd_ps(two, d2, d1),
            _mm512_fmadd_ps(four, s2, s1),
            _mm512_add_ps(_mm512_fmadd_ps(eight, d2, d1), m[5]),
        ]
    }

    /// `A e` for the four rows of `e` (the adjoint of [`at`]), factored: `A` shares `e₀ + e₂`,
    /// `e₁ + e₃`, `e₀ + 4e₂` and `2(e₁ + 4e₃)` between its middle rows.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn a(e: [__m512; M]) -> [__m512; ALPHA] {
        let (two, four) = (_mm512_set1_ps(2.0), _mm512_set1_ps(4.0));
        let (s02, s13) = (_mm512_add_ps(e[0], e[2]), _mm512_add_ps(e[1], e[3]));
        let u = _mm512_fmadd_ps(four, e[2], e[0]);
        let v = _mm512_mul_ps(two, _mm512_fmadd_ps(four, e[3], e[1]));
        [
            e[0],
            _mm512_add_ps(s02, s13),
            _mm512_sub_ps(s02, s13),
            _mm512_add_ps(u, v),
            _mm512_sub_ps(u, v),
            e[3],
        ]
    }

    /// Vectors per group of `G` tiles (`4·G` pixels), and where vector `k` of a row lies: its
    /// group and its first column relative to the segment's.
    #[inline(always)]
    fn place<const G: usize>(k: usize) -> (usize, usize) {
        let per_group = (G / 4).max(1);
        (k / per_group, LANES * (k % per_group))
    }

    /// Row `4·ty + dy` of each group's plane under the segment, as four vectors of 16 pixels
    /// (vector `k` at [`place`]), and the pixels just left and right of a single group (zero
    /// for several: they then hold whole rows). Zero outside the plane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn read_row<const G: usize>(
        (data, planes): (&[f32], &Planes),
        seg: &Segment<'_>,
        dy: isize,
    ) -> ([__m512; QUADS], f32, f32) {
        let (x0, width) = (M * seg.tx0, planes.width);
        let mut quads = [_mm512_setzero_ps(); QUADS];
        let mut edges = (0.0, 0.0);
        for (k, quad) in quads.iter_mut().enumerate() {
            let (g, dx) = place::<G>(k);
            let Some(&(sample, ty)) = seg.rows.get(g) else {
                continue;
            };
            let Some(row) = planes.row(sample, usize::try_from((M * ty) as isize + dy).ok()) else {
                continue;
            };
            let line = &data[row..row + width];
            if let Some(pixels) = line.get(x0 + dx..) {
                *quad = load(&pixels[..pixels.len().min(LANES)]);
            }
            if G == LANES && k == 0 {
                let left = x0.checked_sub(1).map_or(0.0, |x| line[x]);
                edges = (left, line.get(x0 + M * G).copied().unwrap_or(0.0));
            }
        }
        (quads, edges.0, edges.1)
    }

    /// `idx[l] = 4l + o` for the first eight lanes (and again for the last eight).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn stride_four(o: i32) -> __m512i {
        _mm512_setr_epi32(
            o,
            o + 4,
            o + 8,
            o + 12,
            o + 16,
            o + 20,
            o + 24,
            o + 28,
            o,
            o + 4,
            o + 8,
            o + 12,
            o + 16,
            o + 20,
            o + 24,
            o + 28,
        )
    }

    /// Lanes `l` with `l mod G == r`, but not lane `skip` (where the edge was shifted in).
    #[inline(always)]
    fn boundary<const G: usize>(r: usize, skip: usize) -> __mmask16 {
        (0..LANES)
            .filter(|&l| l % G == r && l != skip)
            .fold(0, |m, l| m | (1 << l))
    }

    /// `p[j][l]`: the pixel in column `4l + j` of the segment's row (`j = 0..4`), from the four
    /// vectors of [`read_row`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn block_phases(quads: [__m512; QUADS]) -> [__m512; M] {
        let phase = |o| {
            let idx = stride_four(o);
            let low = _mm512_permutex2var_ps(quads[0], idx, quads[1]);
            let high = _mm512_permutex2var_ps(quads[2], idx, quads[3]);
            _mm512_shuffle_f32x4::<0b01_00_01_00>(low, high)
        };
        [phase(0), phase(1), phase(2), phase(3)]
    }

    /// `p[j][l]`: the pixel in column `4l + j − 1` of the segment's row (`j = 0..6`), from
    /// [`read_row`]; lanes at the boundaries of groups narrower than a vector get zero.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn phases<const G: usize>(
        (quads, left, right): ([__m512; QUADS], f32, f32),
    ) -> [__m512; ALPHA] {
        let [p0, p1, p2, p3] = block_phases(quads);
        let (ps, si) = (_mm512_castps_si512, _mm512_castsi512_ps);
        // Column 4l − 1 is phase 3 of lane l − 1, column 4l + 4 phase 0 of lane l + 1.
        let before = si(_mm512_alignr_epi32::<15>(ps(p3), ps(_mm512_set1_ps(left))));
        let after = si(_mm512_alignr_epi32::<1>(ps(_mm512_set1_ps(right)), ps(p0)));
        [
            _mm512_maskz_mov_ps(!boundary::<G>(0, 0), before),
            p0,
            p1,
            p2,
            p3,
            _mm512_maskz_mov_ps(!boundary::<G>(G - 1, LANES - 1), after),
        ]
    }

    /// Entry `j` of every row of `m`.
    #[inline(always)]
    fn column<const R: usize, const C: usize>(m: &[[__m512; C]; R], j: usize) -> [__m512; R] {
        let mut column = [m[0][j]; R];
        for (c, row) in column.iter_mut().zip(m) {
            *c = row[j];
        }
        column
    }

    /// `out[(a·6 + b)·stride + t + l] = (Bᵀ e_l B)[a][b]` for the 6 × 6 window `e_l` around the
    /// tile in lane `l` (as [`super::super::segments::tiles`] with `InputTiles`).
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input_tiles<const G: usize>(
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        (out, stride): (&mut [f32], usize),
    ) {
        // rows[i][b] = (e B)[i][b]: each image row transformed along the row first.
        let row = |dy| bt(phases::<G>(read_row::<G>(data, seg, dy)));
        let rows = [row(-1), row(0), row(1), row(2), row(3), row(4)];
        for b in 0..ALPHA {
            for (a, v) in bt(column(&rows, b)).into_iter().enumerate() {
                let pos = (a * ALPHA + b) * stride + seg.t;
                store(&mut out[pos..pos + seg.n], v);
            }
        }
    }

    /// `out[(a·6 + b)·stride + t + l] = (A e_l Aᵀ)[a][b]` for the 4 × 4 block `e_l` of the tile
    /// in lane `l` (as [`super::super::segments::tiles`] with `OutputGradients`).
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gradient_tiles<const G: usize>(
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        (out, stride): (&mut [f32], usize),
    ) {
        // rows[i][b] = (e Aᵀ)[i][b]: each image row transformed along the row first.
        let row = |dy| a(block_phases(read_row::<G>(data, seg, dy).0));
        let rows = [row(0), row(1), row(2), row(3)];
        for b in 0..ALPHA {
            for (a, v) in a(column(&rows, b)).into_iter().enumerate() {
                let pos = (a * ALPHA + b) * stride + seg.t;
                store(&mut out[pos..pos + seg.n], v);
            }
        }
    }

    /// Four vectors `block[b][l]` (column `b` of the 4 × 4 block in lane `l`) to 64 pixels in
    /// row order: vector `k` holds the blocks of lanes `4k .. 4k + 4`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn interleave(b: [__m512; M]) -> [__m512; M] {
        let (pd, ps) = (_mm512_castps_pd, _mm512_castpd_ps);
        let (lo01, hi01) = (
            _mm512_unpacklo_ps(b[0], b[1]),
            _mm512_unpackhi_ps(b[0], b[1]),
        );
        let (lo23, hi23) = (
            _mm512_unpacklo_ps(b[2], b[3]),
            _mm512_unpackhi_ps(b[2], b[3]),
        );
        // t_j: in its 128-bit part q, the four pixels of the block in lane 4q + j.
        let t0 = ps(_mm512_unpacklo_pd(pd(lo01), pd(lo23)));
        let t1 = ps(_mm512_unpackhi_pd(pd(lo01), pd(lo23)));
        let t2 = ps(_mm512_unpacklo_pd(pd(hi01), pd(hi23)));
        let t3 = ps(_mm512_unpackhi_pd(pd(hi01), pd(hi23)));
        // Blocks of lanes 0, 8, 1, 9 / 2, 10, 3, 11 / 4, 12, 5, 13 / 6, 14, 7, 15.
        let x = _mm512_shuffle_f32x4::<0b10_00_10_00>(t0, t1);
        let y = _mm512_shuffle_f32x4::<0b10_00_10_00>(t2, t3);
        let z = _mm512_shuffle_f32x4::<0b11_01_11_01>(t0, t1);
        let w = _mm512_shuffle_f32x4::<0b11_01_11_01>(t2, t3);
        [
            _mm512_shuffle_f32x4::<0b10_00_10_00>(x, y),
            _mm512_shuffle_f32x4::<0b10_00_10_00>(z, w),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(z, w),
        ]
    }

    /// `v + bias`, then through a ReLU with burn's rules if `RELU` (NaN passes, `-0.0` → `0.0`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn finish<const RELU: bool>(v: __m512, bias: __m512) -> __m512 {
        let v = _mm512_add_ps(v, bias);
        if RELU {
            let clamped = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(v, _mm512_setzero_ps());
            _mm512_maskz_mov_ps(!clamped, v)
        } else {
            v
        }
    }

    /// Rows `4·ty .. 4·ty + 4` of every group's plane under the segment set to `Aᵀ m_l A + bias`
    /// (as [`super::super::segments::output`]).
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn output<const G: usize, const RELU: bool>(
        (m, stride): (&[f32], usize),
        seg: &Segment<'_>,
        bias: f32,
        (out, planes): (&mut [MaybeUninit<f32>], &Planes),
    ) {
        // combined[j][a] = (Aᵀ m)[a][j]: the positions combined down the tile first.
        let position = |i: usize, j: usize| {
            let pos = (i * ALPHA + j) * stride + seg.t;
            load(&m[pos..pos + seg.n])
        };
        let down = |j| {
            let (m0, m1, m2) = (position(0, j), position(1, j), position(2, j));
            at([m0, m1, m2, position(3, j), position(4, j), position(5, j)])
        };
        let combined = [down(0), down(1), down(2), down(3), down(4), down(5)];
        let (bias, x0, width) = (_mm512_set1_ps(bias), M * seg.tx0, planes.width);
        for a in 0..M {
            for (k, v) in interleave(at(column(&combined, a))).into_iter().enumerate() {
                let (g, dx) = place::<G>(k);
                let Some(&(sample, ty)) = seg.rows.get(g) else {
                    continue;
                };
                let Some(row) = planes.row(sample, Some(M * ty + a)) else {
                    continue;
                };
                let x = x0 + dx;
                if x < width {
                    let end = width.min(x + LANES);
                    write(&mut out[row + x..row + end], finish::<RELU>(v, bias));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
