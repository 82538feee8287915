//! Winograd minimal-filtering convolution F(4×4, 3×3) (Lavin & Gray, 2016) for the 3 × 3 layers
//! with enough channels: every 4 × 4 block of outputs comes from one 6 × 6 input tile (tiles
//! overlapping by two), and the `9·c_in` multiplications per output pixel of the direct method
//! become `36/16·c_in`, four times fewer.
//!
//! Per chunk of tiles, with `ξ` running over the 36 transform positions:
//!
//! - forward: `V_ξ[c_in, T] = (Bᵀ d B)_ξ`, `M_ξ[c_out, T] = U_ξ[c_out, c_in] · V_ξ` with the
//!   kernel transformed once per call, `U = G g Gᵀ`, then `y = Aᵀ M A` for every tile;
//! - input gradient: the forward of the adjoint kernel (see [`super::kernels::input_grad`]);
//! - weight gradient: the adjoint of the forward in `g`,
//!   `dU_ξ[c_out, c_in] += (A dY Aᵀ)_ξ[c_out, T] · V_ξ[c_in, T]ᵀ` over the tiles, then
//!   `dW = Gᵀ dU G`.
//!
//! Every transformed operand is stored channel by channel, each channel's 36 positions side by
//! side. The tile transforms are fused with reading and writing the image rows, 16 tiles at a
//! time in vector registers (see [`segments`], and [`avx512`] for the same transforms on CPUs
//! with AVX-512); the kernel transforms run on 64 kernels at a time.
//! The coefficients are compile-time constants, and chunks are small enough for their transformed
//! tiles to stay in cache. Every sum runs in one fixed order, so results do not depend on the
//! thread count.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use crate::host_memory::{par_zeroed, par_zeros, written_by};

mod avx512;
mod segments;

use avx512::Avx512;

use segments::{
    InputTiles, MAX_LANES, OutputGradients, Planes, Sandwich, Segment, TileTransform, combine, load,
};

use super::kernels::{
    Activation, ConvShape, Destination, Epilogue, LINE, Operand, matmul, transpose, vectorized,
    with_scratch,
};

/// Outputs per tile side.
const M: usize = 4;

/// Inputs per tile side.
const ALPHA: usize = M + 2;

/// Transform positions per tile.
const POSITIONS: usize = ALPHA * ALPHA;

/// Fewest input and output channels for which the transforms pay for themselves (below it the
/// GEMMs are too short; measured with `benches/conv.rs`).
const MIN_CHANNELS: usize = 64;

/// Fewest tiles in a batch times the smaller channel count: below it the 36 GEMMs are too
/// small for their packing and the transforms (128 channels at 16 × 16 and batch 4 ran 20 %
/// slower than the direct method, 256 channels at 8 × 8 and batch 16 10–20 % faster; measured
/// with `benches/conv.rs`).
const MIN_WORK: usize = 16 * 1024;

/// Bytes of transformed tiles (both GEMM operands of one chunk) kept in cache at once.
const CHUNK_BYTES: usize = 1 << 20;

/// Fewest tiles per chunk of the forward, so that its GEMMs (over the chunk's tiles) are not too
/// short. Beyond it the chunk's transformed tiles only leave the cache sooner: 64 ran inference
/// at N = 64, batch 16 about 15 % faster than 256.
const FORWARD_CHUNK_TILES: usize = 64;

/// Fewest tiles per chunk of the weight gradient: its GEMMs sum over the chunk's tiles into the
/// 36 transformed-kernel gradients, which every chunk reads and writes again.
const WEIGHT_GRAD_CHUNK_TILES: usize = 256;

/// Extra floats between the matrices of two transform positions: with 36 of them a multiple of
/// 4 KiB apart, every position's stream would fall into the same cache sets.
const SPACING: usize = 16;

/// The distance between the matrices of two transform positions when each holds `len` values:
/// a whole number of cache lines (so that every position's vectors start on one, see
/// [`with_scratch`]) and [`SPACING`] more.
fn spaced(len: usize) -> usize {
    len.next_multiple_of(LINE) + SPACING
}

