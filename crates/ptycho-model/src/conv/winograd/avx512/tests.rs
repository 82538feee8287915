//! The AVX-512 transforms (input tiles, output blocks, output-gradient tiles) against the
//! portable ones, on every kind of segment: a group per vector with and without neighbours, a
//! ragged last group, groups of 8 and 4 whole rows, rows past the plane's foot, and the widths
//! the kernels leave to the portable code.

use std::mem::MaybeUninit;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::super::super::kernels::{Activation, ConvShape};
use super::super::segments::{InputTiles, OutputGradients, TileTransform};
use super::super::{
    ALPHA, FORWARD_CHUNK_TILES, M, OutputPass, TilesPass, channel_block, chunks, planes,
};
use super::*;

/// `(batch, height, width)`: widths 64 (one group of 16 per row), 128 (two, with edges), 70
/// (a ragged second group), 32 and 16 (groups of 8 and 4), 8 and 20 (portable only); heights
/// that are not a multiple of 4 leave tile rows that reach past the plane.
const PLANES: [(usize, usize, usize); 7] = [
    (3, 64, 64),
    (2, 18, 128),
    (2, 10, 70),
    (3, 32, 32),
    (5, 14, 16),
    (3, 8, 8),
    (2, 12, 20),
];

fn random_values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn shape((batch, height, width): (usize, usize, usize)) -> ConvShape {
    ConvShape {
        batch,
        c_in: 2,
        c_out: 3,
        height,
        width,
        kernel: 3,
    }
}

/// The CPU's kernels, or `None` (with a note) on a CPU without AVX-512F.
fn simd() -> Option<Avx512> {
    let simd = Avx512::detect();
    if simd.is_none() {
        eprintln!("this CPU has no AVX-512F: only the portable transforms run here");
    }
    simd
}

fn assert_close(simd: &[f32], portable: &[f32], what: &str) {
    assert_eq!(simd.len(), portable.len());
    let scale = portable.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (k, (a, b)) in simd.iter().zip(portable).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{what}: value {k} is {a} on AVX-512, {b} portable"
        );
    }
}

/// Every chunk's transform positions (by `X`) of the `channels` channels of `data`, channel by
/// channel, with the kernels `simd`.
fn transformed<X: TileTransform<K>, const K: usize>(
    s: &ConvShape,
    (data, channels): (&[f32], usize),
    simd: Option<Avx512>,
) -> Vec<f32> {
    let block = channel_block(s, s.batch, FORWARD_CHUNK_TILES);
    let mut all = Vec::new();
    for chunk in chunks(s, s.batch, FORWARD_CHUNK_TILES) {
        let mut v = vec![0.0; channels * block];
        for (c, v) in v.chunks_mut(block).enumerate() {
            let data = (data, planes(s, (c, channels)));
            let out = (v, chunk.stride());
            chunk.for_each_segment(&mut TilesPass::<X, K>::new(data, out, simd));
        }
        all.extend(v);
    }
    all
}

/// The output planes of channel 1 from every chunk's transform positions `m`, with the kernels
/// `simd`; pixels no pass writes stay NaN.
fn output_planes(s: &ConvShape, m: &[f32], act: Activation, simd: Option<Avx512>) -> Vec<f32> {
    let mut out = vec![MaybeUninit::new(f32::NAN); s.batch * s.c_out * s.plane()];
    for chunk in chunks(s, s.batch, FORWARD_CHUNK_TILES) {
        let mut pass = OutputPass {
            m: (m, chunk.stride()),
            bias: 0.25,
            act,
            out: (&mut out, planes(s, (1, s.c_out))),
            simd,
        };
        chunk.for_each_segment(&mut pass);
    }
    let plane = s.plane();
    let channel = out.chunks(plane).skip(1).step_by(s.c_out);
    channel.flatten().map(|v| initialised(*v)).collect()
}

/// The value of an element this test created initialised.
fn initialised(v: MaybeUninit<f32>) -> f32 {
    #[allow(unsafe_code)]
    // SAFETY: every element was created with `MaybeUninit::new` (and maybe written since).
    unsafe {
        v.assume_init()
    }
}

#[test]
fn input_tiles_match_the_portable_transform() {
    let Some(simd) = simd() else { return };
    for (k, &p) in PLANES.iter().enumerate() {
        let s = shape(p);
        let x = random_values(s.batch * s.c_in * s.plane(), k as u64);
        let x = (&x[..], s.c_in);
        let fast = transformed::<InputTiles, ALPHA>(&s, x, Some(simd));
        let portable = transformed::<InputTiles, ALPHA>(&s, x, None);
        assert_close(&fast, &portable, &format!("input tiles of {p:?}"));
        assert!(fast.iter().any(|v| *v != 0.0), "{p:?}: nothing transformed");
    }
}

#[test]
fn output_blocks_match_the_portable_transform_and_cover_the_plane() {
    let Some(simd) = simd() else { return };
    for (k, &p) in PLANES.iter().enumerate() {
        let s = shape(p);
        let m = random_values(
            channel_block(&s, s.batch, FORWARD_CHUNK_TILES) * 2,
            100 + k as u64,
        );
        for act in [Activation::Identity, Activation::Relu] {
            let fast = output_planes(&s, &m, act, Some(simd));
            let portable = output_planes(&s, &m, act, None);
            assert!(
                fast.iter().all(|v| !v.is_nan()),
                "{p:?}: a pixel left unwritten"
            );
            assert_close(&fast, &portable, &format!("output of {p:?} with {act:?}"));
            if act == Activation::Relu {
                assert!(fast.iter().all(|v| *v >= 0.0 && v.is_sign_positive()));
            }
        }
    }
}

#[test]
fn the_kernels_take_the_segments_they_were_written_for() {
    let rows = [(0, 0)];
    let seg = |tx0| Segment {
        rows: &rows,
        tx0,
        n: 16,
        t: 0,
    };
    assert!(Avx512::suits::<16, 16>(&seg(0), 64));
    assert!(Avx512::suits::<16, 16>(&seg(16), 128));
    assert!(Avx512::suits::<16, 8>(&seg(0), 32));
    assert!(Avx512::suits::<16, 4>(&seg(0), 16));
    // Groups narrower than a vector must hold whole rows, whose edges are the padding.
    assert!(!Avx512::suits::<16, 4>(&seg(0), 20));
    assert!(!Avx512::suits::<16, 2>(&seg(0), 8));
    assert!(!Avx512::suits::<8, 8>(&seg(0), 20));
}

#[test]
fn gradient_tiles_match_the_portable_transform() {
    let Some(simd) = simd() else { return };
    for (k, &p) in PLANES.iter().enumerate() {
        let s = shape(p);
        let dy = random_values(s.batch * s.c_out * s.plane(), 200 + k as u64);
        let dy = (&dy[..], s.c_out);
        let fast = transformed::<OutputGradients, M>(&s, dy, Some(simd));
        let portable = transformed::<OutputGradients, M>(&s, dy, None);
        assert_close(&fast, &portable, &format!("gradient tiles of {p:?}"));
        assert!(fast.iter().any(|v| *v != 0.0), "{p:?}: nothing transformed");
    }
}
