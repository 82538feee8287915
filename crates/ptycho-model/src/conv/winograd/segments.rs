//! The tile transforms fused with reading and writing the image rows of the planes.
//!
//! Each kernel works on a *segment* of `L` lanes, one tile per lane, split into groups of `G`
//! lanes: a group is `G` neighbouring tiles of one tile row. Planes at least 16 tiles wide give
//! one group per segment; narrower ones whose rows are a power of two tiles wide put whole tile
//! rows (of any samples) side by side, so a 32 × 32 plane still fills 16 lanes. A kernel reads
//! the six (or four) image rows under each group once, splits them into the pixel phases
//! `4·l + j` of the tiles (shuffles, the lane counts being compile-time constants), applies the
//! transform in registers, and stores every transform position as one run of lanes of the
//! chunk's operand. No gathered copy of the tiles is made.

use std::mem::MaybeUninit;

use super::avx512::Avx512;
use super::{A, ALPHA, AT, Activation, BT, M};

/// Most lanes in a segment: one AVX-512 register of `f32`.
pub(super) const MAX_LANES: usize = 16;

/// Pixels of one image row a segment reads (`4·L`), with room for the writes of [`output`].
const ROW: usize = M * MAX_LANES;

/// One value per lane.
pub(super) type Lanes<const L: usize> = [f32; L];

/// The planes of one channel in `[samples, channels, height, width]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planes {
    pub channel: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Planes {
    /// Where row `y` of the plane of `sample` starts, if `y` is inside the plane.
    #[inline(always)]
    pub(super) fn row(&self, sample: usize, y: Option<usize>) -> Option<usize> {
        let y = y.filter(|&y| y < self.height)?;
        Some(((sample * self.channels + self.channel) * self.height + y) * self.width)
    }
}

/// One segment: group `g` holds tiles `tx0 .. tx0 + G` of tile row `rows[g] = (sample, ty)`
/// (the groups past `rows.len()` are empty), lanes `0 .. n` hold tiles, and lane `l` is column
/// `t + l` of the chunk's operand.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment<'r> {
    pub rows: &'r [(usize, usize)],
    pub tx0: usize,
    pub n: usize,
    pub t: usize,
}

/// `Σ_q c[q] · rows[q]`; with `c` a constant after inlining, zero terms cost nothing.
#[inline(always)]
pub(super) fn combine<const L: usize, const Q: usize>(
    c: &[f32; Q],
    rows: &[Lanes<L>; Q],
) -> Lanes<L> {
    // Sums start from -0.0, the exact identity of addition, so that the first addition folds.
    let mut acc = [-0.0; L];
    for (&c, row) in c.iter().zip(rows) {
        if c != 0.0 {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += c * v;
            }
        }
    }
    acc
}

/// The first `n` of `L` lanes from `src` (zero past `n`).
#[inline(always)]
pub(super) fn load<const L: usize>(src: &[f32], n: usize) -> Lanes<L> {
    let mut lanes = [0.0; L];
    if n == L {
        for (lane, v) in lanes.iter_mut().zip(&src[..L]) {
            *lane = *v;
        }
    } else {
        lanes[..n].copy_from_slice(&src[..n]);
    }
    lanes
}

/// The first `n` lanes of `lanes` into `dst`.
#[inline(always)]
pub(super) fn store<const L: usize>(dst: &mut [f32], lanes: &Lanes<L>, n: usize) {
    if n == L {
        for (d, v) in dst[..L].iter_mut().zip(lanes) {
            *d = *v;
        }
    } else {
        dst[..n].copy_from_slice(&lanes[..n]);
    }
}