/// Kernel pairs transformed per call of [`sandwich`].
const KERNEL_LANES: usize = 256;

/// Kernels transformed together by [`sandwich`]: four vector registers at AVX-512, and a block
/// of 36 such runs stays in the L1 cache.
const LANES: usize = 64;

// The F(4×4, 3×3) matrices for the interpolation points 0, ±1, ±2 (Lavin & Gray, eq. 12 ff.).

/// Input transform `Bᵀ`.
#[rustfmt::skip]
const BT: [[f32; ALPHA]; ALPHA] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];

/// Kernel transform `G`.
#[rustfmt::skip]
const G: [[f32; 3]; ALPHA] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// Output transform `Aᵀ`.
#[rustfmt::skip]
const AT: [[f32; ALPHA]; M] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

const fn transposed<const R: usize, const C: usize>(m: [[f32; C]; R]) -> [[f32; R]; C] {
    let mut t = [[0.0; R]; C];
    let mut r = 0;
    while r < R {
        let mut c = 0;
        while c < C {
            t[c][r] = m[r][c];
            c += 1;
        }
        r += 1;
    }
    t
}

const GT: [[f32; ALPHA]; 3] = transposed(G);
const A: [[f32; M]; ALPHA] = transposed(AT);

/// Whether Winograd pays for a convolution of shape `s` (never for an empty batch or plane).
pub fn suits(s: &ConvShape) -> bool {
    let (th, tw) = grid(s);
    s.kernel == 3
        && s.c_in >= MIN_CHANNELS
        && s.c_out >= MIN_CHANNELS
        && s.batch * th * tw * s.c_in.min(s.c_out) >= MIN_WORK
}

/// Tiles per column and per row of a plane.
fn grid(s: &ConvShape) -> (usize, usize) {
    (s.height.div_ceil(M), s.width.div_ceil(M))
}

/// Tile rows (across samples) per chunk: as many as [`CHUNK_BYTES`] allows, but at least
/// `min_tiles` tiles.
fn chunk_rows(s: &ConvShape, min_tiles: usize) -> usize {
    let tw = grid(s).1;
    let per_row = POSITIONS * (s.c_in + s.c_out) * tw * 4;
    (CHUNK_BYTES / per_row).max(min_tiles.div_ceil(tw))
}

/// `G g Gᵀ`: kernel to transform positions.
struct KernelTransform;
impl Sandwich<ALPHA, 3> for KernelTransform {
    const T: [[f32; 3]; ALPHA] = G;
}

/// `Gᵀ dU G`: transformed-kernel gradient to the kernel (adjoint of [`KernelTransform`]).
struct KernelAdjoint;
impl Sandwich<3, ALPHA> for KernelAdjoint {
    const T: [[f32; ALPHA]; 3] = GT;
}

/// `out[a·P + b][·] = Σᵢ Σⱼ T[a, i] · input[i, j, ·] · T[b, j]`, every entry a run of `lanes`
/// values: input entry `(i, j)` starts at `(i·Q + j)·in_stride`, output entry `(a, b)` is row
/// `a·P + b` of `out`; [`LANES`] matrices at a time.
fn sandwich<X: Sandwich<P, Q>, S: Slot, const P: usize, const Q: usize>(
    (input, in_stride): (&[f32], usize),
    out: &mut [&mut [S]],
    lanes: usize,
) {
    vectorized(
        #[inline(always)]
        || {
            // columns[j][i] is input entry (i, j): each column is one operand of `combine`.
            let mut columns = [[[0.0; LANES]; Q]; Q];
            let mut row = [[0.0; LANES]; Q];
            for t0 in (0..lanes).step_by(LANES) {
                let n = LANES.min(lanes - t0);
                for (j, column) in columns.iter_mut().enumerate() {
                    for (i, entry) in column.iter_mut().enumerate() {
                        *entry = load(&input[(i * Q + j) * in_stride + t0..], n);
                    }
                }
                for (a, t) in X::T.iter().enumerate() {
                    // row[j] = (T · input)[a, j], then output (a, b) = Σⱼ row[j] · T[b, j].
                    for (entry, column) in row.iter_mut().zip(&columns) {
                        *entry = combine(t, column);
                    }
                    for (b, t) in X::T.iter().enumerate() {
                        let dst = out[a * P + b][t0..t0 + n].iter_mut();
                        for (d, v) in dst.zip(combine(t, &row)) {
                            d.put(v);
                        }
                    }
                }
            }
        },
    );
}

/// Where [`sandwich`] writes a value: an `f32`, or one not yet initialised.
trait Slot {
    fn put(&mut self, v: f32);
}

impl Slot for f32 {
    #[inline(always)]
    fn put(&mut self, v: f32) {
        *self = v;
    }
}

impl Slot for MaybeUninit<f32> {
    #[inline(always)]
    fn put(&mut self, v: f32) {
        self.write(v);
    }
}

/// Where the tiles of a chunk lie: tile rows `rows` of a group of samples, counted across the
/// samples (`sample = row / tile rows per plane`).
struct Chunk<'a> {
    s: &'a ConvShape,
    rows: Range<usize>,
}

impl Chunk<'_> {
    fn tiles(&self) -> usize {
        self.rows.len() * grid(self.s).1
    }

    /// The distance between two transform positions of one channel in the chunk's operands
    /// (one value per tile, [`spaced`]).
    fn stride(&self) -> usize {
        spaced(self.tiles())
    }

    /// Runs `pass` on every segment of the chunk (see [`segments`]), compiled for the widest
    /// vector instructions of this CPU.
    fn for_each_segment(&self, pass: &mut impl SegmentPass) {
        let tw = grid(self.s).1;
        if tw < MAX_LANES && tw.is_power_of_two() {
            // Whole tile rows side by side.
            match tw {
                8 => self.visit::<16, 8>(pass),
                4 => self.visit::<16, 4>(pass),
                2 => self.visit::<16, 2>(pass),
                _ => self.visit::<16, 1>(pass),
            }
        } else {
            // One tile row per segment, in the narrowest vector that holds it (or 16 lanes).
            match tw.next_power_of_two().min(MAX_LANES) {
                16 => self.visit::<16, 16>(pass),
                8 => self.visit::<8, 8>(pass),
                _ => self.visit::<4, 4>(pass),
            }
        }
    }

    /// Segments of `L` lanes in groups of `G`: `L / G` tile rows of at most `G` tiles each.
    #[inline(always)]
    fn visit<const L: usize, const G: usize>(&self, pass: &mut impl SegmentPass) {
        let (per_plane, tw) = grid(self.s);
        let per_segment = L / G;
        vectorized(
            #[inline(always)]
            || {
                let mut rows = [(0, 0); MAX_LANES];
                for k0 in self.rows.clone().step_by(per_segment) {
                    let count = per_segment.min(self.rows.end - k0);
                    for (g, row) in rows[..count].iter_mut().enumerate() {
                        *row = ((k0 + g) / per_plane, (k0 + g) % per_plane);
                    }
                    let t = (k0 - self.rows.start) * tw;
                    for tx0 in (0..tw).step_by(G) {
                        let n = (count - 1) * G + G.min(tw - tx0);
                        let seg = Segment {
                            rows: &rows[..count],
                            tx0,
                            n,
                            t: t + tx0,
                        };
                        pass.run::<L, G>(&seg);
                    }
                }
            },
        );
    }
}