/// The pixels under a segment in row `4·ty + dy` of each group's plane: `quads[4·G·g + k]` is
/// column `4·tx0 + k` of group `g`, `edges[g]` the columns just left and right of them. Zero
/// outside the plane, and for groups past the segment's tile rows.
#[inline(always)]
fn read_rows<const L: usize, const G: usize>(
    (data, planes): (&[f32], &Planes),
    seg: &Segment<'_>,
    dy: isize,
    quads: &mut [f32; ROW],
    edges: &mut [[f32; 2]; MAX_LANES],
) {
    let (x0, width) = (M * seg.tx0, planes.width);
    for g in 0..L / G {
        let row = seg.rows.get(g).and_then(|&(sample, ty)| {
            planes.row(sample, usize::try_from((M * ty) as isize + dy).ok())
        });
        let out = &mut quads[M * G * g..][..M * G];
        let Some(row) = row else {
            out.fill(0.0);
            edges[g] = [0.0; 2];
            continue;
        };
        if x0 + M * G <= width {
            // The common case, a copy of known length: every row of a plane whose width is a
            // multiple of 4·G.
            out.copy_from_slice(&data[row + x0..][..M * G]);
        } else {
            let count = width - x0;
            out[..count].copy_from_slice(&data[row + x0..][..count]);
            out[count..].fill(0.0);
        }
        let left = x0.checked_sub(1).map_or(0.0, |x| data[row + x]);
        let right = data[row..row + width]
            .get(x0 + M * G)
            .copied()
            .unwrap_or(0.0);
        edges[g] = [left, right];
    }
}

/// `phases[j][l]`: the pixel in column `4·tx + j + shift` of the tile `tx` in lane `l`, from
/// [`read_rows`], for `shift` -1 (input tiles, 6 columns) or 0 (output blocks, 4 columns).
#[inline(always)]
fn split_phases<const L: usize, const G: usize, const J: usize>(
    quads: &[f32; ROW],
    edges: &[[f32; 2]; MAX_LANES],
    shift: isize,
    phases: &mut [Lanes<L>; J],
) {
    for l in 0..L {
        for (j, phase) in phases.iter_mut().enumerate() {
            let k = (M * (l % G) + j) as isize + shift;
            phase[l] = if k < 0 {
                edges[l / G][0]
            } else if k >= (M * G) as isize {
                edges[l / G][1]
            } else {
                quads[M * G * (l / G) + k as usize]
            };
        }
    }
}

/// A transform `X ↦ T · X · Tᵀ` of `Q × Q` matrices to `P × P` ones, as a type so that the
/// coefficients are compile-time constants inside the vectorised code: zero coefficients cost
/// nothing and the loops unroll.
pub(super) trait Sandwich<const P: usize, const Q: usize> {
    const T: [[f32; Q]; P];
}

/// A [`Sandwich`] from a `K × K` window of pixels to the 36 transform positions; the window
/// starts `OFFSET` rows and columns from the tile's 4 × 4 block.
pub(super) trait TileTransform<const K: usize>: Sandwich<ALPHA, K> {
    const OFFSET: isize;

    /// [`tiles`] on the AVX-512 kernel, for segments it [suits](Avx512::suits).
    fn avx512<const G: usize>(
        simd: Avx512,
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        out: (&mut [f32], usize),
    );
}

/// `Bᵀ d B` of the 6 × 6 input tile around each 4 × 4 block (the forward's input).
pub(super) struct InputTiles;

impl Sandwich<ALPHA, ALPHA> for InputTiles {
    const T: [[f32; ALPHA]; ALPHA] = BT;
}

impl TileTransform<ALPHA> for InputTiles {
    const OFFSET: isize = -1;

    #[inline(always)]
    fn avx512<const G: usize>(
        simd: Avx512,
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        out: (&mut [f32], usize),
    ) {
        simd.input_tiles::<G>(data, seg, out);
    }
}

/// `A e Aᵀ` of each 4 × 4 block of the output gradient (the adjoint of [`output`]).
pub(super) struct OutputGradients;

impl Sandwich<ALPHA, M> for OutputGradients {
    const T: [[f32; M]; ALPHA] = A;
}

impl TileTransform<M> for OutputGradients {
    const OFFSET: isize = 0;