/// One fused transform over the segments of a chunk, for one channel.
trait SegmentPass {
    fn run<const L: usize, const G: usize>(&mut self, seg: &Segment<'_>);
}

/// The planes of one channel of `[samples, channels, H, W]` of shape `s`.
fn planes(s: &ConvShape, (channel, channels): (usize, usize)) -> Planes {
    Planes {
        channel,
        channels,
        height: s.height,
        width: s.width,
    }
}

/// One channel of the layer input (or of the output gradient) to its transform positions, on the
/// AVX-512 kernel where the CPU and the segment suit it.
struct TilesPass<'a, X, const K: usize> {
    data: (&'a [f32], Planes),
    out: (&'a mut [f32], usize),
    simd: Option<Avx512>,
    transform: PhantomData<X>,
}

impl<'a, X: TileTransform<K>, const K: usize> TilesPass<'a, X, K> {
    fn new(data: (&'a [f32], Planes), out: (&'a mut [f32], usize), simd: Option<Avx512>) -> Self {
        let transform = PhantomData;
        Self {
            data,
            out,
            simd,
            transform,
        }
    }
}

impl<X: TileTransform<K>, const K: usize> SegmentPass for TilesPass<'_, X, K> {
    #[inline(always)]
    fn run<const L: usize, const G: usize>(&mut self, seg: &Segment<'_>) {
        let data = (self.data.0, &self.data.1);
        let out = (&mut *self.out.0, self.out.1);
        match self
            .simd
            .filter(|_| Avx512::suits::<L, G>(seg, data.1.width))
        {
            Some(simd) => X::avx512::<G>(simd, data, seg, out),
            None => segments::tiles::<X, K, L, G>(data, seg, out),
        }
    }
}

/// The transform positions `m` of one output channel to its planes of the output, plus `bias`,
/// through `act`, on the AVX-512 kernel where the CPU and the segment suit it.
struct OutputPass<'a> {
    m: (&'a [f32], usize),
    bias: f32,
    act: Activation,
    out: (&'a mut [MaybeUninit<f32>], Planes),
    simd: Option<Avx512>,
}

impl SegmentPass for OutputPass<'_> {
    #[inline(always)]
    fn run<const L: usize, const G: usize>(&mut self, seg: &Segment<'_>) {
        let (m, bias) = (self.m, self.bias);
        let out = (&mut *self.out.0, &self.out.1);
        let simd = self
            .simd
            .filter(|_| Avx512::suits::<L, G>(seg, out.1.width));
        // The activation as a compile-time choice, so that the store loop stays branch-free.
        match (simd, self.act) {
            (Some(simd), Activation::Identity) => simd.output::<G, false>(m, seg, bias, out),
            (Some(simd), Activation::Relu) => simd.output::<G, true>(m, seg, bias, out),
            (None, Activation::Identity) => segments::output::<L, G, false>(m, seg, bias, out),
            (None, Activation::Relu) => segments::output::<L, G, true>(m, seg, bias, out),
        }
    }
}

/// `U[ξ, o·c_in + i] = (G w[o, i] Gᵀ)_ξ` for `weight[c_out, c_in, 3, 3]`, positions
/// [`spaced`] apart; [`KERNEL_LANES`] kernels per task, in parallel. Nothing is zeroed first:
/// `U` is four times the kernel, and its zero fill took over a quarter of the transform.
fn transform_kernel(weight: &[f32]) -> Vec<f32> {
    let pairs = weight.len() / 9;
    let fill = |_, u: &mut [MaybeUninit<f32>]| {
        // Task c writes pairs c·KERNEL_LANES.. of every position's row.
        let mut tasks: Vec<Vec<&mut [MaybeUninit<f32>]>> = (0..pairs.div_ceil(KERNEL_LANES))
            .map(|_| Vec::with_capacity(POSITIONS))
            .collect();
        for row in u.chunks_exact_mut(spaced(pairs)) {
            let (values, spacing) = row.split_at_mut(pairs);
            spacing.fill(MaybeUninit::new(0.0));
            for (task, part) in tasks.iter_mut().zip(values.chunks_mut(KERNEL_LANES)) {
                task.push(part);
            }
        }
        let kernels = weight.par_chunks(9 * KERNEL_LANES);
        kernels.zip(tasks).for_each(|(kernels, mut rows)| {
            let lanes = kernels.len() / 9;
            // g[k·lanes + lane]: tap k of every kernel of the task, side by side.
            let mut g = vec![0.0; 9 * lanes];
            for (lane, taps) in kernels.chunks_exact(9).enumerate() {
                for (k, v) in taps.iter().enumerate() {
                    g[k * lanes + lane] = *v;
                }
            }
            sandwich::<KernelTransform, _, ALPHA, 3>((&g, lanes), &mut rows, lanes);
        });
    };
    let len = POSITIONS * spaced(pairs);
    #[allow(unsafe_code)]
    // SAFETY: one chunk, all of `U`: every row's spacing is zeroed above, and its `pairs` values
    // are split among the tasks, each of which `sandwich` writes whole (36 outputs per kernel).
    unsafe {
        written_by(len, len, false, fill)
    }
}

/// `dW[o, i] = Gᵀ dU[·, o·c_in + i] G`: the kernel gradient `[c_out, c_in, 3, 3]` from the
/// gradient of the transformed kernel (positions [`spaced`] apart); [`KERNEL_LANES`] kernels per
/// task, in parallel.
fn untransform_weight_grad(du: &[f32], s: &ConvShape) -> Vec<f32> {
    let pairs = s.c_in * s.c_out;
    par_zeroed(pairs * 9, 9 * KERNEL_LANES, |c, dw| {
        let lanes = dw.len() / 9;
        let mut taps = vec![0.0; 9 * lanes];
        let mut rows: Vec<&mut [f32]> = taps.chunks_exact_mut(lanes).collect();
        let du = (&du[c * KERNEL_LANES..], spaced(pairs));
        sandwich::<KernelAdjoint, _, 3, ALPHA>(du, &mut rows, lanes);
        for (lane, dw) in dw.chunks_exact_mut(9).enumerate() {
            for (k, d) in dw.iter_mut().enumerate() {
                *d = taps[k * lanes + lane];
            }
        }
    })
}

/// The chunks of the tile rows of `samples` samples, [`chunk_rows`] rows each (the last fewer).
fn chunks(s: &ConvShape, samples: usize, min_tiles: usize) -> impl Iterator<Item = Chunk<'_>> {
    let (rows, per_chunk) = (samples * grid(s).0, chunk_rows(s, min_tiles));
    (0..rows).step_by(per_chunk).map(move |r0| Chunk {
        s,
        rows: r0..(r0 + per_chunk).min(rows),
    })
}

/// Values per channel of a transformed operand: 36 positions [`Chunk::stride`] apart, for the
/// largest chunk of `samples` samples.
fn channel_block(s: &ConvShape, samples: usize, min_tiles: usize) -> usize {
    let (th, tw) = grid(s);
    POSITIONS * spaced(chunk_rows(s, min_tiles).min(samples * th) * tw)
}

/// `V[ξ, t]` of input channel `i` of the chunk into `v`.
fn transform_input(chunk: &Chunk<'_>, x: &[f32], i: usize, v: &mut [f32], simd: Option<Avx512>) {
    let data = (x, planes(chunk.s, (i, chunk.s.c_in)));
    let out = (v, chunk.stride());
    chunk.for_each_segment(&mut TilesPass::<InputTiles, ALPHA>::new(data, out, simd));
}

/// The samples of `x` (a whole number of them) into `out`, with the transformed kernel `u`.
fn forward_group(
    x: &[f32],
    (u, epilogue): (&[f32], Epilogue<'_>),
    s: &ConvShape,
    out: &mut [MaybeUninit<f32>],
    par: Parallelism,
) {
    let simd = Avx512::detect();
    let samples = x.len() / (s.c_in * s.plane());
    let block = channel_block(s, samples, FORWARD_CHUNK_TILES);
    let u_stride = spaced(s.c_out * s.c_in);
    with_scratch(block * (s.c_in + s.c_out), |buf| {
        let (inputs, outputs) = buf.split_at_mut(block * s.c_in);
        for chunk in chunks(s, samples, FORWARD_CHUNK_TILES) {
            let (tiles, stride) = (chunk.tiles(), chunk.stride());
            for (i, v) in inputs.chunks_mut(block).enumerate() {
                transform_input(&chunk, x, i, v, simd);
            }
            for xi in 0..POSITIONS {
                let dst = Destination {
                    data: &mut outputs[xi * stride..],
                    row_stride: block,
                    accumulate: false,
                };
                let lhs = Operand::rows(&u[xi * u_stride..], s.c_in);
                let rhs = Operand::rows(&inputs[xi * stride..], block);
                matmul((s.c_out, tiles, s.c_in), dst, lhs, rhs, par);
            }
            for (o, m) in outputs.chunks(block).enumerate() {
                let bias = epilogue.bias.map_or(0.0, |b| b[o]);
                let m = (m, stride);
                let out = (&mut *out, planes(s, (o, s.c_out)));
                let act = epilogue.act;
                let mut pass = OutputPass {
                    m,
                    bias,
                    act,
                    out,
                    simd,
                };
                chunk.for_each_segment(&mut pass);
            }
        }
    });
}

/// `y = act(conv(x, weight) + bias)` (see [`super::kernels::forward`]).
pub fn forward(x: &[f32], weight: &[f32], epilogue: Epilogue<'_>, s: &ConvShape) -> Vec<f32> {
    let u = transform_kernel(weight);
    let (in_len, out_len) = (s.c_in * s.plane(), s.c_out * s.plane());
    let threads = rayon::current_num_threads();
    // Groups of samples in parallel, or one sample at a time with the GEMMs in parallel.
    let parallel = s.batch >= threads;
    let (per, par) = if parallel {
        (s.batch.div_ceil(threads), Parallelism::None)
    } else {
        (1, Parallelism::Rayon(0))
    };
    let group = |g: usize, out: &mut [MaybeUninit<f32>]| {
        let x = &x[g * per * in_len..][..out.len() / out_len * in_len];
        forward_group(x, (&u, epilogue), s, out, par)
    };
    #[allow(unsafe_code)]
    // SAFETY: a group's output blocks cover every pixel of every output channel of its samples
    // (the tiles cover the planes, `segments::output` clips only what lies past their edges),
    // and `OutputPass` writes each of them.
    unsafe {
        written_by(s.batch * out_len, per * out_len, parallel, group)
    }
}

/// `dL/dweight[c_out, c_in, 3, 3]` from the layer input `x` and `dy` (see
/// [`super::kernels::weight_grad`]).
///
/// `dU_ξ[c_out, c_in] += (A dY Aᵀ)_ξ[c_out, T] · V_ξ[c_in, T]ᵀ` chunk by chunk. Within a chunk the
/// transforms run in parallel over channels and the 36 GEMMs over positions, each position's sum
/// in one GEMM per chunk, so the result does not depend on the thread count and small batches
/// keep every thread busy.
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let du_stride = spaced(s.c_out * s.c_in);
    let mut du = par_zeros(POSITIONS * du_stride, du_stride);
    let block = channel_block(s, s.batch, WEIGHT_GRAD_CHUNK_TILES);
    let mut inputs = par_zeros(s.c_in * block, block);
    let mut grads = par_zeros(s.c_out * block, block);
    let simd = Avx512::detect();
    for chunk in chunks(s, s.batch, WEIGHT_GRAD_CHUNK_TILES) {
        let (tiles, stride) = (chunk.tiles(), chunk.stride());
        inputs
            .par_chunks_mut(block)
            .enumerate()
            .for_each(|(i, v)| transform_input(&chunk, x, i, v, simd));
        grads.par_chunks_mut(block).enumerate().for_each(|(o, g)| {
            let g = (g, stride);
            let dy = (dy, planes(s, (o, s.c_out)));
            let mut pass = TilesPass::<OutputGradients, M>::new(dy, g, simd);
            chunk.for_each_segment(&mut pass);
        });
        let accumulate = chunk.rows.start > 0;
        du.par_chunks_mut(du_stride)
            .enumerate()
            .for_each(|(xi, du)| {
                // V_ξ transposed to [t, c_in], so that `gemm` reads both operands row-major
                // (packing a column-major operand made these GEMMs up to twice as slow).
                with_scratch(tiles * s.c_in, |v_t| {
                    transpose(&inputs[xi * stride..], block, (s.c_in, tiles), v_t);
                    let dst = Destination {
                        data: du,
                        row_stride: s.c_in,
                        accumulate,
                    };
                    let lhs = Operand::rows(&grads[xi * stride..], block);
                    let rhs = Operand::rows(v_t, s.c_in);
                    matmul((s.c_out, s.c_in, tiles), dst, lhs, rhs, Parallelism::None);
                })
            });
    }
    untransform_weight_grad(&du, s)
}