    #[inline(always)]
    fn avx512<const G: usize>(
        simd: Avx512,
        data: (&[f32], &Planes),
        seg: &Segment<'_>,
        out: (&mut [f32], usize),
    ) {
        simd.gradient_tiles::<G>(data, seg, out);
    }
}

/// `out[(a·6 + b)·stride + t + l] = (T e_l Tᵀ)[a][b]`, with `e_l[i][j] = data[4·ty + i + OFFSET,
/// 4·tx + j + OFFSET]` (zero outside the plane) the window of the tile in lane `l`.
#[inline(always)]
pub(super) fn tiles<X: TileTransform<K>, const K: usize, const L: usize, const G: usize>(
    data: (&[f32], &Planes),
    seg: &Segment<'_>,
    (out, stride): (&mut [f32], usize),
) {
    // columns[b][i] = (e Tᵀ)[i][b]: each image row transformed along the row first.
    let mut columns = [[[0.0f32; L]; K]; ALPHA];
    let (mut quads, mut edges) = ([0.0f32; ROW], [[0.0f32; 2]; MAX_LANES]);
    let mut e = [[0.0f32; L]; K];
    for i in 0..K {
        read_rows::<L, G>(data, seg, i as isize + X::OFFSET, &mut quads, &mut edges);
        split_phases::<L, G, K>(&quads, &edges, X::OFFSET, &mut e);
        for (column, t) in columns.iter_mut().zip(&X::T) {
            column[i] = combine(t, &e);
        }
    }
    for (b, column) in columns.iter().enumerate() {
        for (a, t) in X::T.iter().enumerate() {
            store(
                &mut out[(a * ALPHA + b) * stride + seg.t..],
                &combine(t, column),
                seg.n,
            );
        }
    }
}

/// Rows `4·ty .. 4·ty + 4`, columns from `4·tx0`, of every group's plane in `out` set to
/// `Aᵀ m_l A + bias` (through a ReLU if `RELU`), with `m_l[i][j] = m[(i·6 + j)·stride + t + l]`;
/// pixels outside the plane are dropped.
#[inline(always)]
pub(super) fn output<const L: usize, const G: usize, const RELU: bool>(
    (m, stride): (&[f32], usize),
    seg: &Segment<'_>,
    bias: f32,
    (out, planes): (&mut [MaybeUninit<f32>], &Planes),
) {
    // rows[a][j] = (Aᵀ m)[a][j]: the positions combined down the tile first.
    let mut rows = [[[0.0f32; L]; ALPHA]; M];
    let mut column = [[0.0f32; L]; ALPHA];
    for j in 0..ALPHA {
        for (i, c) in column.iter_mut().enumerate() {
            *c = load(&m[(i * ALPHA + j) * stride + seg.t..], seg.n);
        }
        for (row, at) in rows.iter_mut().zip(&AT) {
            row[j] = combine(at, &column);
        }
    }
    let x0 = M * seg.tx0;
    let len = (M * G).min(planes.width - x0);
    let (mut buf, mut block) = ([0.0f32; ROW], [[0.0f32; L]; M]);
    for (a, row) in rows.iter().enumerate() {
        for (b, at) in block.iter_mut().zip(&AT) {
            *b = combine(at, row);
        }
        for l in 0..L {
            for (b, block) in block.iter().enumerate() {
                let v = block[l] + bias;
                buf[M * l + b] = if RELU { Activation::Relu.apply(v) } else { v };
            }
        }
        for (g, &(sample, ty)) in seg.rows.iter().enumerate() {
            if let Some(start) = planes.row(sample, Some(M * ty + a)) {
                let src = &buf[M * G * g..];
                if len == M * G {
                    // A copy of known length, as in `read_rows`.
                    write_run(&mut out[start + x0..][..M * G], &src[..M * G]);
                } else {
                    write_run(&mut out[start + x0..][..len], &src[..len]);
                }
            }
        }
    }
}

/// `dst = src`, initialising `dst`.
#[inline(always)]
fn write_run(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        d.write(v);
    }
}
